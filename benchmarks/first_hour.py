"""How long the commands of the README take on a CPU, as a new user runs them (start-up included).

Each command runs in a fresh process, in a temporary folder, timed from start to exit; the
README's and documentation's "how long things take" show the table this writes
(``results.md``, from ``results.json``; ``run.json`` holds the run's metadata). The data the scenarios need comes from
``$EVOXPLAIN_DATA`` or the download cache.

    python benchmarks/first_hour.py --out benchmarks/results/first_hour/cpu
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TITLE = "How long the README's commands take on a CPU"

# (what it is, the command as the README gives it)
COMMANDS = [
    ("explain the sample photo with EfficientNet-Lite0 (1000 queries)", "evoxplain explain"),
    ("explain a digit with the MNIST LeNet (2000 queries)", "evoxplain explain digit.npy --model lenet-mnist"),
    ("the same digit with LIME (2000 coalitions)", "evoxplain explain digit.npy --model lenet-mnist --method lime"),
    ("exemplars of one Fashion-MNIST class (4 searches)", "evoxplain exemplars fashion-mnist --target Trouser"),
    ("exemplars of one IMDB class (10 searches)", "evoxplain exemplars imdb --target positive"),
    ("exemplars of one UCI Adult class (trains a table VAE, 10 searches)", 'evoxplain exemplars adult --target ">50K"'),
]


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE)
    return done.stdout.strip() or "unknown"


def run(command: str, folder: Path) -> dict:
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


def markdown(result: dict) -> str:
    lines = [
        "# How long the README's commands take on a CPU",
        "",
        f"- Command: `{result['command']}`",
        f"- Machine: {result['machine']}",
        f"- Date: {result['date']}; evoxplain at commit {result['commit']}",
        "- Each command in a fresh process (Python start-up and model loading included), one after another. "
        "Wall seconds depend on what else the machine runs (see the load average); CPU seconds (user + "
        "system, all threads) are the work itself: on an idle machine with n cores the wall time is "
        "about CPU / n for the parallel parts.",
        "",
        "| what | command | wall seconds | CPU seconds |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        seconds = f"{row['seconds']:.0f}" if row["exit"] == 0 else f"failed (exit {row['exit']})"
        lines.append(f"| {row['what']} | `{row['command']}` | {seconds} | {row['cpu_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "first_hour" / "cpu")
    parser.add_argument("--only", nargs="*", help="run only the commands whose text contains one of these")
    options = parser.parse_args()
    import torch
    from evoxplain_zoo.data import load_mnist

    rows = []
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        np.save(folder / "digit.npy", load_mnist("test")[0][0, 0].numpy())  # a 28×28 array, as users have
        for what, command in COMMANDS:
            if options.only and not any(word in command for word in options.only):
                continue
            row = {"what": what, "command": command, **run(command, folder)}
            print(row, flush=True)
            rows.append(row)
    load = [round(v, 2) for v in os.getloadavg()]
    result = {
        "command": "python benchmarks/first_hour.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; load average {load_before} at the start, {load} at the end",
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
        "rows": rows,
    }
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (options.out / "results.md").write_text(markdown(result))
    (options.out / "run.json").write_text(json.dumps(run_json(result), indent=1) + "\n")


def run_json(result: dict) -> dict:
    """The run folder's metadata, as the other benchmarks' run folders have it."""
    meta = {key: result[key] for key in ("command", "date", "commit", "machine")}
    return {"benchmark": "first_hour", "title": TITLE, **meta, "status": "complete"}


if __name__ == "__main__":
    main()
