"""The held-out search behind the small-image default: every candidate at every budget on held-out images.

The small-image default (``recommended_settings`` for images of at most 64 pixels a side) is a
rule by budget. This benchmark measures what it is chosen from: AOPC deletion (replacement 0, the
candidates' baseline 0, f = the probability) of a few GEEX settings on the held-out MNIST and
Fashion-MNIST test images 5000+ (never the scored ones), at every budget, so that the choice at
each budget can be read off and the rule checked to keep gaining from its budget.

    python -m benchmarks.small_default --data ../shared/data --datasets mnist --budgets 1000 5000 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from benchmarks.aopc import Data, evaluate, paired_difference
from benchmarks.harness import BenchmarkError, RunFolder, default_folder, main_of, option
from evoxplain import GEEX, BlackBox

REGRESSION = {"estimator": "regression", "integrated": False, "design": "orthogonal"}
CANDIDATES = {
    "bGEEX 14×14": {"mask_size": 14},
    "bGEEX 14×14, orthogonal": {"mask_size": 14, "design": "orthogonal"},
    "regression 7×7": {**REGRESSION, "mask_size": 7},
    "regression 14×14": {**REGRESSION, "mask_size": 14},
    "regression 28×28": {**REGRESSION, "mask_size": 28},
    "regression 14×14, integrated": {**REGRESSION, "mask_size": 14, "integrated": True},
    "regression 28×28, integrated": {**REGRESSION, "mask_size": 28, "integrated": True},
}
"""The settings compared (Bernoulli masks, f = the probability, baseline 0; "regression": the
least-squares estimator on crisp cells, orthogonal signs, not integrated unless said)."""


@dataclass
class Settings:
    """The datasets, budgets and held-out images of the search."""

    benchmark: ClassVar[str] = "small_default"
    title: ClassVar[str] = "The small-image default's candidates on held-out images, by budget"
    data: str | None = option(None, "folder with mnist/ (default $EVOXPLAIN_DATA)")
    datasets: list[str] = option(["mnist", "fashion-mnist"], "datasets (LeNet each)")
    budgets: list[int] = option([1000, 5000, 20000], "query budgets")
    held_out: int = option(50, "held-out test images, from index 5000")
    candidates: list[str] | None = option(None, "only these candidates", nargs="*")
    batch_size: int = option(250, "model inputs per call")
    resume: bool = option(False, "keep the rows of an earlier run in the folder")
    out: Path | None = option(None, "the run folder (default benchmarks/results/small_default/held-out)")


def held_out_data(dataset: str, settings: Settings) -> Data:
    """The LeNet of ``dataset`` and its held-out test images (5000 on), replacement 0."""
    from evoxplain_zoo.data import load_fashion_mnist, load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    x, _ = (load_mnist if dataset == "mnist" else load_fashion_mnist)("test", root=settings.data)
    held = x[5000 : 5000 + settings.held_out]
    blackbox = BlackBox(load_lenet(dataset).eval(), output="logits", batch_size=settings.batch_size)
    data = Data(blackbox, scored=held, held=held, replacement=0.0, stride=10)
    data.held_targets = blackbox.predict(held).tolist()
    return data


def run(settings: Settings) -> list[dict]:
    """One row per (dataset, budget, candidate), written as it comes; ``resume`` keeps earlier rows."""
    names = settings.candidates or list(CANDIDATES)
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        raise BenchmarkError(f"--candidates: no candidate {unknown}; the candidates are {list(CANDIDATES)}")
    folder = RunFolder(
        settings.out or default_folder(settings, "held-out"), settings, render=markdown, resume=settings.resume
    )
    folder.results["setup"] = {
        "held-out images": f"test images 5000-{5000 + settings.held_out - 1}; targets = predicted classes",
        "scoring": "AOPC deletion, pixels replaced by 0 (black), stride 10; baseline 0, f = probability, seed 0",
    }
    folder.rows[:] = folder.earlier["rows"] if folder.earlier else []
    done = {(r["dataset"], r["budget"], r["candidate"]) for r in folder.rows}
    for dataset in settings.datasets:
        data = held_out_data(dataset, settings)
        for budget in sorted(settings.budgets):
            for name in names:
                if (dataset, budget, name) in done:
                    continue
                chosen = {"distribution": "bernoulli", "baseline": 0.0, **CANDIDATES[name], "queries": budget}
                result = evaluate(data, GEEX, chosen, held_out=True, insertion=False)
                result.pop("deletion_curve")
                folder.rows.append({"dataset": dataset, "budget": budget, "candidate": name, **result})
                print(dataset, budget, name, round(result["deletion"], 4), flush=True)
                folder.save(status=f"{dataset} @ {budget}: {name} done")
    folder.finish()
    return folder.rows


def best_by_budget(rows: list[dict], dataset: str) -> dict[int, dict]:
    """Each budget's best candidate on ``dataset`` by held-out AOPC deletion."""
    best: dict[int, dict] = {}
    for r in rows:
        if r["dataset"] == dataset and (r["budget"] not in best or r["deletion"] > best[r["budget"]]["deletion"]):
            best[r["budget"]] = r
    return best


def markdown(results: dict) -> list[str]:
    """The setup, a table per dataset (candidates by budget) and each budget's best against the rest."""
    rows = results["rows"]
    lines = [f"- **{k}**: {v}" for k, v in results.get("setup", {}).items()]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        budgets = sorted({r["budget"] for r in mine})
        lines += ["", f"## {dataset}", "", "| candidate | " + " | ".join(f"{b} queries" for b in budgets) + " |"]
        lines.append("|---" * (len(budgets) + 1) + "|")
        for name in dict.fromkeys(r["candidate"] for r in mine):
            cells = {
                r["budget"]: f"{r['deletion']:.4f} ± {r['deletion_se']:.4f}" for r in mine if r["candidate"] == name
            }
            lines.append(f"| {name} | " + " | ".join(cells.get(b, "—") for b in budgets) + " |")
        lines += ["", "Each budget's best against every other candidate, image by image:", ""]
        for budget, best in best_by_budget(rows, dataset).items():
            others = [r for r in mine if r["budget"] == budget and r is not best]
            named = {**best, "method": best["candidate"]}
            lines += [f"- {budget} queries: {paired_difference(named, {**r, 'method': r['candidate']})}"
                      for r in others]  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    torch.set_num_threads(1)
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
