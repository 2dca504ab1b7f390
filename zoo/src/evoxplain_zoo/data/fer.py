"""The FER2013 facial-expression subset: 48×48 grayscale faces in 7 emotion classes.

Expected layout (under ``root``, or ``$EVOXPLAIN_DATA``)::

    fer2013/
        fer2013_subset.npz    X_train uint8 (6436, 48, 48), y_train; X_test (1311, 48, 48), y_test;
                              class_names

Train has 1000 faces per class except disgust (436); test 200 per class except disgust (111).

Example:
    >>> x, y, names = load_fer2013("test")     # $EVOXPLAIN_DATA/fer2013/fer2013_subset.npz
    >>> x.shape, x.dtype, names[int(y[0])]
    (torch.Size([1311, 1, 48, 48]), torch.float32, 'angry')
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from evoxplain.errors import InvalidInputError

from ._paths import DatasetFormatError, find_dataset, find_file

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER2013_FILE = "fer2013_subset.npz"
_KEYS = {"train": ("X_train", "y_train"), "test": ("X_test", "y_test")}


def load_fer2013(
    split: Literal["train", "test"] = "train", root: str | Path | None = None, *, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Load a split of the FER2013 subset as tensors.

    Args:
        split: ``"train"`` (6,436 faces) or ``"test"`` (1,311 faces).
        root: a folder holding ``fer2013_subset.npz``, or one containing ``fer2013/``; defaults
            to ``$EVOXPLAIN_DATA/fer2013``.
        download: fetch the dataset into the cache (``evoxplain data download``) if it is found nowhere.

    Returns:
        ``(images, labels, class_names)``: float32 images ``(N, 1, 48, 48)`` in [0, 1], int64
        labels ``(N,)`` in 0-6, and the 7 class names in label order.

    Raises:
        InvalidInputError: ``split`` is neither ``"train"`` nor ``"test"``.
        DatasetNotFoundError: the file is not there (the message lists where it looked).
        DatasetFormatError: the file is not the subset archive described above.

    Example:
        >>> x, y, names = load_fer2013("train")
        >>> torch.bincount(y).tolist()
        [1000, 436, 1000, 1000, 1000, 1000, 1000]
    """
    if split not in _KEYS:
        raise InvalidInputError(f"split must be 'train' or 'test', not {split!r}")
    folder = find_dataset(
        "fer2013",
        [FER2013_FILE],
        root,
        download=download,
    )
    path = find_file(folder, FER2013_FILE)
    x_key, y_key = _KEYS[split]
    try:
        with np.load(path, allow_pickle=False) as archive:
            images, labels = archive[x_key], archive[y_key]
            names = [str(n) for n in archive["class_names"]] if "class_names" in archive else FER2013_CLASSES
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise DatasetFormatError(f"{path} is not the FER2013 subset archive: {err}") from err
    _check(path, images, labels, names)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64)), names


def _check(path: Path, images: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    if images.ndim != 3 or images.shape[1:] != (48, 48) or images.dtype != np.uint8:
        raise DatasetFormatError(f"{path}: images must be uint8 (N, 48, 48), not {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise DatasetFormatError(f"{path}: {len(labels)} labels for {len(images)} images")
    if len(names) != 7 or labels.min(initial=0) < 0 or labels.max(initial=0) > 6:
        raise DatasetFormatError(f"{path}: expected 7 classes with labels 0-6")
