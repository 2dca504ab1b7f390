"""The keyword text model as an MLflow pyfunc, saved as code (MLflow's models from code: no pickle)."""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc
import numpy as np


class Keywords(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        from served_models import KeywordModel, RequestLog

        if hasattr(model_input, "iloc"):  # a DataFrame: its first column
            texts = [str(t) for t in model_input.iloc[:, 0]]
        else:
            texts = [str(t) for t in np.asarray(model_input).reshape(-1)]
        RequestLog("keywords").write(texts)
        return KeywordModel()(texts).tolist()


mlflow.models.set_model(Keywords())
