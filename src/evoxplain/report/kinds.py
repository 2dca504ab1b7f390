"""One report page per kind of output folder: explanation, dataset, exemplars, benchmark.

Each ``*_page(folder, manifest)`` returns ``(title, body, metadata)``: the page's title, its HTML
body and the ``(name, value)`` pairs of its metadata header. Anything the folder lacks (a picture,
a file, a failed input) is said where it would have been shown; the page still renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvoxplainError
from ..runs import Manifest
from .benchmark import benchmark_section
from .exemplar_fragments import exemplars_html
from .fragments import explanation_html
from .page import escape, image_tag, missing, png_uri

Page = tuple[str, str, list[tuple[str, Any]]]


def metadata(manifest: Manifest, **more: Any) -> list[tuple[str, Any]]:
    """The header's pairs: model, settings, seed, queries, time, library version; ``more`` adds
    pairs after the model (or replaces one of the same name)."""
    settings = manifest.settings
    shown = {key: value for key, value in settings.items() if key not in ("seed",) and value is not None}
    items: dict[str, Any] = {"kind": manifest.kind, "model": manifest.model or "–"}
    items.update(
        {
            "settings": ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "–",
            "seed": settings.get("seed", "–"),
            "queries": manifest.extra.get("queries", "–"),
            "seconds": _seconds(manifest.extra.get("seconds")),
            "started": manifest.started,
            "finished": manifest.finished or "not finished",
            "evoxplain": manifest.library,
        }
    )
    first = {"kind": items.pop("kind"), "model": items.pop("model"), **more}
    return list({**first, **{k: v for k, v in items.items() if k not in more}}.items())


def _seconds(value: Any) -> str:
    return f"{float(value):.1f}" if isinstance(value, (int, float)) else "–"


def read_picture(path: Path, what: str) -> tuple[str | None, str | None]:
    """``(data URI, None)`` of a PNG, or ``(None, why)`` saying why it cannot be shown."""
    if not path.is_file():
        return None, f"{what}: {path.name} is not in the folder"
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None, f"{what}: {path.name} is not a PNG file"
    return png_uri(data), None


def explanation_page(folder: Path, manifest: Manifest) -> Page:
    """One explanation (``evoxplain explain``'s folder): the picture, what was explained, the regions."""
    from ..explanation import Explanation

    files = manifest.files
    parts = []
    classes = {int(k): v for k, v in manifest.extra.get("class_names", {}).items()}
    if "explanation" in files and (folder / files["explanation"]).is_file():
        exp = Explanation.load(folder / files["explanation"])
        if exp.input is None and "input" in files and (folder / files["input"]).is_file():
            exp.input = np.load(folder / files["input"], allow_pickle=False)
        parts.append(explanation_html(exp, classes=classes or None, feature_names=manifest.extra.get("features")))
    else:
        parts.append(missing("the explanation file (.evx): showing the saved picture and summary only"))
        if "heatmap" in files:
            uri, why = read_picture(folder / files["heatmap"], "the heatmap")
            parts.append(missing(why) if why else f"<figure>{image_tag(uri, 'heatmap')}</figure>")
    if "summary" in files and (folder / files["summary"]).is_file():
        text = (folder / files["summary"]).read_text(encoding="utf-8")
        parts.append(f"<h2>Summary</h2><pre>{escape(text)}</pre>")
    title = f"Explanation of {manifest.extra.get('input', 'an input')}"
    return title, "".join(parts), metadata(manifest, method=manifest.settings.get("method", "–"))


def exemplars_page(folder: Path, manifest: Manifest) -> Page:
    """Exemplar searches: the grid (images), table (rows) or sentences (text), per class and per exemplar."""
    from ..exemplars.run_folder import read_exemplar_run

    run = read_exemplar_run(folder)
    files = manifest.files
    grid, table, absent = None, None, None
    if run["modality"] == "image":
        grid, absent = read_picture(folder / files.get("grid", "exemplars.png"), "the exemplar grid")
    elif run["modality"] == "table":
        table, absent = _csv_table(folder / files.get("table", "exemplars.csv"))
    body = exemplars_html(
        run["records"], modality=run["modality"], method=run["method"], title=run.get("title", ""),
        grid=grid, table=table, grid_missing=absent,
    )  # fmt: skip
    title = f"Exemplars: {run.get('title') or run['method']}"
    return title, body, metadata(manifest, method=run["method"], searches=len(run["records"]))


def _csv_table(path: Path) -> tuple[tuple[list[str], list[list[str]]] | None, str | None]:
    import csv

    if not path.is_file():
        return None, f"the exemplar table: {path.name} is not in the folder"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        return None, f"the exemplar table: {path.name} holds no exemplar"
    header, body = rows[0], rows[1:]
    heads, counts = [], {}
    for row in body:
        counts[row[0]] = counts.get(row[0], 0) + 1
        heads.append(f"{row[0]} #{counts[row[0]]}")
    features = [(i, name) for i, name in enumerate(header) if name not in ("class", "run")]
    return (["", *heads], [[name, *(row[i] for row in body)] for i, name in features]), None


def benchmark_page(path: Path, manifest: Manifest | None = None) -> Page:
    """A benchmark's results JSON (``{"meta": ..., "rows": [...]}``): per method and budget the AOPC
    scores, queries and seconds per explanation, and the deletion and insertion curves."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    files = [file for file in files if file.name != "manifest.json"]
    sections, meta = [], {}
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            sections.append(missing(f"{file.name} could not be read as JSON ({err})"))
            continue
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            continue
        meta = meta or data.get("meta", {})
        sections.append(benchmark_section(file.name, data))
    if not sections:
        raise EvoxplainError(f"{path} holds no benchmark results: a JSON file with 'rows' (as benchmarks/ write)")
    if manifest is not None:
        items = metadata(manifest) + [
            (key, meta[key]) for key in ("dataset", "machine", "date", "command") if key in meta
        ]
    else:
        items = benchmark_metadata(meta)
    title = f"Benchmark: {meta.get('dataset', path.stem)}"
    return title, "".join(sections), items


def benchmark_metadata(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    """The header of a results file without a manifest: what its ``meta`` records, and says what it does not."""
    from ..runs import library_version

    def recorded(*keys: str) -> Any:
        return next((meta[key] for key in keys if key in meta), "not recorded")

    return [
        ("kind", "benchmark"),
        ("model", recorded("model", "dataset")),
        ("machine", recorded("machine")),
        ("seed", recorded("seed", "seeds")),
        ("date", recorded("date")),
        ("commit", recorded("commit")),
        ("evoxplain", f"{recorded('library', 'evoxplain')} (report: {library_version()})"),
        ("command", recorded("command")),
    ]


__all__ = ["benchmark_metadata", "benchmark_page", "exemplars_page", "explanation_page", "metadata", "read_picture"]
