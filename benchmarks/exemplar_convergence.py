"""Exemplar-search convergence (the exemplar paper's Table 2): ES with momentum vs its baselines.

A classifier (the black box) and a generator ``G: z -> images in [0, 1]`` are loaded by name
(``evoxplain_zoo.models.generators.load_exemplar_classifier`` / ``load_generator``). Every
method searches the latent space for an input the classifier gives the target class with
probability ≥ ``--confidence`` (0.95), on the same targets (run ``i`` → ``targets[i mod T]``, by
default every class in turn), the same random streams (run ``i`` is stream ``i`` of ``--seed``) and
the same per-search query budget. Black box (queries only, through :class:`evoxplain.BlackBox`):
ES with momentum (α = 0.3), plain ES (α = 0), CMA-ES and random search, population 50, elite 10.
Glass box (gradients through generator and classifier): gradient descent with momentum and with
Adam from one start, one query per step. Runs are driven in lockstep (``run_many``) in chunks of
``--chunk`` runs so memory stays bounded; GD may run on the first ``--gd-runs`` runs only.

Written after every chunk to the run folder (``--out``, by default
``benchmarks/results/exemplar_convergence/<generator>``): the models (file names and weight
hashes), and per method (one row each) the success rate under both rules (the paper's: every
elite member ≥ confidence; the looser: the best member), queries to converge of the converged
runs (mean, median, quartiles; from ``ExemplarResult.queries`` / ``queries_to_best``), wall
seconds per run and per converged exemplar, model rounds (generations evaluated one after
another), the final target probability, per-class success and every run's record; for
ES-momentum the ``run_many`` vs one-at-a-time exemplars per second on the first chunk, measured
side by side, and for ES-momentum and GD the first ``--sequential-runs`` searches timed one at a
time (the paper's timing); and the headline comparisons (ES-momentum vs ES and CMA-ES in
queries, GD vs ES-momentum in wall time: lockstep, one at a time, and in model rounds).

    OMP_NUM_THREADS=1 python -m benchmarks.exemplar_convergence --runs 203 --budget 450 --gd-runs 21 \
        --sequential-runs 14
    python -m benchmarks.exemplar_convergence --runs 1000 --budget 1050 --device cuda \
        --out benchmarks/results/exemplar_convergence/gpu
    python -m benchmarks.exemplar_convergence --dataset fashion-mnist --generator fashion-mnist-dcgan
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from evoxplain_zoo.models import generators
from evoxplain_zoo.models.fer import fer_classifier_file
from torch import nn

from benchmarks.harness import (
    BenchmarkError,
    RunFolder,
    Stopwatch,
    default_folder,
    load_average,
    main_of,
    option,
    settings_dict,
    synchronize,
    torch_threads,
)
from evoxplain import BlackBox
from evoxplain.exemplars import CMAESSearch, ExemplarResult, ExemplarSearch, GradientSearch, RandomSearch
from evoxplain.exemplars.engine import LatentSearch

METHODS = ["ES-momentum", "ES", "CMA-ES", "random", "GD-momentum", "GD-Adam"]
GLASS_BOX = {"GD-momentum", "GD-Adam"}
DEFAULT_GENERATOR = {"fer": "fer-vae", "fashion-mnist": "fashion-mnist-vae"}
PAPER_TABLE_2 = [  # method, converged of 1000, calls (mean), seconds per exemplar (VGG-16, RTX 2080)
    ("GD-momentum", 955, 378, 3.77),
    ("ES", 1000, 323, 0.14),
    ("ES-momentum", 1000, 263, 0.12),
]


@dataclass
class Settings:
    """What a convergence run measures (``python -m benchmarks.exemplar_convergence --help``).

    Options left None take a value from the others in :meth:`resolved` (the device's chunk and
    batch size, the dataset's generator, every run for GD, one chunk timed one at a time)."""

    benchmark: ClassVar[str] = "exemplar_convergence"
    runs: int = option(200, "runs per method (run i: stream i, target i mod T)")
    budget: int = option(1050, "per-search query budget (every method)")
    methods: list[str] = option(list(METHODS), f"from {','.join(METHODS)}", sep=",")
    gd_runs: int | None = option(None, "GD methods run on runs 0..N-1 only (default: all)")
    device: str = option("cpu", "torch device", choices=["cpu", "cuda"])
    precision: str = option("fp32", "autocast, every method", choices=["fp32", "bf16", "fp16"])
    dataset: str = option("fer", "the classifier's data", choices=sorted(DEFAULT_GENERATOR))
    generator: str | None = option(None, "a name for load_generator (default: <dataset>-vae)")
    fitted_classifier: bool = option(
        False,
        "fer: the black box is the fitted version of the paired classifier (fer-classifier-fitted, with "
        "fer-vae-disjoint fer-classifier-half0-fitted: light regularisation, sure of more classes)",
    )
    targets: str | None = option(None, "class names or indices, comma-separated (default: all)")
    logit_scale: float = option(1.0, "multiply the logits (1: the model as trained)")
    confidence: float = option(0.95, "the target probability a search must reach")
    seed: int = option(0, "the searches' seed (run i: its stream i)")
    chunk: int | None = option(None, "runs per run_many (default: cpu 100, cuda 1000)")
    batch_size: int | None = option(None, "inputs per model call (default: cpu 32, cuda 4096)")
    sequential_runs: int | None = option(
        None, "ES-momentum and GD one at a time on the first N runs (default: a chunk; 0: skip)"
    )
    momentum: float = option(0.3, "ES-momentum's α (paper: 0.3)")
    step: float = option(0.5, "the ES mutation's standard deviation s (paper: 0.5)")
    gd_lr: float = option(0.1, "GD with momentum's learning rate")
    adam_lr: float = option(0.1, "GD with Adam's learning rate")
    threads: int = option(1, "torch CPU threads")
    data: str | None = option(None, "data folder for the classifier check (default: $EVOXPLAIN_DATA)")
    no_accuracy: bool = option(False, "skip the classifier's test-set check")
    out: Path | None = option(None, "the run folder (default benchmarks/results/exemplar_convergence/<generator>)")

    @property
    def title(self) -> str:
        """What the run compares, in a line (for the index of results)."""
        parts = [f"{self.dataset} through {self.generator or DEFAULT_GENERATOR[self.dataset]}"]
        parts[0] += ", fitted classifier" if self.fitted_classifier else ""
        parts += [f"targets {self.targets}"] if self.targets else []
        parts += [f"{self.runs} runs, budget {self.budget}"]
        for name, default, label in (("confidence", 0.95, "confidence"), ("momentum", 0.3, "α"), ("step", 0.5, "s")):
            parts += [f"{label} {getattr(self, name)}"] if getattr(self, name) != default else []
        parts += [f"{self.threads} threads"] if self.threads != 1 else []
        parts += ["GPU"] if self.device == "cuda" else []
        return "; ".join(parts) + ": " + ", ".join(self.methods)

    def resolved(self) -> Settings:
        """These settings with every default that depends on another filled in, checked."""
        cuda = self.device == "cuda"
        chunk = self.chunk or (1000 if cuda else 100)
        filled = dataclasses.replace(
            self,
            generator=self.generator or DEFAULT_GENERATOR[self.dataset],
            chunk=chunk,
            batch_size=self.batch_size or (4096 if cuda else 32),
            gd_runs=self.runs if self.gd_runs is None else self.gd_runs,
            sequential_runs=min(chunk if self.sequential_runs is None else self.sequential_runs, self.runs),
        )
        filled.check()
        return filled

    def check(self) -> None:
        """Refuse settings that cannot run, before anything is loaded."""
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown or not self.methods:
            raise BenchmarkError(f"--methods: unknown {unknown}; choose from {','.join(METHODS)}")
        for name in ("runs", "budget", "chunk", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise BenchmarkError(f"--{name.replace('_', '-')} must be positive")
        if not 0 < self.gd_runs <= self.runs:
            raise BenchmarkError("--gd-runs must be between 1 and --runs")
        if self.budget < 50:
            raise BenchmarkError("--budget must pay for the first population of 50")
        if not (self.logit_scale > 0 and 0 < self.confidence <= 1):
            raise BenchmarkError("--logit-scale must be positive and --confidence in (0, 1]")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise BenchmarkError("--device cuda, but torch sees no GPU")

    @property
    def folder(self) -> Path:
        return Path(self.out) if self.out else default_folder(self, self.generator or DEFAULT_GENERATOR[self.dataset])


# -- models -------------------------------------------------------------------------------------


class ScaledLogits(nn.Module):
    """``model``'s logits times ``scale`` (temperature ``1 / scale``): the same argmax, other confidence.

    Example:
        >>> ScaledLogits(classifier, 4.0)(images).softmax(1)     # surer than classifier(images)
    """

    def __init__(self, model: nn.Module, scale: float):
        super().__init__()
        self.model, self.scale = model, float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * self.scale


@dataclass
class Models:
    """The classifier, the generator (``z -> inputs``, with ``latent_dim``), class names and provenance."""

    classifier: nn.Module
    generator: nn.Module
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def weights_digest(module: nn.Module) -> str:
    """The first 12 hex digits of the SHA-256 of a module's state dict (tells weight files apart).

    Example:
        >>> len(weights_digest(load_fer_classifier()))
        12
    """
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


def classifier_file(dataset: str, half: int | None = None, fitted: bool = False) -> str:
    """The shipped weights file of the black box of ``dataset`` (``half``: the disjoint-data one;
    ``fitted``: the lightly regularised FER classifier).

    Example:
        >>> classifier_file("fer", half=0)
        'fer-classifier-half0.pt'
    """
    if dataset == "fashion-mnist":
        return "lenet-fashion-mnist.pt"
    return fer_classifier_file(half, fitted)


def load_models(dataset: str, generator_name: str, fitted: bool = False) -> Models:
    """The black-box classifier and the generator, frozen and in eval mode, with their provenance.

    From ``evoxplain_zoo.models.generators`` (the classifier paired with the generator: for
    ``fer-vae-disjoint`` the one trained on the other half of the data).

    Example:
        >>> models = load_models("fer", "fer-vae")
        >>> models.class_names[3], models.generator.latent_dim
        ('happy', 16)
    """
    spec = generators.generator_info(generator_name)
    if spec.dataset != dataset:
        raise BenchmarkError(f"--generator {generator_name} makes {spec.dataset} images: pass --dataset {spec.dataset}")
    half = spec.classifier_half
    classifier, class_names = generators.load_exemplar_classifier(dataset, half=half, fitted=fitted)
    generator, generator_file = generators.load_generator(generator_name), spec.weights
    source = "evoxplain_zoo.models.generators"
    info = {
        "source": source,
        "classifier": classifier_file(dataset, half, fitted),
        "classifier_sha256": weights_digest(classifier),
        "generator": generator_name,
        "generator_file": generator_file,
        "generator_sha256": weights_digest(generator),
        "latent_dim": int(generator.latent_dim),
    }
    return Models(
        classifier.eval().requires_grad_(False),
        generator=generator.eval().requires_grad_(False),
        class_names=class_names,
        info=info,
    )


def classifier_check(
    classifier: nn.Module,
    dataset: str,
    root: str | None,
    class_names: Sequence[str] = (),
    confidence: float = 0.95,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Test accuracy and confidence (mean max probability, share ≥ 0.95) of the unscaled classifier,
    and per class the highest probability any real test image gets and the share of the class's own
    images at or above ``confidence``: how far the stopping rule is from real inputs.

    Example:
        >>> classifier_check(load_fer_classifier(), "fer", None, dataset_classes("fer"))["per_class"]["sad"]
    """
    try:
        if dataset == "fer":
            from evoxplain_zoo.data.fer import load_fer2013

            images, labels, _ = load_fer2013("test", root=root)
        else:
            from evoxplain_zoo.data import load_fashion_mnist

            images, labels = load_fashion_mnist("test", root=root)
    except Exception as err:  # a missing data folder must not stop the benchmark
        return {"not_measured": f"{type(err).__name__}: {err}"}
    device = next(classifier.parameters()).device
    batches = [images[i : i + batch_size].to(device) for i in range(0, len(images), batch_size)]
    with torch.no_grad():
        probs = torch.cat([classifier(x).softmax(1).cpu() for x in batches])
    top = probs.max(1).values
    return {
        "test_images": len(labels),
        "test_accuracy": float((probs.argmax(1) == labels).float().mean()),
        "mean_max_probability": float(top.mean()),
        "share_max_probability_ge_0.95": float((top >= 0.95).float().mean()),
        "per_class": {
            name: {
                "max_probability": float(probs[:, c].max()),
                "own_share_ge_confidence": float((probs[labels == c, c] >= confidence).float().mean()),
            }
            for c, name in enumerate(class_names)
        },
    }


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for ``bf16``/``fp16`` (generator and classifier alike, every method); nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


# -- runs ----------------------------------------------------------------------------------------


def parse_targets(spec: str | None, class_names: Sequence[str]) -> list[int]:
    """Class indices from ``"happy,3,sad"`` (names, case-insensitive, or indices); None: every class.

    Example:
        >>> parse_targets("happy,0", ["angry", "disgust", "fear", "happy"])
        [3, 0]
    """
    if spec is None:
        return list(range(len(class_names)))
    lower = [name.lower() for name in class_names]
    targets = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        if item.isdigit() and int(item) < len(class_names):
            targets.append(int(item))
        elif item.lower() in lower:
            targets.append(lower.index(item.lower()))
        else:
            raise ValueError(
                f"unknown target {item!r}: give class indices 0-{len(class_names) - 1} or names "
                f"({', '.join(class_names)})"
            )
    if not targets:
        raise ValueError("--targets names no class")
    return targets


def chunk_bounds(runs: int, chunk: int, first: int | None = None) -> list[tuple[int, int]]:
    """``[lo, hi)`` run ranges: a first chunk of ``first`` runs (if given), then ``chunk`` at a time.

    Example:
        >>> chunk_bounds(10, 4, first=3)
        [(0, 3), (3, 7), (7, 10)]
    """
    bounds, lo = [], 0
    if first:
        bounds.append((0, min(first, runs)))
        lo = bounds[0][1]
    while lo < runs:
        bounds.append((lo, min(lo + chunk, runs)))
        lo = bounds[-1][1]
    return bounds


def make_search(method: str, models: Models, settings: Settings) -> LatentSearch:
    """One search of ``method`` with the paper's settings, the shared budget, seed and batch size.

    The black-box methods only query the :class:`BlackBox`; the GD methods back-propagate through
    the module inside it (``blackbox.model``) and the generator: the glass-box setting.

    Example:
        >>> make_search("ES-momentum", models, Settings().resolved()).run(3)
    """
    classifier = (
        models.classifier if settings.logit_scale == 1 else ScaledLogits(models.classifier, settings.logit_scale).eval()
    )
    common = {
        "latent_dim": models.generator.latent_dim,
        "confidence": settings.confidence,
        "max_queries": settings.budget,
        "max_generations": settings.budget,  # never the binding limit: the query budget is
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "device": settings.device,
    }
    blackbox = BlackBox(classifier, output="logits", batch_size=settings.batch_size)
    if method in GLASS_BOX:  # back-propagates through blackbox.model, the module itself
        optimizer, lr = ("momentum", settings.gd_lr) if method == "GD-momentum" else ("adam", settings.adam_lr)
        return GradientSearch(blackbox, models.generator, method=optimizer, lr=lr, **common)
    if method in ("ES-momentum", "ES"):
        momentum = settings.momentum if method == "ES-momentum" else 0.0
        return ExemplarSearch(blackbox, models.generator, step=settings.step, momentum=momentum, **common)
    if method == "CMA-ES":
        return CMAESSearch(blackbox, models.generator, **common)
    return RandomSearch(blackbox, models.generator, **common)


def warm_up(models: Models, device: torch.device, precision: str) -> None:
    """One forward and backward through generator and classifier before anything is timed."""
    z = torch.zeros(4, models.generator.latent_dim, device=device, requires_grad=True)
    with autocast(device, precision):
        models.classifier(models.generator(z)).sum().backward()
    synchronize(device)


# -- summaries -----------------------------------------------------------------------------------


def quantiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, median and quartiles (None where there are no values)."""
    if len(values) == 0:
        return {"n": 0, "mean": None, "median": None, "q25": None, "q75": None}
    v = np.asarray(values, dtype=float)
    q25, median, q75 = np.percentile(v, [25, 50, 75])
    return {"n": len(v), "mean": float(v.mean()), "median": float(median), "q25": float(q25), "q75": float(q75)}


def run_records(results: Sequence[ExemplarResult], runs: Sequence[int]) -> dict[str, list[Any]]:
    """Every run's outcome, column by column (the rows of the summary can be recomputed from it)."""
    return {
        "run": list(runs),
        "stream": [r.stream for r in results],
        "target": [int(r.target) for r in results],
        "queries": [r.queries for r in results],
        "rounds": [r.generations + 1 for r in results],
        "converged": [bool(r.converged) for r in results],
        "converged_best": [bool(r.converged_best) for r in results],
        "queries_to_best": [r.queries_to_best for r in results],
        "target_probability": [round(r.target_probability, 5) for r in results],
        "stop_reason": [r.stop_reason for r in results],
        "seconds": [round(r.seconds, 4) for r in results],
    }


def summarise(
    results: Sequence[ExemplarResult], runs: Sequence[int], wall: float, class_names: Sequence[str]
) -> dict[str, Any]:
    """One method's row: success under both rules, queries to converge, seconds, final probability."""
    n = len(results)
    records = run_records(results, runs)
    rounds = records["rounds"]
    paper = [r.queries for r in results if r.converged]
    best = [r.queries_to_best for r in results if r.converged_best]
    converged = len(paper)
    per_class = {}
    for c in sorted({int(r.target) for r in results}):
        mine = [r for r in results if int(r.target) == c]
        per_class[class_names[c]] = {"runs": len(mine), "converged": sum(r.converged for r in mine)}
    return {
        "runs": n,
        "converged": converged,
        "converged_best": len(best),
        "success_rate": converged / n,
        "success_rate_best": len(best) / n,
        "queries": quantiles(paper),
        "queries_to_best": quantiles(best),
        "queries_total": sum(r.queries for r in results),
        "rounds": quantiles([k for k, r in zip(rounds, results) if r.converged]),
        "rounds_per_converged": sum(rounds) / converged if converged else None,
        "wall_s": wall,
        "wall_s_per_run": wall / n,
        "wall_s_per_converged": wall / converged if converged else None,
        "target_probability": quantiles([r.target_probability for r in results]),
        "stop_reasons": dict(sorted(Counter(r.stop_reason for r in results).items())),
        "per_class": per_class,
        "records": records,
    }


def percent_fewer(ours: float | None, theirs: float | None) -> float | None:
    """How many percent fewer ``ours`` is than ``theirs`` (negative: more)."""
    return None if ours is None or not theirs else 100.0 * (1.0 - ours / theirs)


def paired_queries(a: dict[str, Any], b: dict[str, Any], key: str = "converged") -> dict[str, Any]:
    """Mean queries of two methods over the runs (same target and stream) both converged in."""
    ra, rb = a["records"], b["records"]
    qkey = "queries" if key == "converged" else "queries_to_best"
    by_run = {run: i for i, run in enumerate(rb["run"])}
    pairs = [(ra[qkey][i], rb[qkey][by_run[run]]) for i, run in enumerate(ra["run"])
             if run in by_run and ra[key][i] and rb[key][by_run[run]]]  # fmt: skip
    if not pairs:
        return {"runs": 0, "mean_a": None, "mean_b": None, "percent_fewer": None}
    mean_a, mean_b = (float(np.mean(side)) for side in zip(*pairs))
    return {"runs": len(pairs), "mean_a": mean_a, "mean_b": mean_b, "percent_fewer": percent_fewer(mean_a, mean_b)}


def headline(rows: dict[str, Any]) -> dict[str, Any]:
    """The comparisons asked of Table 2, computed from the rows present.

    ``ES-momentum vs X``: mean queries to converge of each method's converged runs (each at its own
    success rate), the percent fewer, and the same over the runs both converged in (paired). ``X
    vs ES-momentum (wall)``: X's wall seconds per run and per converged exemplar over ES-momentum's,
    and its model rounds (generations evaluated one after another) per converged exemplar over ES-momentum's:
    the wall-time ratio where a batch costs what one input costs (a GPU, a model behind a server).
    """
    out: dict[str, Any] = {}
    ours = rows.get("ES-momentum")
    if ours is None:
        return out
    for other in ("ES", "CMA-ES"):
        if other in rows:
            theirs = rows[other]
            out[f"ES-momentum vs {other}"] = {
                rule: {
                    "success_rate": (ours[rate], theirs[rate]),
                    "mean_queries": (ours[q]["mean"], theirs[q]["mean"]),
                    "percent_fewer": percent_fewer(ours[q]["mean"], theirs[q]["mean"]),
                    "paired": paired_queries(ours, theirs, key),
                }
                for rule, rate, q, key in (
                    ("paper", "success_rate", "queries", "converged"),
                    ("best", "success_rate_best", "queries_to_best", "converged_best"),
                )
            }
    for other in ("GD-momentum", "GD-Adam"):
        if other in rows:
            theirs = rows[other]
            per_converged = (theirs["wall_s_per_converged"], ours["wall_s_per_converged"])
            wall = out[f"{other} vs ES-momentum (wall)"] = {
                "runs": (theirs["runs"], ours["runs"]),
                "success_rate": (theirs["success_rate"], ours["success_rate"]),
                "s_per_run": (theirs["wall_s_per_run"], ours["wall_s_per_run"]),
                "ratio_per_run": theirs["wall_s_per_run"] / ours["wall_s_per_run"],
                "s_per_converged": per_converged,
                "ratio_per_converged": per_converged[0] / per_converged[1] if None not in per_converged else None,
            }
            if "one_at_a_time" in theirs and "one_at_a_time" in ours:
                one = one_at_a_time_ratio(theirs["one_at_a_time"], ours["one_at_a_time"])
                if one is not None:
                    wall["one_at_a_time"] = one
            rounds = (theirs.get("rounds_per_converged"), ours.get("rounds_per_converged"))
            if None not in rounds:  # results written before rounds were recorded have none
                wall.update(rounds_per_converged=rounds, rounds_ratio=rounds[0] / rounds[1])
    return out


# -- Markdown ------------------------------------------------------------------------------------


def fmt(x: float | None, spec: str = ".0f") -> str:
    return "–" if x is None else format(x, spec)


def fewer(percent: float | None) -> str:
    """``"12.5% fewer"`` or ``"3.0% more"`` (``"–"`` when there is nothing to compare)."""
    if percent is None:
        return "– fewer"
    return f"{abs(percent):.1f}% {'fewer' if percent >= 0 else 'more'}"


def spread(q: dict[str, Any]) -> str:
    """``mean / median [q25, q75]`` of a quantiles dict."""
    return f"{fmt(q['mean'])} / {fmt(q['median'])} [{fmt(q['q25'])}, {fmt(q['q75'])}]"


def markdown(results: dict[str, Any]) -> list[str]:
    """The results in words, below the run's header: setup, the table, comparisons, batching,
    per-class success."""
    s, rows = results["settings"], methods_of(results)
    lines = []
    if s["logit_scale"] != 1:
        lines += [
            f"> **The black box is the classifier's logits × {s['logit_scale']:g}** (temperature "
            f"{1 / s['logit_scale']:.3g}): same predictions, different confidence. Success rates and "
            "queries are for this rescaled model, not the classifier as trained.",
            "",
        ]
    lines += setup_lines(results) + [
        "",
        "| method | runs | converged (paper) | queries mean / median [q25, q75] | rounds mean | converged (best) | "
        "queries to best mean / median [q25, q75] | s per run | s per converged | final p (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, row in rows.items():
        rounds = row.get("rounds", {"mean": None})["mean"]
        lines.append(
            f"| {method} | {row['runs']} | {row['converged']} ({100 * row['success_rate']:.1f}%) | "
            f"{spread(row['queries'])} | {fmt(rounds, '.1f')} | {row['converged_best']} "
            f"({100 * row['success_rate_best']:.1f}%) | {spread(row['queries_to_best'])} | "
            f"{row['wall_s_per_run']:.3f} | {fmt(row['wall_s_per_converged'], '.3f')} | "
            f"{row['target_probability']['mean']:.3f} |"
        )
    lines += headline_lines(results["headline"]) + batching_lines(results.get("batching"))
    lines += per_class_lines(rows, results["targets"], results.get("classifier_check", {}))
    return lines + [
        "",
        "Stop reasons: " + "; ".join(f"{k}: {v['stop_reasons']}" for k, v in rows.items()),
        "",
        "Paper (Table 2; VGG-16, RTX 2080, 1000 runs, no budget stated): "
        + "; ".join(f"{name} {c}/1000 converged, {q} calls, {t} s" for name, c, q, t in PAPER_TABLE_2)
        + ".",
    ]


def setup_lines(results: dict[str, Any]) -> list[str]:
    """The load, the models, the runs and the rules, one bullet each."""
    s, m, check = results["settings"], results["models"], results.get("classifier_check", {})
    accuracy = (
        f"test accuracy {check['test_accuracy']:.3f} on {check['test_images']} images, mean max probability "
        f"{check['mean_max_probability']:.3f}, max probability ≥ 0.95 on "
        f"{100 * check['share_max_probability_ge_0.95']:.1f}% (unscaled)"
        if "test_accuracy" in check
        else f"test accuracy not measured ({check.get('not_measured', 'skipped')})"
    )
    generator_file = f"`{m['generator_file']}`, " if m["generator_file"] else ""
    gd_subset = f" (GD methods: runs 0–{s['gd_runs'] - 1} only)" if s["gd_runs"] < s["runs"] else ""
    targets = results["targets"]
    return [
        f"- Load average: {results['load_average']['start']} at the start, {results['load_average']['now']} "
        "at the last write",
        f"- Classifier: `{m['classifier']}` (sha256 {m['classifier_sha256']}; {accuracy})",
        f"- Generator: `{m['generator']}` ({generator_file}sha256 {m['generator_sha256']}, latent dim "
        f"{m['latent_dim']}); both loaded from {m['source']}",
        f"- {s['runs']} runs per method{gd_subset}; run i: target class "
        f"`{', '.join(targets)}`[i mod {len(targets)}], random stream i of seed {s['seed']}, the "
        f"same for every method. Per-search budget {s['budget']} queries; success: target probability "
        f"≥ {s['confidence']}. ES / CMA-ES / random: population 50, elite 10 "
        f"(ES: m = 2, s = {s.get('step', 0.5)}, u = 5, α = {s.get('momentum', 0.3)} or 0; CMA-ES: σ0 = u / 2). "
        "GD: one start from U(−5, 5)^l, one query per step (the backward is not counted), "
        f"lr {s['gd_lr']} (momentum 0.9) / {s['adam_lr']} (Adam). Device {s['device']}, precision "
        f"{s['precision']}, lockstep chunks of {s['chunk']} runs, at most {s['batch_size']} inputs per call.",
        "- *paper*: every elite member ≥ confidence (GD: its single member), queries when the search "
        "stopped; *best*: the best member ≥ confidence, queries when that first held. Queries are "
        "`ExemplarResult.queries` / `queries_to_best` of the converged runs. Seconds: wall time of all "
        "runs / runs, and / converged runs. Rounds: generations the search evaluated one after another "
        "(generations + 1; GD: steps + 1), each one model call where the batch size allows, in its converged runs.",
    ]


def headline_lines(comparisons: dict[str, Any]) -> list[str]:
    """The headline comparisons in words."""
    if not comparisons:
        return []
    lines = ["", "## Headline comparisons", ""]
    for name, c in comparisons.items():
        if name.endswith("(wall)"):
            other = name.split(" vs ")[0]
            lines.append(
                f"- **{other} / ES-momentum wall time: {c['ratio_per_run']:.2f}× per run** "
                f"({fmt(c['s_per_run'][0], '.3f')} vs {fmt(c['s_per_run'][1], '.3f')} s, {c['runs'][0]} vs "
                f"{c['runs'][1]} runs); per converged exemplar {fmt(c['ratio_per_converged'], '.2f')}× "
                f"({fmt(c['s_per_converged'][0], '.3f')} vs {fmt(c['s_per_converged'][1], '.3f')} s; success "
                f"{100 * c['success_rate'][0]:.1f}% vs {100 * c['success_rate'][1]:.1f}%)."
            )
            if "one_at_a_time" in c:
                one = c["one_at_a_time"]
                lines.append(
                    f"- **{other} / ES-momentum, each search alone (the paper's timing): {one['ratio']:.2f}× the "
                    f"seconds per converged exemplar** ({one['s_per_converged'][0]:.3f} vs "
                    f"{one['s_per_converged'][1]:.3f} s; runs 0–{one['runs'] - 1}, converged {one['converged'][0]} "
                    f"vs {one['converged'][1]})."
                )
            if "rounds_ratio" in c:
                lines.append(
                    f"- **{other} / ES-momentum model rounds per converged exemplar: {c['rounds_ratio']:.1f}×** "
                    f"({c['rounds_per_converged'][0]:.1f} vs {c['rounds_per_converged'][1]:.1f} generations evaluated "
                    "one after another): the wall-time ratio if a generation of ES took as long as one step of GD "
                    "(a model behind a server, a GPU with the model's time dominating)."
                )
            continue
        other = name.split(" vs ")[1]
        for rule, r in c.items():
            p = r["paired"]
            lines.append(
                f"- **{name} ({rule} rule): {fewer(r['percent_fewer'])} queries** "
                f"({fmt(r['mean_queries'][0])} vs {fmt(r['mean_queries'][1])} mean, at success "
                f"{100 * r['success_rate'][0]:.1f}% vs {100 * r['success_rate'][1]:.1f}%); on the {p['runs']} "
                f"runs both converged: {fmt(p['mean_a'])} vs {fmt(p['mean_b'])}, "
                f"{fewer(p['percent_fewer'])} than {other}."
            )
    return lines


def batching_lines(b: dict[str, Any] | None) -> list[str]:
    """ES-momentum's lockstep vs one-at-a-time throughput."""
    if not b:
        return []
    return [
        "",
        "## Lockstep batching (ES-momentum)",
        "",
        f"The first {b['runs']} runs, `run_many` (one chunk) then the same searches one at a time, side by "
        f"side: {b['batched_wall_s']:.2f} s ({b['batched_per_s']:.3f} exemplars/s) vs {b['sequential_wall_s']:.2f} s "
        f"({b['sequential_per_s']:.3f} exemplars/s): **`run_many` {b['ratio']:.2f}× the exemplars per second**. "
        f"Identical query counts in {b['same_queries']}/{b['runs']} runs (a difference comes from "
        "batch-size-dependent float rounding in the models).",
    ] + (
        [
            "",
            f"All {b['all_runs']} runs in chunks of {b['chunk']}: {b['all_per_s']:.3f} exemplars/s, "
            f"**{b['all_per_s'] / b['sequential_per_s']:.2f}× the one-at-a-time rate** above.",
        ]
        if b.get("all_runs", 0) > b["runs"]
        else []
    )


def per_class_lines(rows: dict[str, Any], targets: Sequence[str], check: dict[str, Any] | None = None) -> list[str]:
    """Converged / runs per target class (paper rule), and how confident the classifier is on real images."""
    if not rows:
        return []
    lines = ["", "## Converged per target class (paper rule)", "",
             "| method | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]  # fmt: skip
    for method, row in rows.items():
        cells = [row["per_class"].get(name, {"converged": 0, "runs": 0}) for name in targets]
        lines.append(f"| {method} | " + " | ".join(f"{c['converged']}/{c['runs']}" for c in cells) + " |")
    real = (check or {}).get("per_class", {})
    if real and all(name in real for name in targets):
        lines.append("| *real test images: highest p(class)* | " + " | ".join(
            f"{real[name]['max_probability']:.3f}" for name in targets) + " |")  # fmt: skip
        lines.append("| *real test images of the class: share ≥ confidence* | " + " | ".join(
            f"{real[name]['own_share_ge_confidence']:.3f}" for name in targets) + " |")  # fmt: skip
    return lines


def timed_chunks(
    search: LatentSearch, targets: Sequence[int], bounds: Sequence[tuple[int, int]], device: torch.device
) -> Iterator[tuple[int, int, list[ExemplarResult], float]]:
    """Run chunk after chunk in lockstep; yield ``(lo, hi, results, wall seconds)`` for each."""
    for lo, hi in bounds:
        with Stopwatch(device) as watch:
            results = search.run_many(targets[lo:hi], streams=range(lo, hi))
        yield lo, hi, results, watch.seconds


def sequential_comparison(
    search: LatentSearch, targets: Sequence[int], batched: list[ExemplarResult], wall: float, device: torch.device
) -> dict[str, Any]:
    """The same searches as a batched chunk, one at a time (same streams), timed right after it."""
    with Stopwatch(device) as watch:
        one_by_one = [search.run_many([t], streams=[i])[0] for i, t in enumerate(targets)]
    seconds = watch.seconds
    n = len(targets)
    return {
        "runs": n,
        "batched_wall_s": wall,
        "sequential_wall_s": seconds,
        "batched_per_s": n / wall,
        "sequential_per_s": n / seconds,
        "ratio": seconds / wall,
        "same_queries": sum(a.queries == b.queries for a, b in zip(batched, one_by_one)),
        "sequential_seconds": [round(r.seconds, 4) for r in one_by_one],  # run by run, one at a time
        "sequential_converged": [bool(r.converged) for r in one_by_one],
    }


def one_at_a_time_ratio(gd: dict[str, Any], es: dict[str, Any]) -> dict[str, Any] | None:
    """GD's seconds per converged exemplar over ES-momentum's, both searched one at a time (the
    paper's Table 2 timing), on the runs both timed so (None when either converged in none)."""
    n = min(gd["runs"], es["runs"])
    totals = []
    for side in (gd, es):
        converged = sum(side["sequential_converged"][:n])
        totals.append((sum(side["sequential_seconds"][:n]), converged))
    if not (totals[0][1] and totals[1][1]):
        return None
    per = [seconds / converged for seconds, converged in totals]
    return {"runs": n, "converged": [c for _, c in totals], "s_per_converged": per, "ratio": per[0] / per[1]}


# -- the run -------------------------------------------------------------------------------------


def methods_of(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Method name -> row (results written before the harness kept them as ``methods``)."""
    return results.get("methods") or {row["method"]: row for row in results["rows"]}


def save(folder: RunFolder, status: str | None = None) -> None:
    """Refresh the load average and the headline comparisons, and write the run."""
    folder.results["load_average"]["now"] = load_average()
    folder.results["headline"] = headline(methods_of(folder.results))
    folder.save(status)


def run(settings: Settings, models: Models | None = None) -> list[dict[str, Any]]:
    """One row per method (the run folder written after every chunk).

    ``models`` replaces the ones ``dataset`` / ``generator`` name (tests pass tiny ones).

    Example:
        >>> rows = run(Settings(runs=3, budget=250, methods=["ES-momentum", "ES"], out=Path("/tmp/x")))
        >>> rows[0]["success_rate"]
    """
    s = settings.resolved()
    with torch_threads(s.threads):
        device = torch.device(s.device)
        models = models or load_models(s.dataset, s.generator, s.fitted_classifier)
        models.classifier.to(device)
        models.generator.to(device)
        try:
            targets_of_class = parse_targets(s.targets, models.class_names)
        except ValueError as err:
            raise BenchmarkError(f"--targets: {err}") from err
        targets = [targets_of_class[i % len(targets_of_class)] for i in range(s.runs)]
        folder = RunFolder(s.folder, settings, s.device, render=markdown)
        folder.results.update(
            settings=settings_dict(s) | {"threads": torch.get_num_threads()},
            load_average={"start": load_average(), "now": None},
            models=models.info,
            classifier_check={}
            if s.no_accuracy
            else classifier_check(
                models.classifier, s.dataset, root=s.data, class_names=models.class_names, confidence=s.confidence
            ),
            targets=[models.class_names[c] for c in targets_of_class],
            search_params={},
            headline={},
        )
        warm_up(models, device, s.precision)
        first = s.sequential_runs if "ES-momentum" in s.methods and s.sequential_runs else None
        for method in s.methods:
            run_method(method, settings=s, models=models, targets=targets, first=first, folder=folder)
        folder.meta["status"] = "complete"
        save(folder)
    print("\n".join(markdown(folder.results)))
    return folder.rows


def run_method(
    method: str, settings: Settings, models: Models, targets: list[int], first: int | None, folder: RunFolder
) -> None:
    """All runs of one method, chunk after chunk in lockstep; its row replaced after each chunk."""
    s = settings
    n = s.gd_runs if method in GLASS_BOX else s.runs
    search = make_search(method, models, s)
    folder.results["search_params"][method] = search.params() | {"runs": n}
    device = torch.device(s.device)
    results: list[ExemplarResult] = []
    wall, one = 0.0, None
    with autocast(device, s.precision):
        bounds = chunk_bounds(n, s.chunk, first)
        for lo, hi, chunk, seconds in timed_chunks(search, targets=targets, bounds=bounds, device=device):
            results += chunk
            wall += seconds
            if (method == "ES-momentum" or method in GLASS_BOX) and lo == 0 and first:
                fresh = make_search(method, models, s)
                one = sequential_comparison(fresh, targets[lo:hi], batched=chunk, wall=seconds, device=device)
                if method == "ES-momentum":
                    folder.results["batching"] = one
            summary = summarise(results, runs=range(len(results)), wall=wall, class_names=models.class_names)
            row = {"method": method, **summary}
            row["queries_counted_by_blackbox"] = search.blackbox.queries
            if one is not None:
                row["one_at_a_time"] = one
            folder.rows[:] = [r for r in folder.rows if r["method"] != method] + [row]
            if method == "ES-momentum" and "batching" in folder.results:  # the whole run's lockstep rate
                folder.results["batching"].update(all_runs=hi, all_per_s=hi / wall, chunk=s.chunk)
            save(folder, f"{method}: {hi} of {n} runs done")
    print(f"{method}: {row['converged']}/{n} converged (best member {row['converged_best']}), "
          f"median queries {row['queries']['median']}, {wall:.1f} s", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
