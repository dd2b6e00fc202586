"""Models: LightGBM on tabular features (and, as they land, the encoder and the ensemble)."""
