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

Written after every chunk to ``<out>/exemplar_convergence[_<tag>].{json,md}``: the command, the
machine (detected), the date, the models (file names and weight hashes), and per method the
success rate under both rules (the paper's: every elite member ≥ confidence; the looser: the best
member), queries to converge of the converged runs (mean, median, quartiles; from
``ExemplarResult.queries`` / ``queries_to_best``), wall seconds per run and per converged
exemplar, model rounds (generations evaluated one after another), the final target probability,
per-class success and every run's record; for ES-momentum the ``run_many`` vs one-at-a-time
exemplars per second on the first chunk, measured side by side, and for ES-momentum and GD the
first ``--sequential-runs`` searches timed one at a time (the paper's timing); and the headline
comparisons (ES-momentum vs ES and CMA-ES in queries, GD vs ES-momentum in wall time: lockstep,
one at a time, and in model rounds).

    OMP_NUM_THREADS=1 python benchmarks/exemplar_convergence.py --runs 203 --budget 450 --gd-runs 21 \
        --sequential-runs 14
    python benchmarks/exemplar_convergence.py --runs 1000 --budget 1050 --device cuda --tag gpu
    python benchmarks/exemplar_convergence.py --dataset fashion-mnist --generator fashion-mnist-dcgan --tag fmnist-gan
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from evoxplain_zoo.models import generators
from evoxplain_zoo.models.fer import fer_classifier_file
from torch import nn

from evoxplain import BlackBox
from evoxplain.exemplars import CMAESSearch, ExemplarResult, ExemplarSearch, GradientSearch, RandomSearch
from evoxplain.exemplars.engine import LatentSearch

METHODS = ["ES-momentum", "ES", "CMA-ES", "random", "GD-momentum", "GD-Adam"]
GLASS_BOX = {"GD-momentum", "GD-Adam"}
DEFAULT_GENERATOR = {"fer": "fer-vae", "fashion-mnist": "fashion-mnist-vae"}
SCRIPT = "benchmarks/exemplar_convergence.py"
PAPER_TABLE_2 = [  # method, converged of 1000, calls (mean), seconds per exemplar (VGG-16, RTX 2080)
    ("GD-momentum", 955, 378, 3.77),
    ("ES", 1000, 323, 0.14),
    ("ES-momentum", 1000, 263, 0.12),
]


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
        sys.exit(f"--generator {generator_name} makes {spec.dataset} images: pass --dataset {spec.dataset}")
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
    return Models(classifier.eval().requires_grad_(False), generator.eval().requires_grad_(False), class_names, info)


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


# -- the machine ---------------------------------------------------------------------------------


def detect_machine(device: torch.device) -> str:
    """What the benchmark runs on: the GPU's name, or the CPU model and threads; the torch version.

    Example:
        >>> detect_machine(torch.device("cpu"))
        'AMD EPYC (2 logical CPUs, 1 torch thread), x86_64, torch 2.13.0'
    """
    torch_version = f"torch {torch.__version__}"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}), {torch_version}"
    threads = torch.get_num_threads()
    return (
        f"{cpu_model()} ({os.cpu_count()} logical CPUs, {threads} torch thread{'s' * (threads != 1)}), "
        f"{platform.machine()}, {torch_version}"
    )


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


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall times include it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def make_search(method: str, models: Models, args: argparse.Namespace) -> LatentSearch:
    """One search of ``method`` with the paper's settings, the shared budget, seed and batch size.

    The black-box methods only query the :class:`BlackBox`; the GD methods back-propagate through
    the module inside it (``blackbox.model``) and the generator: the glass-box setting.

    Example:
        >>> make_search("ES-momentum", models, args).run(3)
    """
    classifier = (
        models.classifier if args.logit_scale == 1 else ScaledLogits(models.classifier, args.logit_scale).eval()
    )
    common = {
        "latent_dim": models.generator.latent_dim,
        "confidence": args.confidence,
        "max_queries": args.budget,
        "max_generations": args.budget,  # never the binding limit: the query budget is
        "seed": args.seed,
        "batch_size": args.batch_size,
        "device": args.device,
    }
    blackbox = BlackBox(classifier, output="logits", batch_size=args.batch_size)
    if method in GLASS_BOX:  # back-propagates through blackbox.model, the module itself
        optimizer, lr = ("momentum", args.gd_lr) if method == "GD-momentum" else ("adam", args.adam_lr)
        return GradientSearch(blackbox, models.generator, method=optimizer, lr=lr, **common)
    if method in ("ES-momentum", "ES"):
        momentum = args.momentum if method == "ES-momentum" else 0.0
        return ExemplarSearch(blackbox, models.generator, step=args.step, momentum=momentum, **common)
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


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: setup, the table, comparisons, batching, per-class success."""
    s, m = report["settings"], report["models"]
    check = report.get("classifier_check", {})
    lines = [f"# Exemplar-search convergence ({s['dataset']}, exemplar paper Table 2)", ""]
    if s["logit_scale"] != 1:
        lines += [
            f"> **The black box is the classifier's logits × {s['logit_scale']:g}** (temperature "
            f"{1 / s['logit_scale']:.3g}): same predictions, different confidence. Success rates and "
            "queries are for this rescaled model, not the classifier as trained.",
            "",
        ]
    if report["status"] != "complete":
        lines += [f"> **Incomplete**: {report['status']}.", ""]
    accuracy = (
        f"test accuracy {check['test_accuracy']:.3f} on {check['test_images']} images, mean max probability "
        f"{check['mean_max_probability']:.3f}, max probability ≥ 0.95 on "
        f"{100 * check['share_max_probability_ge_0.95']:.1f}% (unscaled)"
        if "test_accuracy" in check
        else f"test accuracy not measured ({check.get('not_measured', 'skipped')})"
    )
    generator_file = f"`{m['generator_file']}`, " if m["generator_file"] else ""
    gd_subset = f" (GD methods: runs 0–{s['gd_runs'] - 1} only)" if s["gd_runs"] < s["runs"] else ""
    lines += [
        f"- Command: `{report['command']}`",
        f"- Machine: {report['machine']}; load average {report['load_average']['start']} at the start, "
        f"{report['load_average']['now']} at the last write",
        f"- Date: {report['date']}",
        f"- Classifier: `{m['classifier']}` (sha256 {m['classifier_sha256']}; {accuracy})",
        f"- Generator: `{m['generator']}` ({generator_file}sha256 {m['generator_sha256']}, latent dim "
        f"{m['latent_dim']}); both loaded from {m['source']}",
        f"- {s['runs']} runs per method{gd_subset}; run i: target class "
        f"`{', '.join(report['targets'])}`[i mod {len(report['targets'])}], random stream i of seed {s['seed']}, the "
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
        "",
        "| method | runs | converged (paper) | queries mean / median [q25, q75] | rounds mean | converged (best) | "
        "queries to best mean / median [q25, q75] | s per run | s per converged | final p (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, row in report["methods"].items():
        rounds = row.get("rounds", {"mean": None})["mean"]
        lines.append(
            f"| {method} | {row['runs']} | {row['converged']} ({100 * row['success_rate']:.1f}%) | "
            f"{spread(row['queries'])} | {fmt(rounds, '.1f')} | {row['converged_best']} "
            f"({100 * row['success_rate_best']:.1f}%) | {spread(row['queries_to_best'])} | "
            f"{row['wall_s_per_run']:.3f} | {fmt(row['wall_s_per_converged'], '.3f')} | "
            f"{row['target_probability']['mean']:.3f} |"
        )
    lines += headline_lines(report["headline"]) + batching_lines(report.get("batching"))
    lines += per_class_lines(report["methods"], report["targets"], check)
    lines += [
        "",
        "Stop reasons: " + "; ".join(f"{k}: {v['stop_reasons']}" for k, v in report["methods"].items()),
        "",
        "Paper (Table 2; VGG-16, RTX 2080, 1000 runs, no budget stated): "
        + "; ".join(f"{name} {c}/1000 converged, {q} calls, {t} s" for name, c, q, t in PAPER_TABLE_2)
        + ".",
    ]
    return "\n".join(lines) + "\n"


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


# -- the command line ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, with device-dependent defaults filled in and checked."""
    p = argparse.ArgumentParser(prog=f"python {SCRIPT}", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=200, help="runs per method (run i: stream i, target i mod T)")
    p.add_argument("--budget", type=int, default=1050, help="per-search query budget (every method)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}")
    p.add_argument("--gd-runs", type=int, default=None, help="GD methods run on runs 0..N-1 only (default: all)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast, every method")
    p.add_argument("--dataset", choices=sorted(DEFAULT_GENERATOR), default="fer")
    p.add_argument("--generator", default=None, help="a name for load_generator (default: <dataset>-vae)")
    p.add_argument(
        "--fitted-classifier",
        action="store_true",
        help="fer: the black box is the fitted version of the paired classifier (fer-classifier-fitted.pt, "
        "with fer-vae-disjoint fer-classifier-half0-fitted.pt: light regularisation, sure of more classes)",
    )
    p.add_argument("--targets", default=None, help="class names or indices, comma-separated (default: all)")
    p.add_argument("--logit-scale", type=float, default=1.0, help="multiply the logits (1: the model as trained)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=None, help="runs per run_many (default: cpu 100, cuda 1000)")
    p.add_argument("--batch-size", type=int, default=None, help="inputs per model call (default: cpu 32, cuda 4096)")
    p.add_argument("--sequential-runs", type=int, default=None,
                   help="ES-momentum and GD one at a time on the first N runs (default: a chunk; 0: skip)")  # fmt: skip
    p.add_argument("--momentum", type=float, default=0.3, help="ES-momentum's α (paper: 0.3)")
    p.add_argument("--step", type=float, default=0.5, help="the ES mutation's standard deviation s (paper: 0.5)")
    p.add_argument("--gd-lr", type=float, default=0.1)
    p.add_argument("--adam-lr", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--data", default=None, help="data folder for the classifier check (default: $EVOXPLAIN_DATA)")
    p.add_argument("--no-accuracy", action="store_true", help="skip the classifier's test-set check")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--tag", default="", help="results go to exemplar_convergence_<tag>.{json,md}")
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    args.generator = args.generator or DEFAULT_GENERATOR[args.dataset]
    args.chunk = args.chunk or (1000 if cuda else 100)
    args.batch_size = args.batch_size or (4096 if cuda else 32)
    args.gd_runs = args.runs if args.gd_runs is None else args.gd_runs
    args.sequential_runs = min(args.chunk if args.sequential_runs is None else args.sequential_runs, args.runs)
    args.tag = args.tag.lstrip("_")
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        p.error(f"--methods: unknown {unknown}; choose from {','.join(METHODS)}")
    args.method_list = methods
    for name in ("runs", "budget", "chunk", "batch_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not 0 < args.gd_runs <= args.runs:
        p.error("--gd-runs must be between 1 and --runs")
    if args.budget < 50:
        p.error("--budget must pay for the first population of 50")
    if not (args.logit_scale > 0 and 0 < args.confidence <= 1):
        p.error("--logit-scale must be positive and --confidence in (0, 1]")
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no GPU")
    return args


def command_line(argv: Sequence[str]) -> str:
    """The command as typed (with ``OMP_NUM_THREADS`` if set), paths relative to the repository."""
    env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    return f"{env}python {SCRIPT} {shlex.join(argv)}".rstrip()


def output_paths(out: Path, tag: str) -> tuple[Path, Path]:
    """``exemplar_convergence[_<tag>].json`` and ``.md`` under ``out``."""
    stem = "exemplar_convergence" + (f"_{tag}" if tag else "")
    return out / f"{stem}.json", out / f"{stem}.md"


def write(report: dict[str, Any], out: Path, tag: str) -> None:
    """Refresh the load average and headline, and write the JSON and the Markdown."""
    report["load_average"]["now"] = load_average()
    report["headline"] = headline(report["methods"])
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = output_paths(out, tag)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    md_path.write_text(markdown(report))


def timed_chunks(
    search: LatentSearch, targets: Sequence[int], bounds: Sequence[tuple[int, int]], device: torch.device
) -> Iterator[tuple[int, int, list[ExemplarResult], float]]:
    """Run chunk after chunk in lockstep; yield ``(lo, hi, results, wall seconds)`` for each."""
    for lo, hi in bounds:
        synchronize(device)
        begin = time.perf_counter()
        results = search.run_many(targets[lo:hi], streams=range(lo, hi))
        synchronize(device)
        yield lo, hi, results, time.perf_counter() - begin


def sequential_comparison(
    search: LatentSearch, targets: Sequence[int], batched: list[ExemplarResult], wall: float, device: torch.device
) -> dict[str, Any]:
    """The same searches as a batched chunk, one at a time (same streams), timed right after it."""
    synchronize(device)
    begin = time.perf_counter()
    one_by_one = [search.run_many([t], streams=[i])[0] for i, t in enumerate(targets)]
    synchronize(device)
    seconds = time.perf_counter() - begin
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


def main(argv: list[str] | None = None, models: Models | None = None) -> dict[str, Any]:
    """Run the benchmark; return the report (also written after every chunk).

    ``models`` replaces the ones ``--dataset`` / ``--generator`` name (tests pass tiny ones).

    Example:
        >>> report = main(["--runs", "3", "--budget", "250", "--methods", "ES-momentum,ES", "--out", "/tmp/x"])
        >>> report["methods"]["ES-momentum"]["success_rate"]
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = models or load_models(args.dataset, args.generator, args.fitted_classifier)
    models.classifier.to(device)
    models.generator.to(device)
    try:
        targets_of_class = parse_targets(args.targets, models.class_names)
    except ValueError as err:
        sys.exit(f"--targets: {err}")
    targets = [targets_of_class[i % len(targets_of_class)] for i in range(args.runs)]
    report: dict[str, Any] = {
        "command": command_line(argv),
        "machine": detect_machine(device),
        "date": datetime.date.today().isoformat(),
        "load_average": {"start": load_average(), "now": None},
        "status": "running",
        "models": models.info,
        "classifier_check": {}
        if args.no_accuracy
        else classifier_check(models.classifier, args.dataset, args.data, models.class_names, args.confidence),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "method_list"}
        | {"threads": torch.get_num_threads()},
        "targets": [models.class_names[c] for c in targets_of_class],
        "search_params": {},
        "methods": {},
        "headline": {},
    }
    warm_up(models, device, args.precision)
    first = args.sequential_runs if "ES-momentum" in args.method_list and args.sequential_runs else None
    for method in args.method_list:
        n = args.gd_runs if method in GLASS_BOX else args.runs
        search = make_search(method, models, args)
        report["search_params"][method] = search.params() | {"runs": n}
        results: list[ExemplarResult] = []
        wall, one = 0.0, None
        with autocast(device, args.precision):
            for lo, hi, chunk, seconds in timed_chunks(search, targets, chunk_bounds(n, args.chunk, first), device):
                results += chunk
                wall += seconds
                if (method == "ES-momentum" or method in GLASS_BOX) and lo == 0 and first:
                    fresh = make_search(method, models, args)
                    one = sequential_comparison(fresh, targets[lo:hi], chunk, seconds, device)
                    if method == "ES-momentum":
                        report["batching"] = one
                row = summarise(results, range(len(results)), wall, models.class_names)
                row["queries_counted_by_blackbox"] = search.blackbox.queries
                if one is not None:
                    row["one_at_a_time"] = one
                report["methods"][method] = row
                if method == "ES-momentum" and "batching" in report:  # the whole run's lockstep rate
                    report["batching"].update(all_runs=hi, all_per_s=hi / wall, chunk=args.chunk)
                report["status"] = f"{method}: {hi} of {n} runs done"
                write(report, args.out, args.tag)
        print(f"{method}: {row['converged']}/{n} converged (best member {row['converged_best']}), "
              f"median queries {row['queries']['median']}, {wall:.1f} s", flush=True)  # fmt: skip
    report["status"] = "complete"
    write(report, args.out, args.tag)
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
