"""How long the commands of the README take on a CPU, as a new user runs them (start-up included).

Each command runs in a fresh process, in a temporary folder, timed from start to exit; the
README's and documentation's "how long things take" show the table this writes
(``results.md``, from ``results.json``; ``run.json`` holds the run's metadata). The data the scenarios need comes from
``$EVOXPLAIN_DATA`` or the download cache.

    python -m benchmarks.first_hour            # results/first_hour/cpu
"""

from __future__ import annotations

import dataclasses
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from benchmarks.harness import RunFolder, default_folder, main_of, markdown_table, option

# (what it is, the command as the README gives it)
COMMANDS = [
    ("explain the sample photo with EfficientNet-Lite0 (1000 queries)", "evoxplain explain"),
    ("explain a digit with the MNIST LeNet (2000 queries)", "evoxplain explain digit.npy --model lenet-mnist"),
    ("the same digit with LIME (2000 coalitions)", "evoxplain explain digit.npy --model lenet-mnist --method lime"),
    ("exemplars of one Fashion-MNIST class (4 searches)", "evoxplain exemplars fashion-mnist --target Trouser"),
    ("exemplars of one IMDB class (10 searches)", "evoxplain exemplars imdb --target positive"),
    ("exemplars of one UCI Adult class (trains a table VAE, 10 searches)", 'evoxplain exemplars adult --target ">50K"'),
]


@dataclasses.dataclass
class Settings:
    """What one run times (each a command-line option ``--name``)."""

    benchmark: ClassVar[str] = "first_hour"
    title: ClassVar[str] = "How long the README's commands take on a CPU"
    only: list[str] = option([], "run only the commands whose text contains one of these words")
    out: Path | None = option(None, "the run folder (default benchmarks/results/first_hour/cpu)")


def time_command(command: str, folder: Path) -> dict:
    """Run ``command`` in ``folder`` with the evoxplain next to this Python; its wall time, and the
    CPU time it used (user + system: what a busy shared machine does not inflate)."""
    args = shlex.split(command)
    args[0] = str(Path(sys.executable).with_name("evoxplain"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "exit": done.returncode}


def render(results: dict) -> list[str]:
    """The table of ``results.md`` (below the harness's metadata header)."""
    lines = [
        "Each command in a fresh process (Python start-up and model loading included), one after another. "
        "Wall seconds depend on what else the machine runs (see the load average); CPU seconds (user + "
        "system, all threads) are the work itself: on an idle machine with n cores the wall time is "
        "about CPU / n for the parallel parts.",
        "",
    ]
    rows = []
    for row in results["rows"]:
        seconds = f"{row['seconds']:.0f}" if row["exit"] == 0 else f"failed (exit {row['exit']})"
        rows.append([row["what"], f"`{row['command']}`", seconds, f"{row['cpu_seconds']:.0f}"])
    return lines + markdown_table(["what", "command", "wall seconds", "CPU seconds"], rows)


def run(settings: Settings) -> Path:
    """Time every command (or those ``only`` names) in a scratch folder holding a digit, into the run folder."""
    from evoxplain_zoo.data import load_mnist

    folder = RunFolder(settings.out or default_folder(settings, "cpu"), settings, render=render)
    folder.meta["load_average_at_start"] = folder.meta["hardware"]["load_average"]
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "digit.npy", load_mnist("test")[0][0, 0].numpy())  # a 28×28 array, as users have
        for what, command in COMMANDS:
            if settings.only and not any(word in command for word in settings.only):
                continue
            folder.rows.append({"what": what, "command": command, **time_command(command, Path(scratch))})
            print(folder.rows[-1], flush=True)
            folder.save(status=f"{len(folder.rows)} commands timed")
    folder.finish()
    return folder.folder


def main(argv: list[str] | None = None) -> Path:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
