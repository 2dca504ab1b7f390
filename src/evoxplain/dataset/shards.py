"""Results as Parquet shards that appear whole, and what a folder already holds.

A shard is one Parquet file of result rows under ``<out>/results/``, written to a temporary name
in the same folder and then renamed, so a reader (or a restarted run) sees a whole shard or none.
Its name is a hash of the ids it holds, in order: a shard written again (a Ray task retried after
its worker died) replaces the first copy instead of adding a second. :func:`done_ids` reads the
id column of every shard; a run started again skips them.

Example:
    >>> pa = require("pyarrow", "dataset", "Parquet results")
    >>> table = pa.table({"id": ["a", "b"], "queries": [10, 12]})
    >>> path = write_shard("run/results", table)
    >>> sorted(done_ids("run/results")), read_results("run").num_rows
    (['a', 'b'], 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import EvoxplainError, require
from ..files import atomic_path

RESULTS = "results"


def _pyarrow():
    return require("pyarrow", "dataset", "Parquet results")


def shard_name(ids: list[str]) -> str:
    """``shard-<hash>.parquet``: the same ids in the same order give the same name."""
    digest = hashlib.blake2b("\n".join(ids).encode("utf-8"), digest_size=10).hexdigest()
    return f"shard-{digest}.parquet"


def write_shard(folder: str | Path, table: Any) -> Path:
    """Write ``table`` (a pyarrow Table with an ``id`` column) as one shard in ``folder``, atomically."""
    parquet = require("pyarrow.parquet", "dataset", "Parquet results")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / shard_name([str(i) for i in table.column("id").to_pylist()])
    with atomic_path(path) as tmp:
        parquet.write_table(table, tmp)
    return path


def shard_files(folder: str | Path) -> list[Path]:
    """The shards in ``folder`` (temporary files of a write in flight are not shards)."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.is_dir() else []


def read_shards(folder: str | Path, columns: list[str] | None = None) -> Iterator[tuple[Path, Any]]:
    """Each shard as a pyarrow Table (only ``columns`` when given), with the shard's path."""
    parquet = require("pyarrow.parquet", "dataset", "Parquet results")
    for path in shard_files(folder):
        try:
            yield path, parquet.read_table(path, columns=columns)
        except Exception as err:  # pyarrow's own errors: a damaged file, a missing column
            raise EvoxplainError(
                f"{path} is not a results shard evoxplain can read ({err}); move it out of the folder to go on"
            ) from None


def done_ids(folder: str | Path) -> set[str]:
    """Every id in the shards of ``folder``; an error if one occurs twice (no run of evoxplain
    writes an id twice: another program wrote to the folder)."""
    seen: set[str] = set()
    for path, table in read_shards(folder, ["id"]):
        for ident in table.column("id").to_pylist():
            if ident in seen:
                raise EvoxplainError(f"the id {ident!r} occurs twice in {Path(folder)} (again in {path.name})")
            seen.add(ident)
    return seen


def read_results(out: str | Path) -> Any:
    """Every row a run wrote, one pyarrow Table (shards in name order); ``out`` is the run's folder
    (or its ``results`` folder)."""
    pa = _pyarrow()
    folder = Path(out) / RESULTS if (Path(out) / RESULTS).is_dir() else Path(out)
    tables = [table for _, table in read_shards(folder)]
    if not tables:
        raise EvoxplainError(f"{out} holds no results shards")
    return pa.concat_tables(tables, promote_options="default")
