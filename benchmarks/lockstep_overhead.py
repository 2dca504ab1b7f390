"""The bookkeeping cost of lockstep exemplar searches (``run_many``), apart from the models.

ES with momentum runs a lockstep generation's mutation, fitness, selection and stopping rule as
tensor operations over all its searches (``_MomentumState.ask_all`` / ``tell_all``); the other
methods hand each search its rows one by one (``SearchState.ask_all`` / ``tell_all``). Both give
the same searches bit for bit. This script times both side by side on a model and generator that
cost next to nothing (a 32 → 32 → 7 pair of matrix products), so what is timed is the bookkeeping
that a GPU cannot hide: microseconds per search per generation, at several numbers of searches.

    OMP_NUM_THREADS=1 python -m benchmarks.lockstep_overhead
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

import evoxplain
from benchmarks.harness import RunFolder, default_folder, main_of, option
from evoxplain.exemplars import ExemplarSearch, GradientSearch, RandomSearch
from evoxplain.exemplars.engine import SearchState
from evoxplain.exemplars.search import _MomentumState


@dataclass
class Settings:
    """The numbers of lockstep searches timed and the repeats (the best of which counts)."""

    benchmark: ClassVar[str] = "lockstep_overhead"
    title: ClassVar[str] = "Lockstep bookkeeping of ES with momentum (`run_many`), apart from the models"
    searches: list[int] = option([10, 100, 1000], "searches run in lockstep")
    repeats: int = option(5, "interleaved repeats, the best counts")
    out: Path | None = option(None, "the run folder (default benchmarks/results/lockstep_overhead/<commit>)")


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


def run(settings: Settings) -> list[dict]:
    """One row per number of searches (µs per search and generation, both ways); ``alone``: one
    search's µs per generation without lockstep."""
    folder = RunFolder(settings.out or default_folder(settings, code_version()), settings, render=markdown)
    folder.results["evoxplain_commit"] = code_version()
    for n in settings.searches:
        t = timed(n, settings.repeats)
        per = {w: 1e6 * t[w] / t["search_rounds"] for w in ("per-search", "tensor")}
        folder.rows.append({"searches": n, "search_rounds": t["search_rounds"], "per_search_us": per["per-search"],
                            "tensor_us": per["tensor"]})  # fmt: skip
        print(folder.rows[-1], flush=True)
        folder.save()
    folder.results["alone"] = one_search_alone(settings.repeats)
    print(folder.results["alone"], flush=True)
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The setup and the two tables."""
    alone = results.get("alone", {})
    lines = [
        f"- evoxplain imported from commit {results['evoxplain_commit']}",
        "- A near-free generator and black box (matrix products, latent 32, 7 classes), targets cycling through "
        "the classes, confidence 0.99, budget 1050; best of "
        f"{results['settings']['repeats']} interleaved repeats. The two ways run the same searches (checked).",
        "",
        "| searches | search-generations | per-search protocol, µs each | tensor operations, µs each | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        a, b = r["per_search_us"], r["tensor_us"]
        lines.append(f"| {r['searches']} | {r['search_rounds']} | {a:.0f} | {b:.0f} | {a / b:.2f}× |")
    if alone:
        lines += [
            "",
            "One search alone (`run()`, no lockstep) on a near-free pair of `torch.nn.Linear` layers, "
            "µs per generation, best of the repeats (the model's own time included):",
            "",
            "| " + " | ".join(alone) + " |",
            "|" + "---|" * len(alone),
            "| " + " | ".join(f"{v:.0f}" for v in alone.values()) + " |",
        ]
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
