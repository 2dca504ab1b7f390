"""One row per input: the columns of a dataset run's results, and each input's seed.

A row holds ``id`` (string), ``target`` (the explained class), ``probability`` (of that class at
the input; null where the explained score is not a probability or log-probability),
``queries``, ``seconds``, ``seed``, ``completeness_gap`` (``|Σ values − (f(x) − f(x̊))|`` of
integrated methods, else null), ``values`` (float32, flattened), ``stderr`` (or null),
``shape``, ``error`` (null, or why this input failed: then the values are null), ``tokens``
(text only), ``method`` and ``settings`` (the explainer's settings as JSON, the seed aside).

Each input's seed derives from the run's seed and the input's id, not its position, so the
values do not depend on order, shard size, workers or engine; ``GEEX(model, seed=row["seed"],
**settings).explain(x)`` gives the row's values again.

Example:
    >>> input_seed(0, "cat.jpg") == input_seed(0, "cat.jpg") != input_seed(1, "cat.jpg")
    True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from ..errors import require
from ..explanation import Explanation, _to_json

COLUMNS = (
    "id", "target", "probability", "queries", "seconds", "seed", "completeness_gap",
    "values", "stderr", "shape", "error", "tokens", "method", "settings",
)  # fmt: skip


def input_seed(run_seed: int, ident: str) -> int:
    """The seed of the input called ``ident`` in a run seeded with ``run_seed`` (62 bits)."""
    key = int.from_bytes(hashlib.blake2b(ident.encode("utf-8"), digest_size=8).digest(), "little")
    state = np.random.SeedSequence(int(run_seed), spawn_key=(key,)).generate_state(1, np.uint64)[0]
    return int(state >> 2)


def probability_of(exp: Explanation) -> float | None:
    """The probability of the explained class at the input, where the explained score gives it."""
    fitness = exp.params.get("fitness")
    if exp.score is None or fitness not in ("prob", "logprob"):
        return None
    score = float(exp.score)
    return float(np.exp(score)) if fitness == "logprob" else score


def explanation_row(ident: str, seed: int, exp: Explanation) -> dict[str, Any]:
    """The row of one input's explanation."""
    params = {k: v for k, v in exp.params.items() if k != "seed"}
    gap = exp.completeness_gap if params.get("integrated", True) is not False else None
    values = np.asarray(exp.values.detach().cpu(), dtype=np.float32)
    stderr = None if exp.stderr is None else np.asarray(exp.stderr.detach().cpu(), dtype=np.float32).reshape(-1)
    return {
        "id": ident, "target": int(exp.target), "probability": probability_of(exp), "queries": int(exp.queries),
        "seconds": float(exp.seconds), "seed": seed, "completeness_gap": None if gap is None else float(gap),
        "values": values.reshape(-1), "stderr": stderr, "shape": list(values.shape), "error": None,
        "tokens": exp.tokens, "method": exp.method, "settings": json.dumps(_to_json(params), sort_keys=True),
    }  # fmt: skip


def error_row(ident: str, seed: int, error: BaseException, method: str = "") -> dict[str, Any]:
    """The row of an input that failed: its error as ``"<Type>: <message>"``, no values."""
    row = dict.fromkeys(COLUMNS)
    message = " ".join(str(error).split()) or "no message"
    row.update(id=ident, seed=seed, queries=0, seconds=0.0, error=f"{type(error).__name__}: {message}", method=method)
    return row


def schema():
    """The results' Arrow schema."""
    pa = require("pyarrow", "dataset", "Parquet results")
    floats = pa.list_(pa.float32())
    return pa.schema(
        [
            ("id", pa.string()), ("target", pa.int64()), ("probability", pa.float64()), ("queries", pa.int64()),
            ("seconds", pa.float64()), ("seed", pa.int64()), ("completeness_gap", pa.float64()),
            ("values", floats), ("stderr", floats), ("shape", pa.list_(pa.int64())), ("error", pa.string()),
            ("tokens", pa.list_(pa.string())), ("method", pa.string()), ("settings", pa.string()),
        ]
    )  # fmt: skip


def rows_table(rows: list[dict[str, Any]]):
    """Rows as a pyarrow Table of :func:`schema`; the values go in as whole arrays, not lists of floats."""
    pa = require("pyarrow", "dataset", "Parquet results")
    target = schema()
    columns = []
    for field in target:
        column = [row[field.name] for row in rows]
        if field.name in ("values", "stderr"):
            columns.append(_float_lists(column))
        else:
            columns.append(pa.array(column, type=field.type))
    return pa.Table.from_arrays(columns, schema=target)


def _float_lists(arrays: list[np.ndarray | None]):
    """``list<float32>`` from flat arrays (None: null), built from one buffer and offsets."""
    pa = require("pyarrow", "dataset", "Parquet results")
    sizes = np.array([0 if a is None else len(a) for a in arrays], dtype=np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))
    present = [a for a in arrays if a is not None]
    flat = np.concatenate(present).astype(np.float32) if present else np.zeros(0, np.float32)
    mask = pa.array([a is None for a in arrays])
    return pa.ListArray.from_arrays(offsets, pa.array(flat), type=pa.list_(pa.float32()), mask=mask)
