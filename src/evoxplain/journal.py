"""A query journal: every answered input of one model, kept in SQLite, so no input is paid for twice.

``BlackBox(model, journal="queries.sqlite")`` looks each input up before sending it: an input
answered before (the same bytes, dtype and shape; the same string) is served from the journal,
neither sent nor billed. A killed run started again with the same seed re-sends nothing that was
answered, since every answer is written as soon as it arrives. A journal belongs to one model,
named by its identity (:func:`model_identity`): opening it for another model is an error, so one
model's answers never serve another. It is safe to share between threads; the file holds numbers
and text only.

Example:
    >>> journal = Journal("queries.sqlite", model="my-model")
    >>> keys = input_keys(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    >>> journal.store(keys[:1], np.array([[0.25, 0.75]], dtype=np.float32))
    >>> found = journal.lookup(keys)
    >>> len(found), found[keys[0]].tolist()                   # the second input was never answered
    (1, [0.25, 0.75])
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError

KIND = "evoxplain.journal"
VERSION = 1
_LOOKUP_CHUNK = 500  # SQLite's limit on variables per statement is 999 in old builds


class JournalError(InvalidInputError):
    """A journal file that belongs to another model, or that is not a journal evoxplain wrote."""


class Journal:
    """Answers of one model by the hash of their input, in an SQLite file.

    Args:
        path: the SQLite file; created (with its folder) if missing.
        model: the model's identity (:func:`model_identity`); an existing journal of another
            identity is refused with :class:`JournalError`.
    """

    def __init__(self, path: str | Path, model: str):
        self.path = Path(path)
        self.model = model
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._open()
        except sqlite3.DatabaseError as err:
            raise JournalError(
                f"{self.path} is not a query journal evoxplain can read ({err}); give another journal= path "
                "(a new file is created) or delete this one"
            ) from None

    def _open(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if not self._tables():
            with self._transaction():
                db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                db.execute("CREATE TABLE answers (input BLOB PRIMARY KEY, answer BLOB NOT NULL) WITHOUT ROWID")
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [("kind", KIND), ("version", str(VERSION)), ("model", self.model)]
                )
        meta = dict(db.execute("SELECT key, value FROM meta")) if {"meta", "answers"} <= self._tables() else {}
        if meta.get("kind") != KIND:
            raise JournalError(f"{self.path} is an SQLite file but not a query journal; give another journal= path")
        if meta.get("version") != str(VERSION):
            raise JournalError(
                f"{self.path} is a journal of version {meta.get('version')}; this evoxplain reads {VERSION}"
            )
        if meta.get("model") != self.model:
            raise JournalError(
                f"{self.path} is the journal of another model ({meta.get('model')!r}), not of {self.model!r}: one "
                "model's answers never serve another. Give this model a journal of its own"
            )

    def _tables(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def lookup(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The answers known for ``keys`` (float32 arrays), by key; unknown keys are absent."""
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                part = unique[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(f"SELECT input, answer FROM answers WHERE input IN ({marks})", part):
                    found[bytes(key)] = np.frombuffer(blob, dtype="<f4")
        return found

    def store(self, keys: Sequence[bytes], answers: Any) -> None:
        """Keep the answer of each input (row ``i`` of ``answers`` for ``keys[i]``), committed at once."""
        rows = np.ascontiguousarray(np.asarray(answers, dtype="<f4").reshape(len(keys), -1))
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO answers VALUES (?, ?)", [(k, row.tobytes()) for k, row in zip(keys, rows)]
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the file (answers are already committed)."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, model={self.model!r})"

    def _transaction(self):
        db = self._db

        class _Transaction:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, trace):
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Transaction()


def input_keys(inputs: Any) -> list[bytes]:
    """One key per input of a batch: the SHA-256 of its bytes with its dtype and shape (of a
    string: its UTF-8 bytes), so only identical inputs share a key.

    Example:
        >>> a, b = input_keys(torch.tensor([[1.0, 2.0], [1.0, 2.0]]))
        >>> a == b, a == input_keys(np.array([[1.0, 2.0]]))[0]      # float32 and float64 differ
        (True, False)
    """
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        array = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
        array = np.ascontiguousarray(array)
        prefix = f"{array.dtype.str}{array.shape[1:]}".encode()
        return [hashlib.sha256(prefix + row.tobytes()).digest() for row in array]
    return [hashlib.sha256(b"str:" + str(text).encode("utf-8")).digest() for text in inputs]


def model_identity(model: Any, precision: str = "fp32") -> str | None:
    """What names a model in a journal: an endpoint's identity, a hash of a torch module's class and
    weights (and the precision it runs at), a hash of a model file's bytes; None where evoxplain
    cannot tell one model from another (a plain function, an estimator, an ONNX session: give
    ``BlackBox(model_id=...)``).

    Example:
        >>> model_identity(torch.nn.Linear(2, 2)) == model_identity(torch.nn.Linear(2, 2))  # other weights
        False
    """
    identify = getattr(model, "identity", None)
    if callable(identify):
        return identify()
    if isinstance(model, (str, Path)) and Path(model).is_file():
        digest = hashlib.sha256()
        with open(model, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return f"file sha256:{digest.hexdigest()} {precision}"
    if isinstance(model, torch.nn.Module):
        digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
        for name, tensor in model.state_dict().items():
            array = tensor.detach().cpu().contiguous()
            digest.update(f"{name}{array.dtype}{tuple(array.shape)}".encode())
            digest.update(array.view(torch.uint8).numpy().tobytes() if array.numel() else b"")
        return f"torch sha256:{digest.hexdigest()} {precision}"
    return None
