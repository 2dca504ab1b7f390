"""Seconds per explanation on the CPU by batch size, every method side by side (MNIST LeNet).

A model call on a CPU has a size that suits it: batches too large cost more per input than
smaller ones (caches), so seconds compare fairly only at a batch size that suits each method.
This benchmark explains the same images with each method at each batch size, in turns (every
round runs every method and size once, so that the load of a shared machine falls on all alike),
and reports the median seconds per explanation and each method's best size.

    OMP_NUM_THREADS=1 python -m benchmarks.cpu_batch --data ../shared/data
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from benchmarks.aopc import DATASET_STD, NotebookGEEX, ShippedDefault
from benchmarks.harness import RunFolder, Stopwatch, default_folder, main_of, option
from evoxplain import GEEX, LIME, BlackBox, IntegratedGradients, KernelSHAP

METHODS = {
    "default": (ShippedDefault, {"shape": [1, 28, 28], "baseline": 0.0}),
    "bGEEX 14×14": (GEEX, {"distribution": "bernoulli", "mask_size": 14}),
    "GEEX reference": (NotebookGEEX, {"sigma": DATASET_STD["mnist"] / 2, "baseline": 0.0}),
    "LIME": (LIME, {"superpixel": 2}),
    "KernelSHAP": (KernelSHAP, {"superpixel": 2}),
    "IG (white-box)": (IntegratedGradients, {"steps": 50}),
}
"""The methods timed and their settings (those of the AOPC runs; IG takes no budget)."""


@dataclass
class Settings:
    """The batch sizes, budget, images and rounds."""

    benchmark: ClassVar[str] = "cpu_batch"
    title: ClassVar[str] = "Seconds per explanation on the CPU by batch size (MNIST LeNet)"
    data: str | None = option(None, "folder with mnist/ (default $EVOXPLAIN_DATA)")
    batch_sizes: list[int] = option([64, 128, 256, 1000], "model inputs per call")
    queries: int = option(1000, "query budget of the budgeted methods")
    images: int = option(8, "test images explained per measurement (from index 6000)")
    rounds: int = option(3, "rounds: every method and size once each, the median kept")
    out: Path | None = option(None, "the run folder (default benchmarks/results/cpu_batch/mnist)")


def seconds_per_explanation(model, images, cls: type, settings: dict, batch_size: int, queries: int) -> float:
    """Wall seconds per explanation of ``images`` by one method at one batch size."""
    blackbox = BlackBox(model, output="logits", batch_size=batch_size)
    budget = {} if cls is IntegratedGradients else {"queries": queries}
    explainer = cls(blackbox, seed=0, **settings, **budget)
    with Stopwatch(blackbox.device) as watch:
        explainer.explain(images, target=[0] * len(images), batched=True)
    return watch.seconds / len(images)


def run(settings: Settings) -> list[dict]:
    """Rounds of every (method, batch size); one row each with the seconds of every round."""
    from evoxplain_zoo.data import load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    model = load_lenet("mnist").eval()
    images = load_mnist("test", root=settings.data)[0][6000 : 6000 + settings.images]
    folder = RunFolder(settings.out or default_folder(settings, "mnist"), settings, render=markdown)
    folder.results["setup"] = {"images": f"MNIST test images 6000-{6000 + settings.images - 1}, target class 0"}
    for cls, options in METHODS.values():  # warm-up: imports, first calls
        seconds_per_explanation(model, images[:1], cls, options, settings.batch_sizes[0], settings.queries)
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(settings.rounds):
        for batch_size in settings.batch_sizes:
            for name, (cls, options) in METHODS.items():
                seconds = seconds_per_explanation(model, images, cls, options, batch_size, settings.queries)
                times.setdefault((name, batch_size), []).append(seconds)
        folder.rows[:] = [
            {"method": name, "batch_size": size, "seconds": statistics.median(s), "rounds": s}
            for (name, size), s in times.items()
        ]
        folder.save()
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """A table of median seconds per explanation, methods by batch size, each method's best in bold."""
    rows = results["rows"]
    sizes = sorted({r["batch_size"] for r in rows})
    lines = [f"- **{k}**: {v}" for k, v in results.get("setup", {}).items()]
    lines += ["", "| method | " + " | ".join(f"batch {s}" for s in sizes) + " | best | largest / best |"]
    lines.append("|---" * (len(sizes) + 3) + "|")
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = {r["batch_size"]: r["seconds"] for r in rows if r["method"] == name}
        best = min(mine, key=mine.__getitem__)
        cells = [(f"**{mine[s]:.3f}**" if s == best else f"{mine[s]:.3f}") if s in mine else "—" for s in sizes]
        ratio = mine[sizes[-1]] / mine[best] if sizes[-1] in mine else float("nan")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {best} | {ratio:.2f} |")
    return lines + ["", "Seconds per explanation, the median of the rounds (each round's seconds: results.json)."]


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
