"""The dataset-run page of a report: a gallery of explanations, sortable by class, probability or
completeness gap.

A dataset run's folder holds ``manifest.json`` (kind ``"dataset"``), ``summary.json``, the
explanations as Parquet (``results/*.parquet``, one row per input: ``id``, ``target``,
``probability``, ``queries``, ``seconds``, ``seed``, ``completeness_gap``, ``values``, ``stderr``,
``shape``, ``error``, ``tokens``) and, optionally, ``heatmaps/<id>.png``. A row that failed shows
its error; an image row without its PNG shows its map over grey and says the picture is missing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvoxplainError, require
from ..runs import Manifest
from ..viz.maps import AttributionMap, overlay_colours
from .fragments import token_spans
from .kinds import metadata, read_picture
from .page import escape, image_tag, missing, png_uri
from .words import class_label

MAX_CARDS = 500
"""The most inputs a gallery draws (the rest are counted)."""


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """Every row of ``results/*.parquet``, in file order (needs ``pyarrow``)."""
    parquet = require("pyarrow.parquet", "report", "dataset reports")
    files = sorted((folder / "results").glob("*.parquet"))
    if not files:
        raise EvoxplainError(f"{folder} is a dataset run without results/*.parquet: nothing to show")
    return [row for file in files for row in parquet.read_table(file).to_pylist()]


def map_thumbnail(row: dict[str, Any], size: int = 224) -> str:
    """An image row's map over grey (no photo), as an inline PNG: muted where within two standard errors."""
    from PIL import Image

    shape = [int(s) for s in row["shape"]]
    values = np.asarray(row["values"], dtype=np.float64).reshape(shape)
    stderr = None if row.get("stderr") is None else np.asarray(row["stderr"], dtype=np.float64).reshape(shape)
    amap = AttributionMap.from_values(values, stderr)
    layer, _ = overlay_colours(amap)
    grey = np.full((*layer.shape[:2], 3), 0.8)
    picture = grey * (1 - layer[..., 3:]) + layer[..., :3] * layer[..., 3:]
    image = Image.fromarray((picture * 255).round().astype(np.uint8)).resize((size, size), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return png_uri(buffer.getvalue())


def _top_features(row: dict[str, Any], k: int = 3) -> str:
    values = np.asarray(row["values"], dtype=np.float64).reshape(-1)
    names = row.get("tokens") or [f"x{i}" for i in range(len(values))]
    order = np.argsort(-np.abs(values), kind="stable")[:k]
    label = "tokens" if row.get("tokens") else "features"
    return f"top {label}: " + ", ".join(f"{names[i]} {values[i]:+.3g}" for i in order)


def card(row: dict[str, Any], folder: Path, classes: Any) -> str:
    """One input's card: its picture (or tokens or top features), class, probability, gap, cost."""
    ident = str(row.get("id"))
    label = class_label(classes, int(row["target"])) if row.get("target") is not None else "no class"
    probability, gap = row.get("probability"), row.get("completeness_gap")
    data = (
        f'data-id="{escape(ident)}" data-class="{escape(label)}" '
        f'data-probability="{probability if probability is not None else -1}" '
        f'data-gap="{gap if gap is not None else -1}"'
    )
    if row.get("error"):
        return f'<div class="card failed" {data}><b>{escape(ident)}</b><p>failed: {escape(row["error"])}</p></div>'
    shape = row.get("shape") or []
    if len(shape) >= 2 and not row.get("tokens"):
        uri, why = read_picture(folder / "heatmaps" / f"{ident}.png", "heatmap")
        shown = image_tag(uri, f"heatmap of {ident}") if uri else (
            image_tag(map_thumbnail(row), f"map of {ident}") + missing(f"{why}; the map is drawn over grey")
        )  # fmt: skip
    elif row.get("tokens"):
        stderr = row.get("stderr")
        amap = AttributionMap.from_values(np.asarray(row["values"]), None if stderr is None else np.asarray(stderr))
        shown = f'<p class="tokens" style="line-height:2">{token_spans(row["tokens"], amap)}</p>'
        shown += f"<p>{escape(_top_features(row))}</p>"
    else:
        shown = f"<p>{escape(_top_features(row))}</p>"
    facts = [
        f"class {escape(label)}",
        f"p = {probability:.3f}" if probability is not None else "p unknown",
        f"gap {gap:.4f}" if gap is not None else "no gap",
        f"{row.get('queries', '–')} queries",
        f"{row.get('seconds', 0):.1f} s",
    ]
    caption = f'<div class="caption"><b>{escape(ident)}</b>: {", ".join(facts)}</div>'
    return f'<div class="card" {data}>{shown}{caption}</div>'


def dataset_page(folder: Path, manifest: Manifest) -> tuple[str, str, list[tuple[str, Any]]]:
    """A dataset run: its summary, sort buttons and a gallery of one card per input."""
    rows = read_rows(folder)
    classes = manifest.extra.get("class_names")
    if isinstance(classes, dict):
        classes = {int(k): v for k, v in classes.items()}
    failed = sum(1 for row in rows if row.get("error"))
    parts = []
    summary_path = folder / manifest.files.get("summary", "summary.json")
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        items = "".join(
            f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in summary.items() if not isinstance(v, (dict, list))
        )
        parts.append(f"<h2>Summary</h2><ul>{items}</ul>")
    else:
        parts.append(missing(f"the run's summary: {summary_path.name} is not in the folder"))
    parts.append(f"<p>{len(rows)} inputs, {failed} failed.</p>")
    buttons = [("class", "asc", "class"), ("probability", "desc", "probability"), ("gap", "desc", "completeness gap")]
    parts.append(
        '<p class="sorter">Sort by: '
        + "".join(
            f'<button type="button" data-gallery="gallery" data-key="{key}" data-order="{order}">{text}</button>'
            for key, order, text in buttons
        )
        + "</p>"
    )
    cards = "".join(card(row, folder, classes) for row in rows[:MAX_CARDS])
    parts.append(f'<div class="gallery" id="gallery">{cards}</div>')
    if len(rows) > MAX_CARDS:
        parts.append(f"<p>{len(rows) - MAX_CARDS} more inputs not drawn.</p>")
    queries = sum(int(row.get("queries") or 0) for row in rows)
    title = f"Dataset run: {manifest.extra.get('dataset', folder.name)}"
    return title, "".join(parts), metadata(manifest, inputs=len(rows), failed=failed, queries=queries)


__all__ = ["card", "dataset_page", "map_thumbnail", "read_rows"]
