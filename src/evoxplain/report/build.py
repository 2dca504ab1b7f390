"""Build a report from what evoxplain wrote: a folder read by its manifest, or a benchmark's JSON.

Example:
    >>> from PIL import Image
    >>> from evoxplain.cli import run_explain
    >>> torch.jit.script(model).save("model.pt")
    >>> Image.new("L", (28, 28)).save("digit.png")
    >>> _ = run_explain("digit.png", model="model.pt", size=(28, 28), channels=1, queries=200, out="results")
    >>> write_report("results", "report.html").name
    'report.html'
"""

from __future__ import annotations

from pathlib import Path

from ..errors import EvoxplainError
from ..files import write_text_atomic
from ..runs import MANIFEST, read_manifest
from .kinds import Page, benchmark_page, exemplars_page, explanation_page
from .page import page


def report_page(path: Path) -> Page:
    """``(title, body, metadata)`` of the folder or results file at ``path``."""
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise EvoxplainError(f"{path} is a file but not a benchmark's results JSON: give an output folder")
        return benchmark_page(path)
    if not path.is_dir():
        raise EvoxplainError(
            f"{path} does not exist: give a folder evoxplain wrote (with {MANIFEST}) or a benchmark's results JSON"
        )
    if not (path / MANIFEST).is_file():
        if any(path.glob("*.json")):
            return benchmark_page(path)
        raise EvoxplainError(f"{path} holds no {MANIFEST} and no results JSON: it is not a folder evoxplain wrote")
    manifest = read_manifest(path)
    if manifest.kind == "explanation":
        return explanation_page(path, manifest)
    if manifest.kind == "exemplars":
        return exemplars_page(path, manifest)
    if manifest.kind == "dataset":
        from .dataset import dataset_page

        return dataset_page(path, manifest)
    return benchmark_page(path, manifest)


def build_report(results: str | Path) -> str:
    """The whole HTML page of ``results``: one self-contained file (see :mod:`evoxplain.report`)."""
    title, body, metadata = report_page(Path(results))
    return page(title, body, metadata, script="sorter" in body)


def write_report(results: str | Path, out: str | Path) -> Path:
    """Write :func:`build_report`'s page to ``out`` atomically (its folder is made); returns ``out``."""
    html = build_report(results)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EvoxplainError(f"cannot write the report to {out}: {err}") from None
    return write_text_atomic(out, html)


__all__ = ["build_report", "report_page", "write_report"]
