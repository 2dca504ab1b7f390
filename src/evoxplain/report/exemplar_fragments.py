"""HTML fragments of exemplar searches, shared by ``evoxplain report`` and Jupyter.

A run of searches (:class:`~evoxplain.exemplars.ImageExemplars`, ``TabularExemplars``,
``TextExemplars``, or a run folder's ``exemplar_runs.json``) shows: the grid (images), the table
(rows) or the sentences (text); per class, how many searches converged and the queries they took;
per shown exemplar, its class probabilities and the search's queries. One search
(:class:`~evoxplain.ExemplarResult`) shows its exemplar and the same facts.

Example:
    >>> from evoxplain.exemplars import image_exemplars
    >>> ex = image_exemplars(model, generator, {3: "three"}, latent_dim=8, runs=2, per_class=2, seed=0)
    >>> "three" in ex._repr_html_()
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .page import escape, figure_uri, image_tag, missing, png_width
from .page import table as html_table


def class_rows(records: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Per class: converged / searches, mean queries of the converged ones (and of all), mean p(class)."""
    rows = []
    for name in dict.fromkeys(record["class"] for record in records):
        group = [record for record in records if record["class"] == name]
        converged = [record["queries"] for record in group if record["converged"]]
        rows.append(
            [
                name,
                f"{len(converged)} / {len(group)}",
                f"{np.mean(converged):.0f}" if converged else "–",
                f"{np.mean([record['queries'] for record in group]):.0f}",
                f"{np.mean([record['probability'] for record in group]):.3f}",
            ]
        )
    return rows


def _top(record: dict[str, Any]) -> str:
    return ", ".join(f"{name} {p:.3f}" for name, p in record.get("top", []))


def exemplars_html(
    records: Sequence[dict[str, Any]],
    *,
    modality: str,
    method: str,
    title: str = "",
    grid: Any = None,
    table: tuple[Sequence[str], Sequence[Sequence[Any]]] | None = None,
    grid_missing: str | None = None,
) -> str:
    """A run of exemplar searches as an HTML fragment (see the module's doc).

    Args:
        records: one per search (:func:`~evoxplain.exemplars.run_folder.search_records`).
        modality: ``"image"``, ``"table"`` or ``"text"``.
        method: the search's name.
        title: what was searched.
        grid: images: the grid (a PIL image, or a ``data:`` URI).
        table: rows: the exemplar table ``(header, rows)``.
        grid_missing: why the grid (or table) is missing, said in its place.
    """
    queries = sum(record["queries"] for record in records)
    lead = (
        f'<p class="lead">{escape(method)}{", " + escape(title) if title else ""}: {len(records)} searches, '
        f"{queries} queries in all.</p>"
    )
    if grid_missing is not None:
        shown = missing(grid_missing)
    elif modality == "image" and grid is not None:
        uri = grid if isinstance(grid, str) else figure_uri(grid)
        width = png_width(uri)
        enlarged = width * max(1, 480 // width) if width else None  # small grids drawn larger, pixels kept
        picture = image_tag(uri, "exemplar grid, one row per class", enlarged)
        shown = (
            f"<figure>{picture}<figcaption>One row per class; each "
            "caption: the exemplar's probability of its class (p) and the search's queries (q); * not converged."
            "</figcaption></figure>"
        )
    elif modality == "table" and table is not None:
        shown = html_table(table[0], table[1])
    else:
        shown = ""
    per_class = html_table(
        ["class", "converged / searches", "queries (converged)", "queries (all)", "p(class) mean"],
        class_rows(records),
        numeric=(2, 3, 4),
    )
    exemplars = [record for record in records if record.get("shown")]
    header = ["class", "run", "p(class)", "class probabilities (largest)", "queries", "converged"]
    rows = [
        [r["class"], r["run"], f"{r['probability']:.3f}", _top(r), r["queries"], "yes" if r["converged"] else "no"]
        for r in exemplars
    ]
    if modality == "text":
        header.insert(2, "exemplar")
        for row, record in zip(rows, exemplars):
            row.insert(2, f"“{record.get('exemplar') or ''}”")
    return (
        f'<div class="evx evx-exemplars">{lead}{shown}<h3>Per class</h3>{per_class}'
        f"<h3>Exemplars shown</h3>{html_table(header, rows, numeric=(1, 3 if modality != 'text' else 4))}</div>"
    )


def exemplar_result_html(result: Any) -> str:
    """One :class:`~evoxplain.ExemplarResult` as an HTML fragment: the exemplar (a picture, a
    sentence or a row), its largest class probabilities, and what the search cost."""
    exemplar = result.exemplar
    if isinstance(exemplar, str):
        shown = f"<p>“{escape(exemplar)}”</p>"
    else:
        array = torch.as_tensor(exemplar).detach().float().cpu()
        if array.ndim in (2, 3) and (array.ndim == 2 or array.shape[0] in (1, 3)) and min(array.shape[-2:]) > 1:
            from ..viz import image_grid

            uri = figure_uri(image_grid([array.clamp(0, 1)], scale=max(1, 96 // max(array.shape[-2:]))))
            shown = f"<figure>{image_tag(uri, 'exemplar')}</figure>"
        else:
            values = array.reshape(-1).tolist()
            shown = html_table(["feature", "value"], [[f"x{i}", f"{v:.4g}"] for i, v in enumerate(values[:50])], (1,))
    probabilities = torch.as_tensor(result.probabilities).detach().float().cpu()
    top = probabilities.topk(min(3, len(probabilities)))
    target = result.target if isinstance(result.target, int) else "a probability vector"
    facts = [
        ["target class", target],
        ["p(target)", f"{result.target_probability:.4f}"],
        ["largest class probabilities", ", ".join(f"class {int(i)}: {float(p):.3f}" for p, i in zip(*top))],
        ["queries", result.queries],
        ["generations", result.generations],
        ["converged", "yes" if result.converged else f"no ({result.stop_reason})"],
        ["seconds", f"{result.seconds:.2f}"],
        ["seed, stream", f"{result.seed}, {result.stream}"],
    ]
    lead = f'<p class="lead">{escape(result.method)} exemplar</p>'
    return f'<div class="evx evx-exemplar">{lead}{shown}{html_table(["", ""], facts)}</div>'


__all__ = ["class_rows", "exemplar_result_html", "exemplars_html"]
