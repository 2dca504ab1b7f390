"""The subsets the benchmarks use, built from the public originals by seeded rules.

**IMDB** (:func:`build_imdb_subset`), from the Large Movie Review Dataset v1.0
(``aclImdb_v1.tar.gz``): for each split (train, test) and polarity (neg, then pos), the review
files ``<id>_<rating>.txt`` sorted by id, ``DataFrame.sample(n=2500, random_state=0)``; the two
polarities concatenated (neg first) and shuffled with ``sample(frac=1, random_state=0)``. Columns
``id``, ``rating``, ``label`` (1 = pos) and ``text`` (the raw review); written as
``imdb_<split>_5k.csv.gz`` with ``to_csv(index=False)``.

**FER2013** (:func:`build_fer_subset`), from the Kaggle image-folder copy of FER2013
(``train/<class>/Training_*.jpg``, ``test/<class>/{PublicTest,PrivateTest}_*.jpg``): for each split
and class, the file names sorted, indices drawn by ``np.random.default_rng(0).choice(n,
size=min(cap, n), replace=False)`` (a new generator per class) and sorted; caps 1000 (train) and
200 (test). Classes in FER2013's label order (:data:`FER2013_CLASSES`); images decoded to 48×48
uint8 grayscale. Written as ``fer2013_subset.npz`` (``X_train``, ``y_train``, ``files_train``,
``X_test``, ``y_test``, ``files_test``, ``class_names``).

Example:
    >>> frame = imdb_rule(pd.DataFrame({"id": range(10)}), n=3)      # one polarity of one split
    >>> frame["id"].tolist()
    [2, 8, 4]
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ._paths import DatasetFormatError
from .fer import FER2013_CLASSES

IMDB_PER_POLARITY = 2500
FER_CAPS = {"train": 1000, "test": 200}
_REVIEW = re.compile(r"^(?:.*/)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_FACE = re.compile(r"^(?:.*/)?(train|test)/([a-z]+)/((?:Training|PublicTest|PrivateTest)_\d+\.jpg)$")


def imdb_rule(frame: pd.DataFrame, n: int = IMDB_PER_POLARITY) -> pd.DataFrame:
    """The reviews one polarity of one split keeps: sorted by id, ``sample(n, random_state=0)``."""
    return frame.sort_values("id", kind="stable").reset_index(drop=True).sample(n=n, random_state=0)


def build_imdb_subset(archive: Path, folder: Path, n: int = IMDB_PER_POLARITY) -> list[Path]:
    """Write ``imdb_train_5k.csv.gz`` and ``imdb_test_5k.csv.gz`` under ``folder`` from the
    ``aclImdb_v1.tar.gz`` at ``archive`` (the rule in the module docstring; ``n`` per polarity)."""
    rows: dict[tuple[str, str], list[dict]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            match = _REVIEW.match(member.name) if member.isfile() else None
            if match is None:
                continue
            split, polarity, review_id, rating = match.groups()
            text = tar.extractfile(member).read().decode("utf-8")
            rows.setdefault((split, polarity), []).append(
                {"id": int(review_id), "rating": int(rating), "label": int(polarity == "pos"), "text": text}
            )
    written = []
    for split in ("train", "test"):
        parts = []
        for polarity in ("neg", "pos"):
            found = rows.get((split, polarity), [])
            if len(found) < n:
                raise DatasetFormatError(
                    f"{archive.name} holds {len(found)} {split}/{polarity} reviews, fewer than the {n} the subset "
                    "takes: it is not the Large Movie Review Dataset v1.0"
                )
            parts.append(imdb_rule(pd.DataFrame(found), n))
        subset = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=0)
        path = folder / f"imdb_{split}_5k.csv.gz"
        subset.to_csv(path, index=False, compression={"method": "gzip", "mtime": 0})
        written.append(path)
    return written


def fer_rule(names: list[str], cap: int) -> list[str]:
    """The files one class of one split keeps: sorted, ``default_rng(0).choice``, sorted again.

    Example:
        >>> fer_rule(["c.jpg", "a.jpg", "b.jpg"], cap=2)
        ['b.jpg', 'c.jpg']
    """
    ordered = sorted(names)
    picked = np.random.default_rng(0).choice(len(ordered), size=min(cap, len(ordered)), replace=False)
    return [ordered[i] for i in sorted(picked)]


def build_fer_subset(archive: Path, folder: Path, caps: dict[str, int] | None = None) -> list[Path]:
    """Write ``fer2013_subset.npz`` under ``folder`` from a zip of the FER2013 image folders at
    ``archive`` (the rule in the module docstring; ``caps`` per split)."""
    from PIL import Image

    caps = caps or FER_CAPS
    arrays: dict[str, np.ndarray] = {"class_names": np.array(FER2013_CLASSES)}
    with zipfile.ZipFile(archive) as zipped:
        members: dict[tuple[str, str], dict[str, str]] = {}
        for name in zipped.namelist():
            match = _FACE.match(name)
            if match and match.group(2) in FER2013_CLASSES:
                split, label, file = match.groups()
                members.setdefault((split, label), {})[f"{split}/{label}/{file}"] = name
        for split in ("train", "test"):
            images, labels, files = [], [], []
            for index, label in enumerate(FER2013_CLASSES):
                pool = members.get((split, label), {})
                if not pool:
                    raise DatasetFormatError(f"{archive.name} has no {split}/{label}/ images: it is not FER2013")
                for file in fer_rule(list(pool), caps[split]):
                    with Image.open(io.BytesIO(zipped.read(pool[file]))) as face:
                        images.append(np.asarray(face.convert("L").resize((48, 48)), dtype=np.uint8))
                    labels.append(index)
                    files.append(file)
            arrays[f"X_{split}"] = np.stack(images)
            arrays[f"y_{split}"] = np.array(labels, dtype=np.int64)
            arrays[f"files_{split}"] = np.array(files)
    path = folder / "fer2013_subset.npz"
    np.savez_compressed(path, **arrays)
    return [path]
