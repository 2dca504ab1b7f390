"""The benchmark section of a report: AOPC scores, cost, and the deletion and insertion curves.

Rows are read by their keys, as the benchmarks write them: ``method``, ``budget``, ``deletion``
(AOPC) and ``deletion_se``, ``insertion``, ``queries``, ``seconds`` (per explanation), and the
curves either as ``curves: {"deletion": [...], "insertion": [...]}`` or as ``deletion_curve`` /
``insertion_curve``. A row without curves is listed in the table and said to have none.

Example:
    >>> rows = [{"method": "LIME", "budget": 1000, "deletion": 0.9, "seconds": 1.5,
    ...          "curves": {"deletion": [0.8, 0.3, 0.1]}}]
    >>> "LIME" in benchmark_section("aopc.json", {"meta": {}, "rows": rows})
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .page import escape, figure_uri, image_tag, missing, table


def row_curves(row: dict[str, Any]) -> dict[str, list[float]]:
    """A row's curves by name (``deletion``, ``insertion``), whichever way the row stores them."""
    curves = dict(row.get("curves") or {}) if isinstance(row.get("curves"), dict) else {}
    for name in ("deletion", "insertion"):
        if f"{name}_curve" in row and name not in curves:
            curves[name] = row[f"{name}_curve"]
    return {name: [float(v) for v in curve] for name, curve in curves.items() if isinstance(curve, list) and curve}


def row_label(row: dict[str, Any]) -> str:
    """``"LIME, 5000 queries"`` (a method without a budget: its name alone)."""
    budget = row.get("budget")
    return f"{row.get('method', '?')}, {budget} queries" if budget else str(row.get("method", "?"))


def _number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and np.isfinite(value) else "–"


def curves_figure(rows: list[dict[str, Any]]):
    """The rows' deletion and insertion curves, one panel each, one line per row; None without curves."""
    from matplotlib.figure import Figure

    kinds = [name for name in ("deletion", "insertion") if any(name in row_curves(row) for row in rows)]
    if not kinds:
        return None
    fig = Figure(figsize=(5.2 * len(kinds), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(kinds)))
    for axis, name in zip(axes, kinds):
        for row in rows:
            curve = row_curves(row).get(name)
            if curve:
                axis.plot(np.linspace(0, 1, len(curve)), curve, label=row_label(row), linewidth=1.4)
        axis.set_title(f"{name}: {'lower' if name == 'deletion' else 'higher'} is better", fontsize=10)
        axis.set_xlabel("share of the input " + ("removed" if name == "deletion" else "restored"), fontsize=9)
        axis.set_ylabel("explained probability (mean over inputs)", fontsize=9)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig


def benchmark_section(name: str, data: dict[str, Any]) -> str:
    """One results file as HTML: its settings, a table per method and budget, and the curves."""
    meta, rows = data.get("meta", {}) or {}, data["rows"]
    facts = "".join(
        f"<li><b>{escape(key)}</b>: {escape(value)}</li>"
        for key, value in meta.items()
        if isinstance(value, (str, int, float)) and key != "command"
    )
    command = f"<p>Command: <code>{escape(meta['command'])}</code></p>" if "command" in meta else ""
    body = [
        [
            row.get("method", "?"),
            row.get("budget") or "–",
            _number(row.get("deletion")) + (f" ± {_number(row['deletion_se'])}" if "deletion_se" in row else ""),
            _number(row.get("insertion")),
            _number(row.get("queries"), 0),
            _number(row.get("seconds"), 2),
            "yes" if row_curves(row) else "none",
        ]
        for row in rows
    ]
    header = ["method", "budget", "AOPC deletion", "AOPC insertion", "queries", "seconds per explanation", "curves"]
    fig = curves_figure(rows)
    picture = (
        f"<figure>{image_tag(figure_uri(fig), 'deletion and insertion curves per method')}</figure>"
        if fig is not None
        else missing("curves: no row of this file keeps its deletion or insertion curve")
    )
    return (
        f"<section><h2>{escape(name)}</h2>{command}<ul>{facts}</ul>"
        f"{table(header, body, numeric=(1, 2, 3, 4, 5))}{picture}</section>"
    )


__all__ = ["benchmark_section", "curves_figure", "row_curves", "row_label"]
