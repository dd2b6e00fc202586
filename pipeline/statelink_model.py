"""MLflow models-from-code entry point: MLflow imports this file to load the model.

Importing it registers the model with MLflow (that is the models-from-code contract); the
package itself never imports this module.
"""

from __future__ import annotations

import mlflow.pyfunc
from mlflow.models import set_model


class StatelinkModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pipeline.serving import load_bundle

        self.bundle = load_bundle(dict(context.artifacts))

    def predict(self, context, model_input, params=None):
        from pipeline.serving import score_frame

        return score_frame(model_input, self.bundle)


set_model(StatelinkModel())
