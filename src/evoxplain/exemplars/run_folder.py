"""Exemplar searches as a run folder: their files, one record per search, and a manifest.

:meth:`ImageExemplars.save_run`, :meth:`TabularExemplars.save_run` and
:meth:`TextExemplars.save_run` write their usual files (grid PNG, CSV, Markdown) and, beside
them, ``exemplar_runs.json`` (one record per search: class, run, the exemplar's class
probabilities, queries, convergence) and ``manifest.json`` (kind ``"exemplars"``), which
``evoxplain report`` reads.

Example:
    >>> from evoxplain.exemplars import image_exemplars
    >>> ex = image_exemplars(model, generator, {3: "three"}, latent_dim=8, runs=2, per_class=2, seed=0)
    >>> ex.save_run("out").name
    'manifest.json'
    >>> read_exemplar_run("out")["records"][0]["class"]
    'three'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import EvoxplainError, InvalidInputError
from ..files import write_text_atomic
from ..runs import Manifest, now, read_manifest, write_manifest
from .result import ExemplarResult

RUNS_FILE = "exemplar_runs.json"
TOP_CLASSES = 3
"""Class probabilities kept per exemplar (the largest)."""


def search_records(
    results: Mapping[str, Sequence[ExemplarResult]],
    shown: Mapping[str, Sequence[int]],
    class_names: Sequence[str] | Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready record per search: ``class``, ``run``, ``target``, ``probability`` (of its class),
    ``top`` (the exemplar's largest class probabilities as ``[name, p]``), ``queries``,
    ``generations``, ``converged``, ``seconds``, ``stop_reason``, ``shown`` (in the grid or table)
    and ``exemplar`` (the sentence, for text; else None)."""
    names = _names(results, class_names)
    records = []
    for name, runs in results.items():
        chosen = set(shown.get(name, ()))
        for run, result in enumerate(runs):
            probabilities = torch.as_tensor(result.probabilities).detach().float().cpu()
            top = probabilities.topk(min(TOP_CLASSES, len(probabilities)))
            target = result.target if isinstance(result.target, int) else result.target.tolist()
            records.append(
                {
                    "class": name,
                    "run": run,
                    "target": target,
                    "probability": float(result.target_probability),
                    "top": [[names.get(int(i), str(int(i))), float(p)] for p, i in zip(top.values, top.indices)],
                    "queries": int(result.queries),
                    "generations": int(result.generations),
                    "converged": bool(result.converged),
                    "seconds": float(result.seconds),
                    "stop_reason": result.stop_reason,
                    "shown": run in chosen,
                    "exemplar": result.exemplar if isinstance(result.exemplar, str) else None,
                }
            )
    return records


def _names(results: Mapping[str, Sequence[ExemplarResult]], class_names: Any) -> dict[int, str]:
    if isinstance(class_names, Mapping):
        return {int(k): str(v) for k, v in class_names.items()}
    if class_names is not None:
        return dict(enumerate(str(name) for name in class_names))
    return {runs[0].target: name for name, runs in results.items() if runs and isinstance(runs[0].target, int)}


def write_exemplar_run(
    folder: str | Path,
    *,
    modality: str,
    method: str,
    title: str,
    records: list[dict[str, Any]],
    files: dict[str, str],
    model: str = "",
    settings: dict[str, Any] | None = None,
    started: str | None = None,
) -> Path:
    """Write ``exemplar_runs.json`` and ``manifest.json`` (kind ``"exemplars"``) into ``folder``,
    which already holds ``files``; returns the manifest's path."""
    if modality not in ("image", "table", "text"):
        raise InvalidInputError(f"modality must be 'image', 'table' or 'text', not {modality!r}")
    folder = Path(folder)
    payload = {"modality": modality, "method": method, "title": title, "records": records}
    write_text_atomic(folder / RUNS_FILE, json.dumps(payload, indent=1) + "\n")
    manifest = Manifest(
        kind="exemplars",
        model=model,
        settings=dict(settings or {}),
        files={**files, "runs": RUNS_FILE},
        extra={
            "modality": modality,
            "method": method,
            "title": title,
            "searches": len(records),
            "queries": sum(record["queries"] for record in records),
            "seconds": sum(record["seconds"] for record in records),
        },
    )
    if started is not None:
        manifest.started = started
    manifest.finished = now()
    return write_manifest(folder, manifest)


def read_exemplar_run(folder: str | Path) -> dict[str, Any]:
    """The records of an exemplar run folder (``modality``, ``method``, ``title``, ``records``)."""
    manifest = read_manifest(folder)
    path = Path(folder) / manifest.files.get("runs", RUNS_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise EvoxplainError(f"{path} is missing or not an exemplar run file evoxplain wrote: {err}") from None


def prepare(folder: str | Path) -> Path:
    """Make ``folder`` (and its parents)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(f"cannot create the output folder {folder}: {err}") from None
    return folder


__all__ = ["RUNS_FILE", "read_exemplar_run", "search_records", "write_exemplar_run"]
