"""UCI Adult (census income) as a pandas DataFrame: 14 features and ``income`` (0/1).

Expected layout (under ``root``, or ``$EVOXPLAIN_DATA``; gzipped or not)::

    adult/
        adult.data.gz     32,561 training rows
        adult.test.gz     16,281 test rows (first line "|1x3 Cross validator", labels end in ".")

Missing values (written ``?`` in workclass, occupation and native-country) become the category
``"Unknown"`` by default, so every row is kept (48,842 in all, as in the exemplar paper);
``missing="drop"`` drops those rows instead (45,222 left) and ``missing="keep"`` leaves NaN.

Example:
    >>> df = load_adult("train")        # $EVOXPLAIN_DATA/adult/adult.data.gz
    >>> df.shape, float(df["income"].mean().round(3))
    ((32561, 15), 0.241)
    >>> ADULT_CLASSES[df["income"][7]]
    '>50K'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from evoxplain.errors import InvalidInputError

from ._paths import DatasetFormatError, find_dataset, find_file

ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
ADULT_CATEGORICAL = [
    "workclass", "education", "marital-status", "occupation",
    "relationship", "race", "sex", "native-country",
]  # fmt: skip
ADULT_FEATURES = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
]  # fmt: skip
ADULT_TARGET = "income"
ADULT_CLASSES = ["<=50K", ">50K"]  # income 0 and 1
UNKNOWN = "Unknown"

_FILES = {"train": "adult.data.gz", "test": "adult.test.gz"}
_ROWS = {"train": 32561, "test": 16281}


def load_adult(
    split: Literal["train", "test"] = "train",
    root: str | Path | None = None,
    *,
    missing: Literal["unknown", "drop", "keep"] = "unknown",
    download: bool = False,
):
    """Load a split of UCI Adult: the 14 feature columns (original names) and ``income``.

    Numeric columns are int64; categorical columns are strings with surrounding spaces
    stripped; ``income`` is 0 for ``<=50K`` and 1 for ``>50K`` (the test file's trailing ``.``
    removed; names in :data:`ADULT_CLASSES`).

    Args:
        split: ``"train"`` (adult.data, 32,561 rows) or ``"test"`` (adult.test, 16,281 rows).
        root: a folder holding the files, or one containing ``adult/``; defaults to
            ``$EVOXPLAIN_DATA/adult``.
        missing: what to do with ``?``: ``"unknown"`` (the category ``"Unknown"``, every row
            kept), ``"drop"`` (drop the rows) or ``"keep"`` (NaN).
        download: fetch the dataset into the cache (``evoxplain data download``) if it is found nowhere.

    Raises:
        DatasetNotFoundError: the files are not there (the message lists where it looked).
        DatasetFormatError: a file is not the Adult CSV (columns, values or labels).

    Example:
        >>> test = load_adult("test")
        >>> list(test.columns[:3]), len(test)
        (['age', 'workclass', 'fnlwgt'], 16281)
    """
    import pandas as pd

    if split not in _FILES:
        raise InvalidInputError(f"split must be 'train' or 'test', not {split!r}")
    if missing not in ("unknown", "drop", "keep"):
        raise InvalidInputError(f"missing must be 'unknown', 'drop' or 'keep', not {missing!r}")
    folder = find_dataset(
        "adult",
        list(_FILES.values()),
        root,
        fix="The files are UCI's adult.data and adult.test (gzipped or not).",
        download=download,
    )
    path = find_file(folder, _FILES[split])
    columns = [*ADULT_FEATURES, ADULT_TARGET]
    try:
        df = pd.read_csv(
            path,
            header=None,
            names=columns,
            skiprows=1 if split == "test" else 0,
            skipinitialspace=True,
            na_values="?",
            dtype={c: str for c in [*ADULT_CATEGORICAL, ADULT_TARGET]},
            engine="c",
        )
    except (OSError, EOFError, ValueError) as err:  # pandas' ParserError is a ValueError
        raise DatasetFormatError(
            f"cannot read {path} as the Adult CSV: {err}. Replace it with the original file."
        ) from err
    _check(df, path, split)
    labels = df[ADULT_TARGET].str.rstrip(".")
    df[ADULT_TARGET] = (labels == ADULT_CLASSES[1]).astype(np.int64)
    df[ADULT_NUMERIC] = df[ADULT_NUMERIC].astype(np.int64)
    if missing == "unknown":
        df[ADULT_CATEGORICAL] = df[ADULT_CATEGORICAL].fillna(UNKNOWN)
    elif missing == "drop":
        df = df.dropna(subset=ADULT_CATEGORICAL).reset_index(drop=True)
    return df


def _check(df, path: Path, split: str) -> None:
    """Raise :class:`DatasetFormatError` unless ``df`` looks like the Adult split."""
    problem = ""
    numeric = df[ADULT_NUMERIC]
    labels = df[ADULT_TARGET].str.rstrip(".")
    if len(df) != _ROWS[split]:
        problem = f"{len(df)} rows where UCI's file has {_ROWS[split]}"
    elif df[ADULT_FEATURES[-1]].isna().all() or not all(np.issubdtype(dtype, np.number) for dtype in numeric.dtypes):
        problem = "non-numeric values in a numeric column (wrong number or order of columns)"
    elif numeric.isna().any().any():
        problem = "missing values in a numeric column"
    elif not labels.isin(ADULT_CLASSES).all():
        bad = sorted(set(labels[~labels.isin(ADULT_CLASSES)].astype(str)))[:3]
        problem = f"income labels {bad} other than {ADULT_CLASSES}"
    if problem:
        raise DatasetFormatError(
            f"{path} is not the Adult {split} file: {problem}. Replace it with the original "
            f"adult.{'data' if split == 'train' else 'test'} from UCI."
        )
