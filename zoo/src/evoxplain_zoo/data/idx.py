"""MNIST and Fashion-MNIST from their gzip IDX files.

Both return ``(images, labels)``: a float32 tensor ``(N, 1, 28, 28)`` with values in [0, 1] and
an int64 tensor ``(N,)``. See :func:`~evoxplain_zoo.data._paths.find_dataset` for where the files are
looked for (``root=``, then ``$EVOXPLAIN_DATA``; for Fashion-MNIST also Debian's
``/usr/share/datasets/fashion-mnist/`` from ``apt-get install dataset-fashion-mnist``).

Example:
    >>> images, labels = load_mnist("test")   # $EVOXPLAIN_DATA/mnist/t10k-*.gz, or pass root=
    >>> images.shape, images.dtype, labels[:5]
    (torch.Size([10000, 1, 28, 28]), torch.float32, tensor([7, 2, 1, 0, 4]))
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from evoxplain.errors import InvalidInputError

from ._paths import DatasetFormatError, find_dataset, find_file

Split = Literal["train", "test"]

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzip-compressed if its name ends in ``.gz``) into a numpy array.

    Example:
        >>> folder = find_dataset("mnist", ["t10k-labels-idx1-ubyte.gz"], root=None)
        >>> read_idx(folder / "t10k-labels-idx1-ubyte.gz").shape
        (10000,)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DatasetFormatError(f"cannot read {path}: {err}. Replace the file with a fresh copy.") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DatasetFormatError(f"{path} is not an IDX file (bad magic number); replace it with the original file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetFormatError(
            f"{path} holds {len(data)} bytes where its header {shape} promises {expected}; the file "
            "is truncated or corrupt: replace it with the original file"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _load(name: str, split: str, root: str | Path | None, *, system: bool, fix: str, download: bool):
    if split not in _FILES:
        raise InvalidInputError(f"split must be 'train' or 'test', not {split!r}")
    image_file, label_file = _FILES[split]
    folder = find_dataset(name, _FILES[split], root, system=system, fix=fix, download=download)
    images = read_idx(find_file(folder, image_file))
    labels = read_idx(find_file(folder, label_file))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetFormatError(
            f"{folder} holds images of shape {images.shape} and labels of shape {labels.shape}; "
            "expected (N, 28, 28) and (N,): the files are mismatched, replace them with the originals"
        )
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def load_mnist(
    split: Split = "train", root: str | Path | None = None, *, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST: images ``(N, 1, 28, 28)`` float32 in [0, 1] and labels ``(N,)`` int64.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: a folder holding the four IDX files, or one containing ``mnist/`` with them;
            defaults to ``$EVOXPLAIN_DATA/mnist``.
        download: fetch the dataset into the cache (``evoxplain data download``) if it is found nowhere.

    Raises:
        DatasetNotFoundError: the files are not there (the message lists where it looked).

    Example:
        >>> x, y = load_mnist("test")          # with EVOXPLAIN_DATA=/path/containing/mnist
        >>> x.shape, y.shape
        (torch.Size([10000, 1, 28, 28]), torch.Size([10000]))
    """
    return _load(
        "mnist",
        split,
        root,
        system=False,
        fix="The four files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) are those of the MNIST database.",
        download=download,
    )


def load_fashion_mnist(
    split: Split = "train", root: str | Path | None = None, *, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load Fashion-MNIST: images ``(N, 1, 28, 28)`` float32 in [0, 1] and labels ``(N,)`` int64.

    Looks in ``root`` (a folder holding the files, or containing ``fashion-mnist/``), else in
    ``$EVOXPLAIN_DATA/fashion-mnist``, else in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package), else in the download cache; ``download=True`` fetches it
    there if it is found nowhere. Class names are in :data:`FASHION_MNIST_CLASSES`.

    Example:
        >>> x, y = load_fashion_mnist("test")   # after: apt-get install dataset-fashion-mnist
        >>> FASHION_MNIST_CLASSES[int(y[0])]
        'Ankle boot'
    """
    return _load(
        "fashion-mnist",
        split,
        root,
        system=root is None,
        fix="On Debian or Ubuntu: apt-get install dataset-fashion-mnist (installs to "
        "/usr/share/datasets/fashion-mnist).",
        download=download,
    )
