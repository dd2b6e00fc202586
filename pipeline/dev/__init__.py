"""Developer tools that are not part of the shipped model: the sample generator and the
notebooks' helpers. `package.py` leaves this folder out of the registered model's code copy."""
