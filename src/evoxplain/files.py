"""Files evoxplain writes and reads: data only, never code, and never half-written.

Tensors go to `safetensors <https://huggingface.co/docs/safetensors>`_ files with a JSON header of
plain values (``kind`` names what the file holds, ``version`` its layout); everything else
evoxplain writes is JSON, ``.npy`` without pickle, Parquet, SQLite, PNG or text. Reading never
unpickles: a file that is not what it should be is an :class:`~evoxplain.errors.EvoxplainError`
that names the file and what is wrong with it. Every write goes to a temporary file in the same
folder first and is then renamed, so a crash leaves the old file or the new one, not a mix.

Example:
    >>> save_tensors("weights.safetensors", {"w": torch.ones(2)}, kind="toy", meta={"note": "hi"})
    >>> tensors, meta = load_tensors("weights.safetensors", kind="toy")
    >>> tensors["w"].tolist(), meta["note"]
    ([1.0, 1.0], 'hi')
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .errors import EvoxplainError, InvalidInputError

HEADER_KEY = "evoxplain"
_MAX_HEADER = 100 * 2**20


class FileFormatError(EvoxplainError, ValueError):
    """A file evoxplain was asked to read is missing, truncated, of another kind or not data."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block ends
    without an error, removed otherwise.

    Example:
        >>> with atomic_path("out.txt") as tmp:
        ...     _ = tmp.write_text("done")
        >>> Path("out.txt").read_text()
        'done'
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write {target}: the folder {folder} does not exist; create it first")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` through ``write(file)`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], *, kind: str, meta: dict[str, Any]) -> None:
    """Write ``tensors`` and the JSON-able ``meta`` to one safetensors file, atomically.

    ``kind`` names what the file holds; :func:`load_tensors` refuses a file of another kind.
    """
    from safetensors.torch import save

    header = {HEADER_KEY: json.dumps({"kind": kind, **meta}, allow_nan=True)}
    plain = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    blob = save(plain, metadata=header)
    write_atomic(path, lambda f: f.write(blob))


def load_tensors(path: str | Path, *, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_tensors` as ``kind``: its tensors and its header.

    Raises:
        FileFormatError: the file is missing, not a safetensors file (a pickle, garbage, a
            truncated copy) or holds another kind of thing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"no file at {path}")
    with open(path, "rb") as handle:
        head = handle.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 2 <= size <= min(_MAX_HEADER, path.stat().st_size - 8):
        raise FileFormatError(
            f"{path} is not a {kind} file: evoxplain reads safetensors files it wrote, and this one is "
            "not one (a pickle, another format, or a truncated copy); nothing in it was run"
        )
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(path.read_bytes())
        header = _header(path, size)
    except (SafetensorError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{path} is a damaged or truncated {kind} file: {err}") from None
    if header.get("kind") != kind:
        raise FileFormatError(f"{path} holds a {header.get('kind')!r}, not a {kind}")
    return tensors, header


def _header(path: Path, size: int) -> dict[str, Any]:
    with open(path, "rb") as handle:
        handle.seek(8)
        raw = json.loads(handle.read(size).decode("utf-8"))
    meta = raw.get("__metadata__") or {}
    if HEADER_KEY not in meta:
        raise ValueError("it has no evoxplain header (a safetensors file written by something else)")
    header = json.loads(meta[HEADER_KEY])
    if not isinstance(header, dict):
        raise ValueError("its evoxplain header is not a JSON object")
    return header
