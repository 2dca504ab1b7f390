"""Where the dataset loaders look for their files.

A loader looks, in order, in the ``root`` it is given, in the folder named by the environment
variable ``EVOXPLAIN_DATA``, in the download cache (``evoxplain data download NAME`` puts datasets
there: :func:`~.download.cache_root`), and in the system folders a dataset's Debian package
installs to (``/usr/share/datasets/<name>/``). A loader downloads only when asked
(``download=True``).

Example:
    >>> folder = find_dataset("mnist", ["train-images-idx3-ubyte.gz"], root=None)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from evoxplain.errors import EvoxplainError

from .download import cache_root

ENV_VAR = "EVOXPLAIN_DATA"
SYSTEM_ROOT = Path("/usr/share/datasets")


class DatasetNotFoundError(EvoxplainError, FileNotFoundError):
    """A dataset's files are in none of the places a loader looks; the message lists them."""


class DatasetFormatError(EvoxplainError, ValueError):
    """A dataset file exists but is not what it should be (truncated, wrong format, misnamed)."""


def _has_all(folder: Path, files: Sequence[str]) -> bool:
    return all(_existing(folder, name) is not None for name in files)


def _existing(folder: Path, name: str) -> Path | None:
    """``folder/name``, or ``folder/name`` without ``.gz`` (an uncompressed copy), if present."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_file(folder: Path, name: str) -> Path:
    """The path of ``name`` (gzip or uncompressed) in ``folder``, which must hold it."""
    found = _existing(folder, name)
    if found is None:  # find_dataset checked it; only a race can land here
        raise DatasetNotFoundError(f"{folder / name} disappeared while loading")
    return found


def find_dataset(
    name: str,
    files: Sequence[str],
    root: str | Path | None,
    *,
    system: bool = False,
    fix: str = "",
    download: bool = False,
) -> Path:
    """Return the folder that holds every one of ``files`` for dataset ``name``.

    ``root`` (if given) is the only place looked in: either the dataset's folder itself or a
    folder containing ``name/``. Otherwise ``$EVOXPLAIN_DATA/name``, the download cache and then,
    when ``system``, ``/usr/share/datasets/name``; with ``download``, a dataset found nowhere is
    downloaded into the cache (:func:`~.catalog.download`).

    Raises:
        DatasetNotFoundError: listing every folder looked in, and ``fix``.
    """
    if root is not None:
        candidates = [Path(root) / name, Path(root)]
    else:
        candidates = []
        env = os.environ.get(ENV_VAR)
        if env:
            candidates += [Path(env) / name]
        candidates.append(cache_root() / name)
        if system:
            candidates.append(SYSTEM_ROOT / name)
    for folder in candidates:
        if folder.is_dir() and _has_all(folder, files):
            return folder
    if download and root is None:
        from .catalog import download as fetch_dataset

        fetch_dataset(name)
        return cache_root() / name
    looked = ", ".join(str(c) for c in candidates) or "nowhere"
    if root is None and not os.environ.get(ENV_VAR):
        looked += f" (the environment variable {ENV_VAR} is not set)"
    raise DatasetNotFoundError(
        f"the {name} files ({', '.join(files)}) were not found; looked in: {looked}. "
        f"Download them with: evoxplain data download {name} (or pass download=True), or point "
        f"{ENV_VAR} (the command line's --data) at a folder that contains {name}/."
        f"{(' ' + fix) if fix else ''}"
    )
