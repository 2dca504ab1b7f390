"""What every benchmark shares: settings from the command line, run metadata, timing, results written
as they come, and resume.

A benchmark is a module of ``benchmarks`` with a settings dataclass (``Settings``), a
``run(settings) -> rows`` that tests import and call, and a thin ``main`` (see
``benchmarks/README.md``, "How to write a benchmark"). Its results go to one run folder,
``benchmarks/results/<benchmark>/<run>/``:

* ``run.json``: what ran, where and when (:func:`run_metadata`: command, machine, commit, date,
  library versions) and whether it finished; the index ``benchmarks/results/README.md`` is made
  from these files (``python -m benchmarks.index``);
* ``results.json``: the same metadata (``meta``: the file stands alone), the settings and the
  rows, and any other section the benchmark keeps;
* ``results.md``: the same for a reader, a metadata header and what the benchmark renders.

:class:`RunFolder` rewrites all three after every row, so a run cut short keeps what it finished,
and with ``resume`` hands the rows of an earlier run of the same folder back to the benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results"
PACKAGES = ("numpy", "evoxplain", "evoxplain-zoo", "captum", "cma", "scikit-learn", "pandas")
"""Library versions recorded beside python and torch (those installed)."""


class BenchmarkError(Exception):
    """Settings that cannot run, or an earlier run that does not match; ``main`` prints it and exits."""


# -- settings ------------------------------------------------------------------------------------


def option(default: Any = dataclasses.MISSING, help: str = "", **argparse_options: Any) -> Any:
    """A settings field that is also a command-line option ``--field-name`` (``help``, and any
    ``argparse`` keyword such as ``choices`` or ``metavar``). Lists take a copy of ``default`` and
    are given as several words, or as one word split at ``sep=","`` where the field says so; a
    ``bool`` is a flag, False unless given.

    Example:
        >>> @dataclasses.dataclass
        ... class Settings:
        ...     images: int = option(100, "images scored")
        ...     budgets: list[int] = option([1000, 5000], "query budgets")
        >>> parse_settings(Settings, ["--budgets", "20", "40"])
        Settings(images=100, budgets=[20, 40])
    """
    metadata = {"help": help, **argparse_options}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _option_type(hint: Any) -> tuple[type, bool]:
    """``(element type, is a list)`` of a field's type hint, ``None`` dropped from unions."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True
    return hint, False


def parse_settings(cls: type, argv: Sequence[str] | None, description: str = "") -> Any:
    """The settings ``cls`` (a dataclass of :func:`option` fields) from command-line arguments."""
    name = getattr(cls, "benchmark", cls.__name__.lower())
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=description)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind, many = _option_type(hints[field.name])
        options = {k: v for k, v in field.metadata.items() if k not in ("help", "sep")}
        flag, text = "--" + field.name.replace("_", "-"), field.metadata.get("help")
        default = _default(field)
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=text)
            continue
        if many and "sep" in field.metadata:  # one word, "a,b,c"
            sep = field.metadata["sep"]
            options["type"] = lambda word, kind=kind, sep=sep: [kind(part) for part in word.split(sep) if part]
            options["nargs"] = None
        options.setdefault("type", kind)
        options.setdefault("nargs", "+" if many else None)
        required = default is dataclasses.MISSING
        parser.add_argument(flag, default=None if required else default, required=required, help=text, **options)
    return cls(**vars(parser.parse_args(argv)))


def _default(field: dataclasses.Field) -> Any:
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def command_of(settings: Any) -> str:
    """The command that runs ``settings``: ``python -m benchmarks.<name>`` and every option that
    differs from its default (``OMP_NUM_THREADS`` first where it is set).

    Example:
        >>> from benchmarks.momentum_dimension import Settings
        >>> command_of(Settings(runs=14, latent_dims=[16, 32]))
        'python -m benchmarks.momentum_dimension --latent-dims 16,32 --runs 14'
    """
    words = []
    for field in dataclasses.fields(settings):
        value, default = getattr(settings, field.name), _default(field)
        if value == default and default is not dataclasses.MISSING:
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            words += [flag] if value else []
        elif isinstance(value, list | tuple) and "sep" in field.metadata:
            words += [flag, field.metadata["sep"].join(map(str, value))]
        elif isinstance(value, list | tuple):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    return f"{env}python -m benchmarks.{settings.benchmark} {shlex.join(words)}".rstrip()


def settings_dict(settings: Any) -> dict[str, Any]:
    """The settings as JSON values (paths as strings)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(settings).items()}


# -- metadata ------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (other jobs sharing the CPU), where the OS reports them."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(v, 2) for v in os.getloadavg()]
    return None


def machine(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The hardware a run measures: CPU model, logical cores, torch threads, the GPU (or None) and
    a one-line ``summary``."""
    device = torch.device(device)
    threads = torch.get_num_threads()
    found = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": threads,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "load_average": load_average(),
    }
    cpu = f"{found['cpu']} ({found['cores']} logical CPUs, {threads} torch thread{'s' * (threads != 1)})"
    found["summary"] = f"{found['gpu']} (CUDA {found['cuda']}); {cpu}" if found["gpu"] else cpu
    return found


def versions() -> dict[str, str]:
    """Python's, torch's and the installed :data:`PACKAGES`' versions."""
    found = {"python": platform.python_version(), "torch": torch.__version__}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def git_commit() -> str | None:
    """The checkout's commit (short hash), ``+`` if tracked code outside the results differs from it."""

    def git(*args: str) -> str:
        found = subprocess.run(["git", "-C", str(REPOSITORY), *args], capture_output=True, text=True)
        return found.stdout.strip() if found.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")
    return (commit + "+" * bool(changed)) or None


def run_metadata(settings: Any, device: str | torch.device = "cpu") -> dict[str, Any]:
    """What a run's ``run.json`` holds: benchmark, title, command, date, commit, machine, versions."""
    found = machine(device)
    return {
        "benchmark": settings.benchmark,
        "title": settings.title,
        "command": command_of(settings),
        "date": datetime.date.today().isoformat(),
        "commit": git_commit(),
        "machine": found.pop("summary"),
        "hardware": found,
        "versions": versions(),
        "status": "running",
    }


# -- timing --------------------------------------------------------------------------------------


def synchronize(device: str | torch.device) -> None:
    """Wait for queued GPU work, so wall times include it (nothing on a CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Wall seconds of a block, the device synchronised at both ends.

    Example:
        >>> with Stopwatch("cpu") as watch:
        ...     _ = sum(range(1000))
        >>> watch.seconds > 0
        True
    """

    def __init__(self, device: str | torch.device = "cpu"):
        self.device, self.seconds = device, 0.0

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


# -- results -------------------------------------------------------------------------------------


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, written to a temporary file first and renamed (never half a file)."""
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(value, indent=1, default=str) + "\n")
    part.replace(path)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table (``|`` inside a cell escaped).

    Example:
        >>> markdown_table(["a", "b"], [[1, "x|y"]])
        ['| a | b |', '|---|---|', '| 1 | x\\\\|y |']
    """
    cell = lambda value: str(value).replace("|", "\\|")  # noqa: E731
    return ["| " + " | ".join(map(cell, header)) + " |", "|---" * len(header) + "|"] + [
        "| " + " | ".join(map(cell, row)) + " |" for row in rows
    ]


def header_lines(meta: dict[str, Any]) -> list[str]:
    """The Markdown header of a run: title, command, machine, commit and date, versions, status."""
    load = (meta.get("hardware") or {}).get("load_average")
    machine = meta["machine"] + (f"; load average {load} at the last write" if load else "")
    lines = [f"# {meta['title']}", "", f"- Command: `{meta['command']}`", f"- Machine: {machine}"]
    lines.append(f"- Date: {meta['date']}; commit {meta.get('commit') or 'unknown'}")
    if meta.get("versions"):
        lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    if meta.get("status") != "complete":
        lines.append(f"- **Incomplete**: {meta.get('status')}")
    return lines


class RunFolder:
    """One run's folder: ``run.json``, ``results.json`` and ``results.md``, rewritten by :meth:`save`.

    :attr:`meta` is the run's metadata, :attr:`results` what ``results.json`` holds beside it
    (``settings``, ``rows`` and the benchmark's own sections).

    ``render(results) -> lines`` writes the benchmark's part of ``results.md`` (below the
    metadata header), ``figures(folder, results)`` anything else (plots); both run at every save.
    With ``resume`` (by default the settings' own ``resume``), an earlier run's ``results.json`` in
    the folder is :attr:`earlier` (None otherwise) and its command is chained before this one's
    (``a && b`` reproduces the rows).

    Example:
        >>> from benchmarks.momentum_dimension import Settings
        >>> run = RunFolder(tmp / "run", Settings(runs=2))
        >>> run.rows.append({"x": 1}); run.save(); run.finish()
        >>> json.loads((tmp / "run" / "run.json").read_text())["status"]
        'complete'
    """

    def __init__(
        self,
        folder: Path | str,
        settings: Any,
        device: str | torch.device = "cpu",
        render: Callable[[dict[str, Any]], list[str]] | None = None,
        figures: Callable[[Path, dict[str, Any]], None] | None = None,
        resume: bool | None = None,
    ):
        self.folder, self.render, self.figures = Path(folder), render, figures
        self.meta = run_metadata(settings, device)
        self.results: dict[str, Any] = {"settings": settings_dict(settings), "rows": []}
        self.earlier = None
        resume = getattr(settings, "resume", False) if resume is None else resume
        if resume and (self.folder / "results.json").exists():
            self.earlier = json.loads((self.folder / "results.json").read_text())
            before = json.loads((self.folder / "run.json").read_text()) if (self.folder / "run.json").exists() else {}
            if before.get("command"):
                self.meta["command"] = f"{before['command']} && {self.meta['command']}"
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.results["rows"]

    def save(self, status: str | None = None) -> None:
        """Write everything as it stands (``status``: what is done so far, for a reader of a cut run)."""
        self.meta["status"] = status or self.meta["status"]
        self.meta["hardware"]["load_average"] = load_average()
        write_json(self.folder / "run.json", self.meta)
        write_json(self.folder / "results.json", {"meta": self.meta, **self.results})
        lines = header_lines(self.meta) + [""] + (self.render(self.results) if self.render else [])
        (self.folder / "results.md").write_text("\n".join(lines).rstrip("\n") + "\n")
        if self.figures is not None and self.rows:
            self.figures(self.folder, self.results)

    def finish(self) -> None:
        """Mark the run complete and write it."""
        self.save(status="complete")


def default_folder(settings: Any, name: str) -> Path:
    """``benchmarks/results/<benchmark>/<name>``: where a run goes unless ``--out`` says otherwise."""
    return RESULTS / settings.benchmark / name


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``count`` (None: unchanged) for the block, restored after it."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def main_of(cls: type, run: Callable[[Any], Any], argv: Sequence[str] | None) -> Any:
    """A benchmark's ``main``: settings from ``argv`` (the benchmark's module docstring's first line
    describes it in ``--help``), then ``run``; a :class:`BenchmarkError` exits with its message."""
    description = (sys.modules[cls.__module__].__doc__ or "").split("\n")[0]
    try:
        return run(parse_settings(cls, sys.argv[1:] if argv is None else argv, description))
    except BenchmarkError as err:
        raise SystemExit(f"{cls.benchmark}: {err}") from err
