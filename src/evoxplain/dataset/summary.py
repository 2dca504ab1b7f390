"""The summary of a dataset run, computed from the results it wrote.

``inputs`` (rows written), ``explained`` and ``failed`` (with each failure's id and error),
``queries`` (the explanations'), ``seconds`` (their explaining time, summed), the mean
completeness gap over the rows that have one, and the share of significant values: of the values
with a standard error, those more than two standard errors from 0.

Example:
    >>> from evoxplain import GEEX, BlackBox
    >>> from evoxplain.dataset import open_source
    >>> from evoxplain.dataset.work import ChunkWorker
    >>> source = open_source(torch.rand(3, 1, 28, 28))
    >>> _ = ChunkWorker(BlackBox(model), GEEX, {"queries": 100}, 0, source, "run").process(list(source.records()))
    >>> summary = summarise("run")
    >>> summary["inputs"], summary["failed"], summary["queries"]
    (3, 0, 306)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .shards import RESULTS, read_shards

SHOWN_FAILURES = 10
"""Failures printed by :func:`summary_text` (``summary.json`` lists them all)."""


def summarise(out: str | Path) -> dict[str, Any]:
    """The summary of the results under ``out/results`` (shard by shard: memory stays bounded)."""
    totals = {"inputs": 0, "queries": 0, "seconds": 0.0, "gaps": [], "values": 0, "significant": 0}
    failures: list[dict[str, str]] = []
    for _, table in read_shards(Path(out) / RESULTS):
        columns = ["id", "error", "queries", "seconds", "completeness_gap", "values", "stderr"]
        rows = table.select(columns).to_pydict()
        totals["inputs"] += table.num_rows
        totals["queries"] += sum(q or 0 for q in rows["queries"])
        totals["seconds"] += sum(s or 0.0 for s in rows["seconds"])
        totals["gaps"] += [g for g in rows["completeness_gap"] if g is not None]
        failures += [{"id": i, "error": e} for i, e in zip(rows["id"], rows["error"]) if e is not None]
        for values, stderr in zip(rows["values"], rows["stderr"]):
            if values is None or stderr is None:
                continue
            values, stderr = np.asarray(values), np.asarray(stderr)
            known = np.isfinite(stderr) & (stderr > 0)
            totals["values"] += int(known.sum())
            totals["significant"] += int((np.abs(values[known]) > 2 * stderr[known]).sum())
    gaps = totals["gaps"]
    return {
        "inputs": totals["inputs"],
        "explained": totals["inputs"] - len(failures),
        "failed": len(failures),
        "queries": totals["queries"],
        "seconds": round(totals["seconds"], 3),
        "mean_completeness_gap": float(np.mean(gaps)) if gaps else None,
        "significant_share": totals["significant"] / totals["values"] if totals["values"] else None,
        "failures": failures,
    }


def summary_text(summary: dict[str, Any]) -> str:
    """The summary in a few lines, as the command prints it.

    Example:
        >>> print(summary_text({"inputs": 2, "explained": 1, "failed": 1, "queries": 102, "seconds": 0.5,
        ...                     "mean_completeness_gap": 0.01, "significant_share": 0.25,
        ...                     "failures": [{"id": "b.png", "error": "InvalidInputError: cannot read"}]}))
        inputs: 2 (1 explained, 1 failed)
        queries: 102, explaining time: 0.5 s
        mean completeness gap: 0.01
        significant values: 25.0% (more than 2 standard errors from 0)
        failed: b.png: InvalidInputError: cannot read
    """
    lines = [
        f"inputs: {summary['inputs']} ({summary['explained']} explained, {summary['failed']} failed)",
        f"queries: {summary['queries']}, explaining time: {summary['seconds']:.1f} s",
    ]
    if summary.get("wall_seconds") is not None:
        lines.append(f"this run: {summary['run_inputs']} inputs in {summary['wall_seconds']:.1f} s")
    gap = summary.get("mean_completeness_gap")
    lines.append(f"mean completeness gap: {gap:.4g}" if gap is not None else "mean completeness gap: none measured")
    share = summary.get("significant_share")
    if share is not None:
        lines.append(f"significant values: {share:.1%} (more than 2 standard errors from 0)")
    for failure in summary["failures"][:SHOWN_FAILURES]:
        lines.append(f"failed: {failure['id']}: {failure['error']}")
    if summary["failed"] > SHOWN_FAILURES:
        lines.append(f"... and {summary['failed'] - SHOWN_FAILURES} more failures (summary.json lists them all)")
    return "\n".join(lines)
