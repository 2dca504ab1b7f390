"""Dataset loaders: MNIST, Fashion-MNIST (Debian package) and the ImageNet samples."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch
from evoxplain_zoo.data import (
    DatasetFormatError,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_imagenet_samples,
    load_mnist,
    read_idx,
)

from evoxplain.errors import EvoxplainError, InvalidInputError

FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


def test_mnist_test_split(data_env):
    x, y = load_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert y.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:5].tolist() == [7, 2, 1, 0, 4]


def test_mnist_train_split_and_explicit_roots(data_env, monkeypatch):
    x, y = load_mnist("train")
    assert x.shape == (60000, 1, 28, 28)
    assert y.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert float(x.mean()) == pytest.approx(0.1307, abs=1e-4)
    monkeypatch.delenv("EVOXPLAIN_DATA")
    x2, y2 = load_mnist("test", root=data_env)  # a folder containing mnist/
    x3, _ = load_mnist("test", root=data_env / "mnist")  # the dataset folder itself
    assert torch.equal(x2, x3) and len(y2) == 10000


def test_missing_data_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="EVOXPLAIN_DATA") as info:
        load_mnist("test")
    assert isinstance(info.value, EvoxplainError)
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path)):
        load_mnist("test", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test", root=tmp_path)  # an explicit root is the only place looked in
    monkeypatch.setenv("EVOXPLAIN_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "imagenet_samples")):
        load_imagenet_samples()
    with pytest.raises(InvalidInputError, match="split"):
        load_mnist("validation", root=tmp_path)


def test_corrupt_idx_file(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(folder / name, "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 100)
    with pytest.raises(DatasetFormatError, match="truncated"):
        load_mnist("test", root=tmp_path)
    (folder / "bad.idx").write_bytes(b"not an idx file")
    with pytest.raises(DatasetFormatError, match="magic"):
        read_idx(folder / "bad.idx")


def test_uncompressed_files_are_read(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    images = (
        bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(range(256)) * 6 + bytes(32)
    )
    labels = bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 9])
    (folder / "t10k-images-idx3-ubyte").write_bytes(images)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    x, y = load_mnist("test", root=tmp_path)
    assert x.shape == (2, 1, 28, 28) and y.tolist() == [3, 9]
    assert float(x[0, 0, 0, 1]) == pytest.approx(1 / 255)


def test_fashion_mnist_from_debian(data_env):
    # EVOXPLAIN_DATA (the shared folder) has no fashion-mnist/: the Debian folder is used
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert y.bincount().tolist() == [1000] * 10
    x_train, _ = load_fashion_mnist("train", root=FASHION_SYSTEM)
    assert x_train.shape == (60000, 1, 28, 28)
    assert float(x_train.mean()) == pytest.approx(0.2860, abs=1e-4)


def test_imagenet_samples(data_env):
    samples = load_imagenet_samples(size=224)
    x, y, files, names = samples
    assert x.shape == (125, 3, 224, 224) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert y.dtype == torch.int64 and y.tolist() == list(range(0, 1000, 8))
    assert files[0] == "n01440764_tench.JPEG" and files[-1] == "n12998815_agaric.JPEG"
    assert len(names) == 1000 and names[int(y[0])] == "tench" and names[int(y[-1])] == "agaric"
    small = load_imagenet_samples(data_env, size=32)
    assert small.images.shape == (125, 3, 32, 32)
    with pytest.raises(InvalidInputError, match="size"):
        load_imagenet_samples(size=0)
