"""Does momentum's gain grow with the latent size? ES with and without momentum on synthetic models.

The exemplar paper searched a 512-d GAN latent and found momentum 19 % faster; our FER generators
have 16- and 32-d latents and gain 1–7 %. This script takes the latent size out of the question:
a fixed random generator ``G(z) = tanh(A z / √l)`` (l → 128) and a linear 7-class black box
``C(x) = c · B x / √128`` whose confidence scale ``c`` sets how far a search must travel. For each
latent size and scale it runs the same targets and seeds with α = 0.3 and α = 0 (Algorithm 1, the
paper's other settings) and reports success and queries, also over the runs both converged.

    python -m benchmarks.momentum_dimension
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from benchmarks.harness import RunFolder, default_folder, main_of, option, torch_threads
from evoxplain import ExemplarSearch

CLASSES, WIDTH = 7, 128


@dataclass
class Settings:
    """The latent sizes and confidence scales compared, and the searches' runs, budget and momentum."""

    benchmark: ClassVar[str] = "momentum_dimension"
    title: ClassVar[str] = "Momentum's gain against the latent size (synthetic black boxes)"
    latent_dims: list[int] = option([8, 32, 128, 512], "latent sizes l", sep=",")
    scales: list[float] = option([2.0, 1.5, 1.2], "confidence scales c: smaller = a longer search", sep=",")
    runs: int = option(203, "paired runs per cell")
    budget: int = option(5050, "per-search query budget")
    momentum: float = option(0.3, "α compared with α = 0")
    out: Path | None = option(None, "the run folder (default benchmarks/results/momentum_dimension/synthetic)")


def synthetic(latent_dim: int, scale: float):
    """The generator and black box for one latent size (weights seeded by the size)."""
    g = torch.Generator().manual_seed(latent_dim)
    a = torch.randn(WIDTH, latent_dim, generator=g)
    b = torch.randn(CLASSES, WIDTH, generator=g)
    return (lambda z: scale * z @ b.T / WIDTH**0.5), (lambda z: torch.tanh(z @ a.T / latent_dim**0.5))


def mean_converged(results) -> float | None:
    """Mean queries of the converged searches (None when none converged)."""
    queries = [r.queries for r in results if r.converged]
    return float(np.mean(queries)) if queries else None


def compare(latent_dim: int, scale: float, runs: int, budget: int, momentum: float) -> dict:
    """ES with ``momentum`` and plain ES on the same targets and random streams."""
    model, generator = synthetic(latent_dim, scale)
    targets = [i % CLASSES for i in range(runs)]
    results = {}
    for alpha in (momentum, 0.0):
        search = ExemplarSearch(
            model, generator, latent_dim, momentum=alpha, max_queries=budget, seed=0, batch_size=4096
        )
        results[alpha] = search.run_many(targets)
    ours, plain = results[momentum], results[0.0]
    both = [(a.queries, b.queries) for a, b in zip(ours, plain, strict=True) if a.converged and b.converged]
    row = {
        "latent_dim": latent_dim,
        "scale": scale,
        "converged": [sum(r.converged for r in ours), sum(r.converged for r in plain)],
        "mean_queries": [mean_converged(ours), mean_converged(plain)],
        "paired_runs": len(both),
        "paired_mean_queries": None,
        "percent_fewer_paired": None,
        "percent_fewer_paired_se": None,
    }
    if len(both) > 1:
        with_momentum, without = np.asarray(both, dtype=float).T
        row["paired_mean_queries"] = [float(with_momentum.mean()), float(without.mean())]
        row["percent_fewer_paired"] = float(100 * (1 - with_momentum.mean() / without.mean()))
        saved = without - with_momentum
        row["percent_fewer_paired_se"] = float(100 * saved.std(ddof=1) / len(both) ** 0.5 / without.mean())
    return row


def markdown(results: dict) -> list[str]:
    """The setup and one table line per cell."""
    s = results["settings"]
    lines = [
        f"- {s['runs']} runs per cell (target class i mod 7, random stream i of seed 0, the same for both "
        f"methods), budget {s['budget']} queries, confidence 0.95; t = 50, k = 10, m = 2, s = 0.5, u = 5; "
        f"α = {s['momentum']} against α = 0. Generator tanh(A z / √l) into {WIDTH} dims, black box "
        f"c · B x / √{WIDTH} with {CLASSES} classes (A, B standard normal, seeded by l).",
        "",
        "| scale c | latent l | converged (α / 0) | mean queries (α / 0) | both converged | paired mean (α / 0) | "
        "momentum: fewer queries (paired, ± s.e.) |",
        "|---|---|---|---|---|---|---|",
    ]

    def fmt(x: float | None) -> str:
        return "–" if x is None else f"{x:.0f}"

    for r in results["rows"]:
        pm = r["paired_mean_queries"] or [None, None]
        gain = "–" if r["percent_fewer_paired"] is None else f"{r['percent_fewer_paired']:.1f}%"
        if r["percent_fewer_paired_se"] is not None:
            gain += f" ± {r['percent_fewer_paired_se']:.1f}"
        lines.append(
            f"| {r['scale']:g} | {r['latent_dim']} | {r['converged'][0]} / {r['converged'][1]} | "
            f"{fmt(r['mean_queries'][0])} / {fmt(r['mean_queries'][1])} | {r['paired_runs']} | "
            f"{fmt(pm[0])} / {fmt(pm[1])} | {gain} |"
        )
    return lines


def run(settings: Settings) -> list[dict]:
    """One row per (scale, latent size), ES with and without momentum on the same runs (one torch thread)."""
    folder = RunFolder(settings.out or default_folder(settings, "synthetic"), settings, render=markdown)
    with torch_threads(1):
        for scale in settings.scales:
            for latent_dim in settings.latent_dims:
                row = compare(
                    latent_dim, float(scale), runs=settings.runs, budget=settings.budget, momentum=settings.momentum
                )
                folder.rows.append(row)
                print(row, flush=True)
                folder.save()
    folder.finish()
    return folder.rows


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
