"""The datasets ``evoxplain data download NAME`` fetches: where the originals are, their checksums,
and how the benchmarks' subsets are built from them.

A dataset lands in the cache (:func:`~.download.cache_root`) as ``<cache>/<name>/``, laid out as
the loaders read it (the layout of a shared data folder too, so such a folder can serve as a
mirror: ``--mirror URL`` fetches ``URL/<name>/<file>`` instead of the originals). Every file is
checked against its content checksum (:func:`~.download.content_digest`) before it is kept.

Example:
    >>> sorted(DATASETS)
    ['adult', 'fashion-mnist', 'fer2013', 'imagenet_samples', 'imdb', 'mnist']
    >>> DATASETS["mnist"].files[0].name
    'train-images-idx3-ubyte.gz'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from pathlib import Path

from evoxplain.errors import InvalidInputError

from .download import cache_root, content_digest, fetch, gzip_file, staging, verify
from .subsets import build_fer_subset, build_imdb_subset


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    Attributes:
        name: its name in the dataset's folder.
        digest: ``"sha256:<hex>"`` of its content (:func:`~.download.content_digest`).
        url: where the original is; None when the dataset's ``build`` makes it.
        compress: the original is served uncompressed: gzip it into ``name`` (which ends ``.gz``).
    """

    name: str
    digest: str
    url: str | None = None
    compress: bool = False


@dataclass(frozen=True)
class Source:
    """An archive a dataset's subset is built from, and its checksum (of the bytes as served) when
    the archive is byte-stable (None: only the built files are checked)."""

    url: str
    checksum: str | None
    name: str


@dataclass(frozen=True)
class Dataset:
    """A dataset: its files, and for a subset the archive and the rule that builds it."""

    name: str
    description: str
    origin: str
    files: tuple[DataFile, ...]
    source: Source | None = None
    build: Callable[[Path, Path], list[Path]] | None = field(default=None, compare=False)

    def folder(self, cache: str | Path | None = None) -> Path:
        """Where the dataset is (or will be) in the cache."""
        return cache_root(cache) / self.name

    def cached(self, cache: str | Path | None = None) -> bool:
        """Whether every file is in the cache (checked when downloaded, not again here)."""
        return all((self.folder(cache) / f.name).is_file() for f in self.files)


UCI_ADULT = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult"
ADULT_DATA = "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"
ADULT_TEST = "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"
FER_ARRAYS = "6eb04ec2113bdc3e978b8bec182ba698dd20c59f48ba46a7d5cb2717868540fd"


def _idx(base: str, digests: dict[str, str]) -> tuple[DataFile, ...]:
    return tuple(DataFile(name, f"sha256:{digest}", f"{base}/{name}") for name, digest in digests.items())


def _imagenet_files() -> tuple[DataFile, ...]:
    base = "https://raw.githubusercontent.com/EliSchwartz/imagenet-sample-images/master"
    listing = package_files("evoxplain_zoo.data").joinpath("imagenet_samples.sha256").read_text()
    images = [line.split() for line in listing.splitlines() if line.strip()]
    index = DataFile(
        "imagenet_class_index.json",
        "sha256:a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",
        "https://raw.githubusercontent.com/marcotcr/lime/master/doc/notebooks/data/imagenet_class_index.json",
    )
    return (index, *(DataFile(f"images/{name}", f"sha256:{digest}", f"{base}/{name}") for digest, name in images))


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "mnist",
            "MNIST digits: 60,000 train and 10,000 test images, 28×28",
            "the MNIST database (LeCun, Cortes, Burges); the mirror torchvision uses",
            _idx(
                "https://ossci-datasets.s3.amazonaws.com/mnist",
                {
                    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                },
            ),
        ),
        Dataset(
            "fashion-mnist",
            "Fashion-MNIST clothes: 60,000 train and 10,000 test images, 28×28",
            "Zalando Research (Xiao, Rasul, Vollgraf 2017), MIT licence",
            _idx(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
                {
                    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                },
            ),
        ),
        Dataset(
            "adult",
            "UCI Adult census income: 32,561 train and 16,281 test rows",
            "UCI Machine Learning Repository (Becker, Kohavi 1996), CC BY 4.0",
            (
                DataFile("adult.data.gz", f"sha256:{ADULT_DATA}", f"{UCI_ADULT}/adult.data", compress=True),
                DataFile("adult.test.gz", f"sha256:{ADULT_TEST}", f"{UCI_ADULT}/adult.test", compress=True),
            ),
        ),
        Dataset(
            "imdb",
            "IMDB reviews: 5,000 train and 5,000 test, half positive (a seeded subset)",
            "Large Movie Review Dataset v1.0 (Maas et al. 2011); subset rule in evoxplain_zoo.data.subsets",
            (
                DataFile(
                    "imdb_train_5k.csv.gz", "sha256:d504e9082ad909827f760b047686e6b9bf31cb905e06f58b7d26359c9622737b"
                ),
                DataFile(
                    "imdb_test_5k.csv.gz", "sha256:49e1f715e4905a1b512ac68d40602cd4656aa5176f41fc17e6a36f87562d3e29"
                ),
            ),
            Source(
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "md5:7c2ac02c03563afcf9b574c7e56c153a",
                "aclImdb_v1.tar.gz",
            ),
            build_imdb_subset,
        ),
        Dataset(
            "fer2013",
            "FER2013 faces: 6,436 train and 1,311 test, 48×48 (a seeded subset)",
            "FER2013 (Goodfellow et al. 2013), the Kaggle image-folder copy kept on GitHub; subset rule in "
            "evoxplain_zoo.data.subsets",
            (DataFile("fer2013_subset.npz", f"sha256:{FER_ARRAYS}"),),
            # GitHub makes the archive on request, so its bytes are not guaranteed: the built arrays are checked
            Source("https://github.com/RecepTahirGunlu/Duygu-Tanima/archive/8041c66.zip", None, "fer2013-images.zip"),
            build_fer_subset,
        ),
        Dataset(
            "imagenet_samples",
            "125 ImageNet photos, one for every 8th class, and the class index",
            "ILSVRC (non-commercial research use); photos from GitHub EliSchwartz/imagenet-sample-images",
            _imagenet_files(),
        ),
    ]
}


def dataset(name: str) -> Dataset:
    """The dataset called ``name``, or an error listing the names there are."""
    if name not in DATASETS:
        raise InvalidInputError(f"unknown dataset {name!r}; the datasets are: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def download(
    name: str | Dataset,
    cache: str | Path | None = None,
    *,
    mirror: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> list[Path]:
    """Fetch a dataset into the cache (see the module docstring) and return its files.

    Already cached: nothing is fetched (``force``: fetch again). Each file is fetched from its
    original URL, or ``mirror/<name>/<file>``; a subset is built from its source archive; every
    file is checked before the dataset is moved into place, so a failure keeps nothing.

    Raises:
        DownloadError: a file could not be fetched.
        ChecksumError: a file is not what its checksum says.
    """
    entry = dataset(name) if isinstance(name, str) else name
    folder = entry.folder(cache)
    if entry.cached(cache) and not force:
        return [folder / f.name for f in entry.files]
    mirror = mirror or os.environ.get("EVOXPLAIN_DATA_MIRROR")
    with staging(cache_root(cache)) as scratch:
        if entry.build is not None and mirror is None:
            _build(entry, scratch, progress)
        else:
            for file in entry.files:
                _fetch_file(entry, file, scratch, mirror, progress)
        for file in entry.files:
            verify(scratch / file.name, file.digest)
        for file in entry.files:
            target = folder / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / file.name, target)
    return [folder / f.name for f in entry.files]


def _fetch_file(entry: Dataset, file: DataFile, scratch: Path, mirror: str | None, progress: bool) -> None:
    path = scratch / file.name
    path.parent.mkdir(parents=True, exist_ok=True)
    if mirror is not None:
        fetch(f"{mirror.rstrip('/')}/{entry.name}/{file.name}", path, progress=progress, what=file.name)
    elif file.compress:
        plain = fetch(file.url, path.with_suffix(""), progress=progress, what=file.name)
        gzip_file(plain)
    else:
        fetch(file.url, path, progress=progress, what=file.name)


def _build(entry: Dataset, scratch: Path, progress: bool) -> None:
    source = entry.source
    archive = fetch(source.url, scratch / source.name, progress=progress, what=source.name)
    if source.checksum is not None:
        verify(archive, source.checksum, raw=True)
    entry.build(archive, scratch)
    archive.unlink()


def verify_folder(name: str, folder: str | Path) -> dict[str, bool]:
    """Check a folder that holds dataset ``name`` (a cache entry or a copy elsewhere) file by file:
    ``{file: matches}`` (a missing file is False; a ``.gz`` file may be stored uncompressed).

    Example:
        >>> verify_folder("adult", "no-such-folder")
        {'adult.data.gz': False, 'adult.test.gz': False}
    """
    entry = dataset(name)
    found = {}
    for file in entry.files:
        path = Path(folder) / file.name
        if not path.is_file() and path.suffix == ".gz" and path.with_suffix("").is_file():
            path = path.with_suffix("")
        found[file.name] = path.is_file() and content_digest(path) == file.digest
    return found
