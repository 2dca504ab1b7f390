"""The bookkeeping cost of lockstep exemplar searches (``run_many``), apart from the models.

ES with momentum runs a lockstep generation's mutation, fitness, selection and stopping rule as
tensor operations over all its searches (``_MomentumState.ask_all`` / ``tell_all``); the other
methods hand each search its rows one by one (``SearchState.ask_all`` / ``tell_all``). Both give
the same searches bit for bit. This script times both side by side on a model and generator that
cost next to nothing (a 32 → 32 → 7 pair of matrix products), so what is timed is the bookkeeping
that a GPU cannot hide: microseconds per search per generation, at several numbers of searches.

    OMP_NUM_THREADS=1 python benchmarks/lockstep_overhead.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

import evoxplain
from evoxplain.exemplars import ExemplarSearch, GradientSearch, RandomSearch
from evoxplain.exemplars.engine import SearchState
from evoxplain.exemplars.search import _MomentumState


@contextlib.contextmanager
def per_search_protocol() -> Iterator[None]:
    """ES driven like the other methods: each search asked and told on its own."""
    saved = _MomentumState.ask_all, _MomentumState.tell_all
    _MomentumState.ask_all = classmethod(SearchState.ask_all.__func__)
    _MomentumState.tell_all = classmethod(SearchState.tell_all.__func__)
    try:
        yield
    finally:
        _MomentumState.ask_all, _MomentumState.tell_all = saved


def toy_search(seed: int) -> ExemplarSearch:
    """ES with momentum on a near-free generator and black box (7 classes, latent size 32)."""
    weights = torch.Generator().manual_seed(0)
    mixing, readout = torch.randn(32, 32, generator=weights) * 0.3, torch.randn(32, 7, generator=weights)
    return ExemplarSearch(
        lambda x: x @ readout, lambda z: torch.tanh(z @ mixing), 32, max_queries=1050, seed=seed, confidence=0.99
    )


def timed(searches: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of one ``run_many`` of ``searches`` targets, both ways, interleaved."""
    targets = [i % 7 for i in range(searches)]
    best = {"tensor": float("inf"), "per-search": float("inf")}
    rounds = None
    for _ in range(repeats):
        for way in best:
            with per_search_protocol() if way == "per-search" else contextlib.nullcontext():
                start = time.perf_counter()
                results = toy_search(seed=0).run_many(targets)
                best[way] = min(best[way], time.perf_counter() - start)
            count = sum(r.generations + 1 for r in results)
            assert rounds in (None, count), "the two ways ran different searches"
            rounds = count
    return {**best, "search_rounds": rounds}


def one_search_alone(repeats: int) -> dict[str, float]:
    """Microseconds per generation of ``run()`` (one search, no lockstep) for ES, GD and random search."""
    torch.manual_seed(0)  # the toy modules' initial weights only; the searches draw from their own seeds
    generator, model = torch.nn.Linear(32, 32).eval(), torch.nn.Linear(32, 7).eval()
    searches = {
        "ES-momentum": lambda: ExemplarSearch(model, generator, 32, max_queries=30_000, seed=0, confidence=0.9999999),
        "GD-momentum": lambda: GradientSearch(model, generator, 32, max_queries=600, seed=0, confidence=0.9999999),
        "random": lambda: RandomSearch(model, generator, 32, max_queries=30_000, seed=0, confidence=0.9999999),
    }
    best = {}
    for name, make in searches.items():
        seconds = []
        for _ in range(repeats):
            search = make()
            start = time.perf_counter()
            result = search.run(3)
            seconds.append(time.perf_counter() - start)
        best[name] = 1e6 * min(seconds) / (result.generations + 1)
    return best


def code_version() -> str:
    """The commit of the evoxplain checkout that is imported (it may be another checkout's, by PYTHONPATH)."""
    folder = Path(evoxplain.__file__).parent
    found = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--name", default="lockstep_overhead", help="results go to <out>/<name>.md")
    args = parser.parse_args(argv)
    rows = []
    for n in args.searches:
        t = timed(n, args.repeats)
        rows.append((n, t["search_rounds"], *(1e6 * t[w] / t["search_rounds"] for w in ("per-search", "tensor"))))
        print(rows[-1], flush=True)
    alone = one_search_alone(args.repeats)
    print(alone, flush=True)
    env = "OMP_NUM_THREADS=1 " if torch.get_num_threads() == 1 else ""
    command = f"{env}python benchmarks/lockstep_overhead.py {shlex.join(sys.argv[1:] if argv is None else argv)}"
    lines = [
        "# Lockstep bookkeeping of ES with momentum (`run_many`), apart from the models",
        "",
        f"- Command: `{command.strip()}`",
        f"- Machine: {platform.machine()} CPU, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"load average {[round(x, 2) for x in os.getloadavg()]} at the end",
        f"- Date: {datetime.date.today().isoformat()}; evoxplain imported from commit {code_version()}",
        "- A near-free generator and black box (matrix products, latent 32, 7 classes), targets cycling through "
        "the classes, confidence 0.99, budget 1050; best of "
        f"{args.repeats} interleaved repeats. The two ways run the same searches (checked).",
        "",
        "| searches | search-generations | per-search protocol, µs each | tensor operations, µs each | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {r} | {a:.0f} | {b:.0f} | {a / b:.2f}× |" for n, r, a, b in rows]
    lines += [
        "",
        "One search alone (`run()`, no lockstep) on a near-free pair of `torch.nn.Linear` layers, "
        "µs per generation, best of the repeats (the model's own time included):",
        "",
        "| " + " | ".join(alone) + " |",
        "|" + "---|" * len(alone),
        "| " + " | ".join(f"{v:.0f}" for v in alone.values()) + " |",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
