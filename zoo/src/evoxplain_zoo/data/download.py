"""Fetching files over HTTP into the data cache: checksums, a progress bar, nothing half-written.

Every file of a dataset has a checksum of its *content* (:func:`content_digest`: the SHA-256 of
the decompressed bytes of a ``.gz`` file, of the arrays of a ``.npz``, else of the bytes), so an
original download, a recompressed copy and a mirror of the same data all verify alike. A download
goes to a staging folder inside the cache; only when every file of the dataset is there and
verified are they moved into place, so a failed or corrupt download leaves nothing behind.

Example:
    >>> _ = Path("a.gz").write_bytes(gzip.compress(b"labels", mtime=0))
    >>> _ = Path("b.gz").write_bytes(gzip.compress(b"labels", compresslevel=1, mtime=1))   # recompressed
    >>> digest = "sha256:" + hashlib.sha256(b"labels").hexdigest()
    >>> content_digest(Path("a.gz")) == content_digest(Path("b.gz")) == digest
    True
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from evoxplain.errors import EvoxplainError, require

CACHE_VAR = "EVOXPLAIN_CACHE"
NPZ_ARRAYS = ("X_train", "y_train", "X_test", "y_test")
_CHUNK = 1 << 20


class DownloadError(EvoxplainError):
    """A file could not be fetched (network, HTTP status); the message names the URL."""


class ChecksumError(EvoxplainError):
    """A fetched or built file is not what its checksum says; it was not kept."""


def cache_root(cache: str | Path | None = None) -> Path:
    """The data cache: ``cache``, else ``$EVOXPLAIN_CACHE``, else ``$XDG_CACHE_HOME/evoxplain/data``
    (``~/.cache/evoxplain/data``).

    Example:
        >>> cache_root("my-cache")
        PosixPath('my-cache')
    """
    if cache is not None:
        return Path(cache)
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evoxplain" / "data"


def content_digest(path: Path) -> str:
    """``"sha256:<hex>"`` of the file's content: the decompressed bytes of a ``.gz`` file, the
    arrays ``X_train``, ``y_train``, ``X_test``, ``y_test`` (C order, in that order) of a ``.npz``,
    else the bytes."""
    digest = hashlib.sha256()
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            for name in NPZ_ARRAYS:
                digest.update(np.ascontiguousarray(archive[name]).tobytes())
        return f"sha256:{digest.hexdigest()}"
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(block)
    except (OSError, EOFError) as err:  # a corrupt gzip stream
        raise ChecksumError(f"{path.name} cannot be read ({err}); it was not kept") from None
    return f"sha256:{digest.hexdigest()}"


def file_digest(path: Path, algorithm: str) -> str:
    """``"<algorithm>:<hex>"`` of the file's bytes as they are (e.g. a source archive's MD5)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def verify(path: Path, expected: str, *, raw: bool = False) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the checksum ``expected``
    (its content's, or with ``raw`` its bytes' as they are)."""
    algorithm = expected.split(":", 1)[0]
    found = file_digest(path, algorithm) if raw else content_digest(path)
    if found != expected:
        raise ChecksumError(
            f"{path.name} does not match its checksum (expected {expected}, got {found}): the download is "
            "corrupt or the file changed at its source. Nothing was kept; try again, or fetch the file "
            "yourself and point EVOXPLAIN_DATA at it"
        )


def fetch(url: str, dest: Path, *, progress: bool = True, what: str = "") -> Path:
    """Download ``url`` to ``dest`` (a file), with a progress bar of the bytes received."""
    from tqdm.auto import tqdm

    urllib3 = require("urllib3", "data", "dataset downloads")
    try:
        response = urllib3.request("GET", url, preload_content=False, timeout=urllib3.Timeout(connect=30, read=120))
    except urllib3.exceptions.HTTPError as err:
        raise DownloadError(f"cannot reach {url}: {err}. Check the connection, or use --mirror") from None
    try:
        if response.status != 200:
            raise DownloadError(f"{url} answered HTTP {response.status}; the file may have moved (try --mirror)")
        size = int(response.headers.get("Content-Length") or 0) or None
        with (
            open(dest, "wb") as handle,
            tqdm(total=size, unit="B", unit_scale=True, desc=what or dest.name, disable=not progress) as bar,
        ):
            for block in response.stream(_CHUNK):
                handle.write(block)
                bar.update(len(block))
    except urllib3.exceptions.HTTPError as err:
        raise DownloadError(f"the download of {url} broke off: {err}. Try again") from None
    finally:
        response.release_conn()
    return dest


def gzip_file(path: Path) -> Path:
    """``path`` compressed to ``path.gz`` (reproducible: no name or time in the header); the
    original removed."""
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as source, gzip.GzipFile(target, "wb", mtime=0) as sink:
        shutil.copyfileobj(source, sink)
    path.unlink()
    return target


@contextmanager
def staging(root: Path) -> Iterator[Path]:
    """A scratch folder inside ``root`` (the cache), removed on the way out whatever happens."""
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
