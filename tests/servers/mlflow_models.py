"""Writes the MLflow models the tests serve (run with the mlflow venv's Python):

    python mlflow_models.py FOREST_JOBLIB OUT_FOLDER

``OUT_FOLDER/forest``: the scikit-learn forest, scored with ``predict_proba``;
``OUT_FOLDER/keywords``: the keyword text model (:class:`served_models.KeywordModel`) as a pyfunc
saved from code (``mlflow_keywords.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import mlflow.pyfunc
import mlflow.sklearn

HERE = Path(__file__).resolve().parent


if __name__ == "__main__":
    forest_file, out = Path(sys.argv[1]), Path(sys.argv[2])
    mlflow.sklearn.save_model(
        joblib.load(forest_file),
        out / "forest",
        pyfunc_predict_fn="predict_proba",
        skops_trusted_types=["sklearn.tree._tree.Tree"],  # the forest the tests trained
    )
    mlflow.pyfunc.save_model(
        out / "keywords", python_model=str(HERE / "mlflow_keywords.py"), code_paths=[str(HERE / "served_models.py")]
    )
