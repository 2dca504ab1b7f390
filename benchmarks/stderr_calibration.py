"""Are GEEX's standard errors right on real models? Reported errors against the spread over seeds.

For each method, each input is explained with ``--seeds`` different seeds at the same budget; per
input element, the mean reported standard error (``Explanation.stderr``) is divided by the
standard deviation of the values over those seeds. A calibrated error gives ratios near 1 (with
S seeds, a standard deviation is itself known to about ±1/√(2(S − 1))). The settings are fixed
(the large-image default and σ 0.1 on digits), not tuned: the question is the errors, not the values.

    python -m benchmarks.stderr_calibration --data ../shared/data --dataset mnist --images 4 --seeds 20
    python -m benchmarks.stderr_calibration --data ../shared/data --dataset imagenet --images 1 --seeds 10

``--design both`` explains every input with both designs (``GEEX(design=...)``, independent
directions and orthogonal blocks) on the same seeds, and reports the orthogonal design's spread over
seeds relative to the random one's (its variance reduction) and how far apart the two designs'
mean values are (the same expectation: |z| about 0.8 on average); results then go to
``benchmarks/results/stderr_calibration/<dataset>-designs/`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from benchmarks.harness import BenchmarkError, RunFolder, default_folder, main_of, option
from evoxplain import GEEX, BlackBox

SMALL = {  # 28×28 digits
    "GE (σ 0.1)": dict(integrated=False, sigma=0.1),
    "GEEX (σ 0.1)": dict(sigma=0.1),
    "GERS 14×14 (σ 0.1)": dict(sigma=0.1, mask_size=(14, 14)),
    "bGEEX 14×14 (the default)": dict(distribution="bernoulli", mask_size=(14, 14)),
    "bGEEX + regression 14×14": dict(distribution="bernoulli", estimator="regression", mask_size=(14, 14)),
}
LARGE = {  # 224×224 photographs
    "bGEEX + regression 14×14, no path (the default)": dict(
        distribution="bernoulli", estimator="regression", mask_size=(14, 14), integrated=False, baseline="blur"
    ),
    "bGEEX 14×14": dict(distribution="bernoulli", mask_size=(14, 14), baseline="blur"),
}


@dataclass
class Settings:
    """The inputs, seeds and budget of a calibration run, and which designs and methods it compares."""

    benchmark: ClassVar[str] = "stderr_calibration"
    dataset: str = option("mnist", "the images and their model", choices=["mnist", "fashion-mnist", "imagenet"])
    data: str | None = option(None, "the data folder (default $EVOXPLAIN_DATA)")
    images: int = option(4, "inputs explained")
    seeds: int = option(20, "explanations of each input, one per seed")
    queries: int = option(1000, "query budget of each explanation")
    batch_size: int = option(500, "model inputs per call")
    design: str = option("random", "mask designs (both: each)", choices=["random", "orthogonal", "both"])
    methods: list[str] | None = option(None, "only these methods (default: all)", nargs="*")
    out: Path | None = option(None, "the run folder (default results/stderr_calibration/<dataset>[-<design>])")

    @property
    def title(self) -> str:
        return f"Standard errors against the spread over seeds ({self.dataset})"

    @property
    def folder(self) -> Path:
        suffix = {"random": "", "orthogonal": "-orthogonal", "both": "-designs"}[self.design]
        return Path(self.out) if self.out else default_folder(self, self.dataset + suffix)


def load(settings: Settings) -> tuple[torch.nn.Module, torch.Tensor, dict[str, dict]]:
    """The model, the inputs and the methods (those ``--methods`` names, if given)."""
    if settings.dataset == "imagenet":
        from evoxplain_zoo.data import load_imagenet_samples
        from evoxplain_zoo.models.efficientnet import efficientnet_lite0

        x = load_imagenet_samples(settings.data).images
        model, inputs, methods = efficientnet_lite0(), x[64 : 64 + settings.images], LARGE  # unscored by AOPC (0–63)
    else:
        from evoxplain_zoo.data import load_fashion_mnist, load_mnist
        from evoxplain_zoo.models.lenet import load_lenet

        x, _ = (load_mnist if settings.dataset == "mnist" else load_fashion_mnist)("test", settings.data)
        model, inputs, methods = load_lenet(settings.dataset), x[: settings.images], SMALL
    if settings.methods is not None:
        unknown = set(settings.methods) - set(methods)
        if unknown:
            raise BenchmarkError(f"unknown methods {sorted(unknown)}; choose from {list(methods)}")
        methods = {name: options for name, options in methods.items() if name in settings.methods}
    return model, inputs, methods


def calibration(blackbox: BlackBox, inputs: torch.Tensor, options: dict, settings: Settings) -> dict[str, Any]:
    """Each input explained with every seed: the ratios of reported error to spread, the share of
    values beyond two reported errors, and the spread and mean values per element."""
    ratios, shares, spreads, means = [], [], [], []
    for x in inputs:
        runs = [GEEX(blackbox, queries=settings.queries, seed=s, **options).explain(x) for s in range(settings.seeds)]
        values = torch.stack([r.values for r in runs]).flatten(1)
        reported = torch.stack([r.stderr for r in runs]).flatten(1)
        spread = values.std(dim=0)
        moving = spread > 1e-6 * spread.max()  # elements whose values change with the seed at all
        ratios.append(reported.mean(dim=0)[moving] / spread[moving])
        shares.append(float((values.abs() > 2 * reported).float().mean()))
        spreads.append(spread)
        means.append(values.mean(dim=0))
    return {"ratio": torch.cat(ratios), "share": sum(shares) / len(shares), "spread": torch.cat(spreads),
            "mean": torch.cat(means)}  # fmt: skip


def run(settings: Settings) -> list[dict]:
    """One row per method and design (the orthogonal row of ``--design both`` compared with the
    random row before it)."""
    designs = ["random", "orthogonal"] if settings.design == "both" else [settings.design]
    model, inputs, methods = load(settings)
    blackbox = BlackBox(model.eval(), output="logits", batch_size=settings.batch_size)
    folder = RunFolder(settings.folder, settings, render=markdown)
    folder.results["setup"] = {
        "inputs": f"{len(inputs)} {settings.dataset} images"
        + (" (samples 64+, unscored by the AOPC runs)" if settings.dataset == "imagenet" else " (test images 0+)"),
        "seeds": settings.seeds,
        "queries": settings.queries,
        **({"design": settings.design} if settings.design != "random" else {}),
    }
    previous: dict[str, torch.Tensor] = {}  # the random design's spread and mean values, for the orthogonal row
    for (name, options), design in itertools.product(methods.items(), designs):
        options = {**options, "design": design} if settings.design != "random" else options
        started = time.perf_counter()
        found = calibration(blackbox, inputs, options=options, settings=settings)
        quantiles = found["ratio"].quantile(torch.tensor([0.05, 0.5, 0.95])).tolist()
        row = {
            "method": name,
            "settings": options,
            "elements": len(found["ratio"]),
            "ratio q05 / median / q95": [round(q, 3) for q in quantiles],
            "share of values beyond 2 s.e.": round(found["share"], 3),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if design == "orthogonal" and settings.design == "both":  # against the random row just before
            row.update(against_random(found, previous, settings.seeds))
        previous = {"spread": found["spread"], "mean": found["mean"]}
        folder.rows.append(row)
        print(row, flush=True)
        folder.save()
    folder.finish()
    return folder.rows


def against_random(found: dict, random: dict, seeds: int) -> dict[str, float]:
    """The orthogonal design's spread relative to the random one's, and their mean values apart."""
    rms = lambda t: float(t.square().mean().sqrt())  # noqa: E731
    z = (found["mean"] - random["mean"]) / ((found["spread"].square() + random["spread"].square()) / seeds).sqrt()
    return {
        "spread vs random (rms)": round(rms(found["spread"]) / rms(random["spread"]), 3),
        "mean |z| vs random": round(float(z[z.isfinite()].abs().mean()), 3),
    }


def markdown(results: dict) -> list[str]:
    """The setup, what the columns mean, and one table line per row."""
    setup, seeds = results["setup"], results["settings"]["seeds"]
    both = setup.get("design") == "both"
    lines = [f"- **{key}**: {value}" for key, value in setup.items()]
    lines += [
        "- **ratio**: per input element, the mean reported `stderr` over the seeds divided by the standard "
        f"deviation of the values over the seeds (1 = calibrated; with {seeds} seeds the standard deviation "
        f"itself is known to about ±{100 / (2 * (seeds - 1)) ** 0.5:.0f} %)",
        "",
    ]
    if both:
        lines += [
            "- **spread vs random**: the orthogonal design's standard deviation over seeds divided by the random "
            "design's (root mean square over the elements); **mean |z|**: the two designs' mean values apart, in "
            "standard errors of that difference (same expectation: about 0.8)",
        ]
    lines += [
        "",
        "| method | design | elements | ratio: 5 % / median / 95 % | values beyond 2 s.e. | seconds |"
        + (" spread vs random | mean abs z |" if both else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if both else ""),
    ]
    for r in results["rows"]:
        q = " / ".join(f"{v:.2f}" for v in r["ratio q05 / median / q95"])
        line = (
            f"| {r['method']} | {r['settings'].get('design', 'random')} | {r['elements']} | {q} | "
            f"{r['share of values beyond 2 s.e.']:.1%} | {r['seconds']} |"
        )
        if both:
            line += f" {r.get('spread vs random (rms)', '–')} | {r.get('mean |z| vs random', '–')} |"
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
