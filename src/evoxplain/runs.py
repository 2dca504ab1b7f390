"""What a command wrote: ``manifest.json`` in every output folder, read back by reports.

Every folder evoxplain writes results to (one explanation, a dataset run, exemplar searches, a
benchmark run) gets a ``manifest.json``: what kind of run it was, with which model and settings,
when, by which library version, and the files it wrote, so a report (or a reader) can walk the
folder without guessing.

Example:
    >>> manifest = Manifest(kind="explanation", model="lenet-mnist", settings={"queries": 2000})
    >>> manifest.files["heatmap"] = "digit_heatmap.png"
    >>> Path("results").mkdir(exist_ok=True)
    >>> path = write_manifest("results", manifest)
    >>> read_manifest("results").files
    {'heatmap': 'digit_heatmap.png'}
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import EvoxplainError
from .files import write_text_atomic

MANIFEST = "manifest.json"
VERSION = 1
KINDS = ("explanation", "dataset", "exemplars", "benchmark")


def now() -> str:
    """The time now, ISO 8601 in UTC to the second (what manifests record)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def library_version() -> str:
    """The installed evoxplain version."""
    from . import __version__

    return __version__


@dataclass
class Manifest:
    """The description of one run's output folder.

    Attributes:
        kind: ``"explanation"``, ``"dataset"``, ``"exemplars"`` or ``"benchmark"``.
        model: the model's identity (a built-in name, a file name, an endpoint URL without
            credentials).
        settings: every setting of the run (JSON values), the seed included.
        files: what each written file is, ``{role: path relative to the folder}``.
        started, finished: ISO 8601 times (``finished`` empty while the run goes on).
        command: the command line that made it, if any.
        extra: anything else the run wants to say (queries, seconds, classes, ...).
    """

    kind: str
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    started: str = field(default_factory=now)
    finished: str = ""
    command: str = field(default_factory=lambda: " ".join(sys.argv))
    library: str = field(default_factory=library_version)
    python: str = field(default_factory=platform.python_version)
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    """Write ``folder/manifest.json`` atomically; returns its path."""
    if manifest.kind not in KINDS:
        raise EvoxplainError(f"a manifest's kind is one of {KINDS}, not {manifest.kind!r}")
    path = Path(folder) / MANIFEST
    write_text_atomic(path, json.dumps(asdict(manifest), indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of an output folder, or an error that says what the folder lacks."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise EvoxplainError(f"{folder} holds no {MANIFEST}: it is not a folder evoxplain wrote results to")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise EvoxplainError(f"{path} is of version {data.get('version')}; this evoxplain reads version {VERSION}")
        return Manifest(**data)
    except (json.JSONDecodeError, TypeError) as err:
        raise EvoxplainError(f"{path} is not a manifest evoxplain wrote: {err}") from None
