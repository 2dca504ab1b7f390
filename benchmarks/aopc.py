"""AOPC (deletion and insertion) and seconds per explanation, every method side by side.

For each method and query budget, the setting (σ, mask size, superpixels, …) is chosen by AOPC
deletion on held-out images (test images 5000+ for MNIST/Fashion-MNIST, the last ImageNet sample
images), never on the scored ones, then the chosen setting is scored. Methods whose cost is not a
budget (Occlusion, the white-box IG, SmoothGrad, Saliency) are run once. The AOPC of the GEEX
reference evaluation: pixels ranked by channel-mean attribution, replaced by 0 (MNIST-like,
stride 10) or a blurred copy (ImageNet, stride 100).

    python -m benchmarks.aopc --dataset mnist --data ../shared/data --images 100
    python -m benchmarks.aopc --dataset imagenet --images 64 --device cuda --precision bf16

Results are written after every row. ``--resume`` keeps the rows of an earlier run in the same
folder with the same data and settings and runs only the missing (method, budget) pairs, so a long
benchmark can be spread over several calls (each row names the machine it was measured on).

The steps, for whoever extends it: :func:`chosen_methods` (which candidates), :func:`load` (the
model and images, as :class:`Data`), :func:`choose` (a setting per row: searched on the held-out
images or taken from an earlier run), :func:`evaluate` (explain and score), :func:`run` (the rows).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from benchmarks.harness import BenchmarkError, RunFolder, Stopwatch, default_folder, main_of, option
from evoxplain import (
    GEEX,
    LIME,
    RISE,
    BlackBox,
    IntegratedGradients,
    KernelSHAP,
    Occlusion,
    Saliency,
    SmoothGrad,
    recommended_settings,
)
from evoxplain.metrics import aopc_deletion, aopc_insertion

SIGMAS = [0.03, 0.1, 0.3, 1.0, 3.0]
FITNESS = ["prob", "logprob"]  # the score explained: every black-box method gets the same choice
FINALISTS = 3  # candidates carried from the smallest budget's search to the larger budgets
SMALL_GRID = "σ 0.2 / 0.6, masks 7 / 14 (bGEEX also 28), RISE cells 16 / 32, f = probability only"
DATASETS = ["mnist", "fashion-mnist", "imagenet"]
NAMED_ONLY = ("default", "GEEX reference", "bGEEX 14×14")
"""Rows a run measures only when ``--methods`` names them: the shipped default, the reference
notebook's GEEX and the small-image default before it followed the budget."""
REPLACEMENTS = ["black", "mean"]
DATASET_MEAN = {"mnist": 0.1307, "fashion-mnist": 0.2860}
"""The training split's mean pixel: the GEEX notebooks normalise by it, so their deletion to 0 deletes to it."""
DATASET_STD = {"mnist": 0.3081, "fashion-mnist": 0.3530}
"""The training split's pixel standard deviation, the notebooks' other normalisation constant."""
FRESH_IMAGES = range(6000, 10000)
"""Test images no earlier run used (scored 0-99, held out 5000-5049; the gradient check read up to 5999):
``--pick`` draws the fresh test set from these."""


@dataclass
class Settings:
    """What an AOPC run measures (``python -m benchmarks.aopc --help`` lists them)."""

    benchmark: ClassVar[str] = "aopc"
    dataset: str = option(help="the images and their model", choices=DATASETS)
    data: str | None = option(None, "folder with mnist/, imagenet_samples/ (default $EVOXPLAIN_DATA)")
    images: int = option(100, "images scored")
    first: int = option(0, "index of the first scored image")
    held_out: int = option(50, "held-out images the settings are chosen on")
    pick: int | None = option(
        None,
        "a seed: score a seeded choice of --images test images among 6000-9999, which no earlier run used "
        "(the fresh test set; MNIST and Fashion-MNIST), instead of those from --first",
    )
    replacement: str | None = option(
        None,
        "what deletion puts in place of a pixel, and every method's baseline with it: black (0) or mean (the "
        "training split's mean pixel, as the GEEX notebooks delete); default black, ImageNet a blurred copy",
        choices=REPLACEMENTS,
    )
    budgets: list[int] = option([1000, 5000], "query budgets of the budgeted methods")
    methods: list[str] | None = option(None, "only these methods, in this order", nargs="*")
    device: str = option("cpu", "torch device of the model and the masks")
    precision: str = option("fp32", "the model's precision", choices=["fp32", "bf16"])
    batch_size: int = option(1000, "model inputs per call")
    grid: str = option("full", f"candidate settings; small (ImageNet): {SMALL_GRID}", choices=["full", "small"])
    out: Path | None = option(None, "the run folder (default benchmarks/results/aopc/<dataset>)")
    resume: bool = option(False, "keep the rows of an earlier run of the same setup in the folder")
    settings_from: Path | None = option(
        None,
        "an earlier run's results.json with the same held-out images: score the settings it chose there "
        "instead of searching again (e.g. to score more images)",
    )
    plan: bool = option(False, "only print the model inputs each row still to run will take, then stop")
    finalists: int = option(
        FINALISTS, "the smallest budget's best candidates searched again at each larger budget (1: its choice kept)"
    )

    @property
    def title(self) -> str:
        return f"AOPC on {self.dataset}"

    @property
    def folder(self) -> Path:
        name = self.dataset + ("-fresh" if self.pick is not None else "")
        name += "-mean" if self.replacement == "mean" else ""
        return Path(self.out) if self.out else default_folder(self, name)

    @property
    def baseline(self) -> float | str:
        """The value deletion puts in place of a pixel: every method's baseline is matched to it."""
        if self.dataset == "imagenet":
            if self.replacement is not None:
                raise BenchmarkError("--replacement is for MNIST and Fashion-MNIST: ImageNet deletes to a blurred copy")
            return "blur"
        return DATASET_MEAN[self.dataset] if self.replacement == "mean" else 0.0


# -- explainers only the benchmark compares --------------------------------------------------------


class ShippedDefault(GEEX):
    """GEEX with ``recommended_settings(shape, queries)`` (what users get untuned) and the
    benchmark's baseline in place of the recommended one."""

    def __init__(self, model: Any, *, queries: int, shape: list[int], baseline: float | str, seed: int | None = None):
        settings = {**recommended_settings(tuple(shape), queries), "baseline": baseline}
        super().__init__(model, queries=queries, seed=seed, **settings)


class NotebookGEEX(GEEX):
    """The GEEX reference notebook's explainer (``example_mnist.ipynb``) with evoxplain's estimator:
    Gaussian noise of full-size masks, integrated, f = the probability, σ = half the dataset's pixel
    std (the notebook's σ = 1 on normalised pixels, its masks halved), path positions in [0, ½) only
    as its code draws them (``linspace(0, 1, n)`` of which the first n/2 are used). The half path
    is the whole path to the halfway point x̊ + (x − x̊)/2: that point is explained and its values
    doubled, which is the reference's (x − x̊) ⊙ η̄ with η̄ averaged over α ∈ [0, ½). A numeric
    baseline only (the benchmark's on MNIST-sized images). Unlike the notebook, α is stratified
    and the estimate uses mirrored pairs (the notebook mirrors its masks too)."""

    def __init__(self, model: Any, *, queries: int, sigma: float, baseline: float, seed: int | None = None):
        super().__init__(model, queries=queries, sigma=sigma, baseline=baseline, fitness="prob", seed=seed)
        self.reference_baseline = float(baseline)

    def explain(self, x: Any, target: Any = None, *, batched: bool | None = None) -> Any:
        x = torch.as_tensor(x)
        if target is None:
            target = self.blackbox.predict(x if batched or x.dim() == 4 else x[None]).tolist()
        halfway = self.reference_baseline + (x - self.reference_baseline) / 2
        exp = super().explain(halfway, target, batched=batched)
        exp.values = 2 * exp.values
        exp.stderr = None if exp.stderr is None else 2 * exp.stderr
        return exp


# -- the candidates ------------------------------------------------------------------------------


def combos(**axes: list) -> list[dict]:
    """Every combination of the axes' values as settings, the first axis varying slowest.

    Example:
        >>> combos(sigma=[0.1, 0.3], fitness=["prob"])
        [{'sigma': 0.1, 'fitness': 'prob'}, {'sigma': 0.3, 'fitness': 'prob'}]
    """
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def candidate_axes(dataset: str, grid_size: str, baseline: float | str | None = None) -> dict[str, list]:
    """The values each setting is searched over, for MNIST-sized images or ImageNet; ``baseline``
    (default: 0, ImageNet blurred) is every method's, matched to the deletion's replacement."""
    small = dataset != "imagenet"
    if grid_size == "small" and small:
        raise BenchmarkError("--grid small is for ImageNet: MNIST-sized runs search the full grid on a CPU")
    axes = {
        "sigma": SIGMAS,
        "fitness": FITNESS,
        "mask": [7, 10, 14, 20] if small else [7, 14, 28],
        "smoothing": [(3, 0.5), (5, 1.0), (9, 2.0)] if small else [(5, 0.7), (31, 5.0)],
        "cell": [2, 4, 7] if small else [16, 32],
        "superpixel": [2, 4] if small else [8, 16, 32],  # the same cell sizes as the Bernoulli masks 28 / 14 / 7
        "regression_mask": [7, 14, None] if small else [7, 14, 28],  # crisp cells: 4×4, 2×2, 1×1 px on 28×28
        "baseline": [(0.0 if small else "blur") if baseline is None else baseline],
    }
    axes["bernoulli_mask"] = axes["mask"] + [None]
    if grid_size == "small":
        axes.update(sigma=[0.2, 0.6], fitness=["prob"], mask=[7, 14], bernoulli_mask=[7, 14, 28], superpixel=[16])
    return axes


def grids(
    dataset: str, grid_size: str = "full", baseline: float | str | None = None
) -> dict[str, tuple[type, list[dict]]]:
    """Method name -> (class, candidate settings). Budgeted methods get ``queries`` added.

    ``grid_size="small"`` (large images only) searches a few candidates around the shipped
    defaults, for a run that a CPU can finish (see ``SMALL_GRID``). "default" is the shipped
    default at each budget (not searched), "GEEX reference" the reference notebook's GEEX
    (:class:`NotebookGEEX`, MNIST-sized images) and "bGEEX 14×14" the small-image default before
    it followed the budget."""
    a = candidate_axes(dataset, grid_size, baseline)
    sigma, fitness, baseline, mask = a["sigma"], a["fitness"], a["baseline"], a["mask"]
    bernoulli = {"distribution": ["bernoulli"]}
    methods = {
        "GE": (GEEX, combos(integrated=[False], sigma=sigma, fitness=fitness)),
        "GEEX": (GEEX, combos(sigma=sigma, fitness=fitness, baseline=baseline)),
        "GEEX + resize": (GEEX, combos(mask_size=mask, sigma=sigma, fitness=fitness, baseline=baseline)),
        "GEEX + resize, shared": (
            GEEX,
            combos(mask_size=mask, sigma=sigma, fitness=fitness, shared_mask=[True], baseline=baseline),
        ),
        "GEEX + smoothing": (GEEX, combos(smoothing=a["smoothing"], sigma=sigma, fitness=fitness, baseline=baseline)),
        "bGEEX": (GEEX, combos(**bernoulli, mask_size=a["bernoulli_mask"], fitness=fitness, baseline=baseline)),
        "bGEEX + regression": (
            GEEX,
            combos(
                **bernoulli,
                estimator=["regression"],
                mask_size=a["regression_mask"],
                integrated=[True, False],
                fitness=fitness,
                baseline=baseline,
            ),
        ),
        "RISE": (RISE, combos(cell=a["cell"], fitness=fitness, baseline=baseline)),
        "LIME": (LIME, combos(superpixel=a["superpixel"], fitness=fitness, baseline=baseline)),
        "KernelSHAP": (KernelSHAP, combos(superpixel=a["superpixel"], fitness=fitness, baseline=baseline)),
    }
    for name in ("bGEEX", "bGEEX + regression"):  # the same candidates, signs in orthogonal blocks
        cls, candidates = methods[name]
        methods[f"{name}, orthogonal"] = (cls, [{**c, "design": "orthogonal"} for c in candidates])
    shape = [3, 224, 224] if dataset == "imagenet" else [1, 28, 28]
    methods["default"] = (ShippedDefault, [{"shape": shape, "baseline": baseline[0]}])
    if dataset != "imagenet":  # one channel: a shared mask is the same mask
        del methods["GEEX + resize, shared"]
        sigma = DATASET_STD[dataset] / 2
        methods["GEEX reference"] = (NotebookGEEX, [{"sigma": sigma, "baseline": baseline[0]}])
        methods["bGEEX 14×14"] = (GEEX, combos(**bernoulli, mask_size=[14], fitness=["prob"], baseline=baseline))
    return methods


def unbudgeted(dataset: str, baseline: float | str | None = None) -> dict[str, tuple[type, list[dict]]]:
    """Method name -> (class, candidate settings) of the methods whose cost is not a query budget."""
    small = dataset != "imagenet"
    baseline = (0.0 if small else "blur") if baseline is None else baseline
    return {
        "Occlusion": (
            Occlusion,
            [dict(window=4, stride=2, baseline=baseline)] if small else [dict(window=16, stride=8, baseline=baseline)],
        ),
        "IG (white-box)": (IntegratedGradients, [dict(steps=50, baseline=baseline)]),
        "SmoothGrad (white-box)": (SmoothGrad, [dict(samples=50, stdev=s, absolute=False) for s in (0.1, 0.3)]),
        "Saliency (white-box)": (Saliency, [dict(absolute=False)]),
    }


def chosen_methods(
    dataset: str, grid_size: str, budgets: list[int], names: list[str] | None, baseline: float | str | None = None
) -> list[tuple[str, type, list[dict], list[int | None]]]:
    """``(name, class, candidates, budgets)`` of the methods to run: all of them, or those ``names``
    in that order (cheap ones first, say, when a time limit may cut the run); a name that is not a
    method is refused before anything is loaded."""
    methods = [(name, cls, grid, sorted(budgets)) for name, (cls, grid) in grids(dataset, grid_size, baseline).items()]
    methods += [(name, cls, grid, [None]) for name, (cls, grid) in unbudgeted(dataset, baseline).items()]
    if names is None:
        return [method for method in methods if method[0] not in NAMED_ONLY]
    by_name = {method[0]: method for method in methods}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise BenchmarkError(
            f"--methods: no method named {', '.join(map(repr, unknown))}; the methods are {list(by_name)}"
        )
    return [by_name[name] for name in dict.fromkeys(names)]


# -- the plan ------------------------------------------------------------------------------------

IMAGE_SIDE = {"mnist": 28, "fashion-mnist": 28, "imagenet": 224}


def queries_per_explanation(cls: type, settings: dict, budget: int | None, side: int) -> int:
    """The most model inputs one explanation takes (a white-box backward pass counts as none)."""
    if budget is not None:
        return budget + 2  # the perturbations, the input once and at most the baseline once
    if cls is Occlusion:
        return ((side - settings["window"]) // settings["stride"] + 1) ** 2 + 1
    if cls is IntegratedGradients:
        return settings["steps"] + 2
    return settings["samples"] + 1 if cls is SmoothGrad else 2  # Saliency: the input and its gradient


def planned_inputs(
    methods: list[tuple[str, type, list[dict], list[int | None]]],
    measured: set[tuple[str, int | None]],
    dataset: str,
    held_out: int,
    scored: int,
    stride: int,
) -> list[tuple[str, int | None, int]]:
    """``(method, budget, model inputs)`` of each row not in ``measured``: the held-out search
    (each candidate explains the held-out images and draws their deletion curves) and the scoring
    (explanations, deletion and insertion curves), as :func:`run` runs them (``--plan``)."""
    side = IMAGE_SIDE[dataset]
    steps = -(-side * side // stride) + 1  # 0, stride, …, and every pixel: the curve's points
    plan = []
    for name, cls, grid, budgets in methods:
        candidates = len(grid)
        for budget in budgets:
            if (name, budget) not in measured:
                queries = queries_per_explanation(cls, settings=grid[0], budget=budget, side=side)
                search = held_out * candidates * (queries + steps) if candidates > 1 else 0
                plan.append((name, budget, search + scored * (queries + 2 * steps)))
            candidates = min(candidates, FINALISTS)  # the larger budgets search the finalists
    return plan


def print_plan(settings: Settings, methods: list) -> None:
    """``--plan``: the rows a run with these settings would add, with their model inputs (the
    rows of the ``--resume`` results are left out)."""
    results = settings.folder / "results.json"
    rows = json.loads(results.read_text())["rows"] if settings.resume and results.exists() else []
    held_out = 0 if settings.settings_from else settings.held_out
    plan = planned_inputs(
        methods,
        measured={(r["method"], r["budget"]) for r in rows},
        dataset=settings.dataset,
        held_out=held_out,
        scored=settings.images,
        stride=100 if settings.dataset == "imagenet" else 10,
    )
    for name, budget, inputs in plan:
        print(f"{name} @ {budget or '—'}: {inputs / 1e3:,.0f}k inputs")
    print(f"in all: {sum(inputs for *_, inputs in plan) / 1e6:.2f}M model inputs for {len(plan)} rows")


# -- the data and the scoring --------------------------------------------------------------------


@dataclass
class Data:
    """The model, the scored and held-out images (on the device) with their targets (predicted
    classes), and how AOPC replaces pixels."""

    blackbox: BlackBox
    scored: torch.Tensor
    held: torch.Tensor
    replacement: float | str
    stride: int
    targets: list[int] | None = None
    held_targets: list[int] | None = None
    forward_seconds: float = float("nan")  # per input, the model alone


def load_images(settings: Settings) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The model, the scored images (``images`` from index ``first``) and the held-out images."""
    first, images, held_out = settings.first, settings.images, settings.held_out
    if settings.dataset == "imagenet":
        if settings.pick is not None:
            raise BenchmarkError("--pick is for MNIST and Fashion-MNIST; ImageNet samples are chosen by --first")
        from evoxplain_zoo.data import load_imagenet_samples
        from evoxplain_zoo.models.efficientnet import efficientnet_lite0

        x = load_imagenet_samples(settings.data).images
        if first + images + held_out > len(x):
            raise BenchmarkError(f"only {len(x)} ImageNet samples: --first + --images + --held-out must not exceed it")
        return efficientnet_lite0(), x[first : first + images], x[len(x) - held_out :]
    from evoxplain_zoo.data import load_fashion_mnist, load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    if first + images > 5000:
        raise BenchmarkError("the scored test images end at 5000 (the held-out ones follow): lower --first or --images")
    x, _ = (load_mnist if settings.dataset == "mnist" else load_fashion_mnist)("test", root=settings.data)
    scored = x[first : first + images] if settings.pick is None else x[fresh_indices(settings.pick, images)]
    return load_lenet(settings.dataset), scored, x[5000 : 5000 + held_out]


def fresh_indices(seed: int, count: int) -> list[int]:
    """The fresh test set: ``count`` test indices drawn from :data:`FRESH_IMAGES` with ``seed``, sorted.

    Example:
        >>> fresh_indices(27, 3) == fresh_indices(27, 3), all(6000 <= i < 10000 for i in fresh_indices(27, 100))
        (True, True)
    """
    if not 1 <= count <= len(FRESH_IMAGES):
        raise BenchmarkError(f"--pick draws 1 to {len(FRESH_IMAGES)} images, not {count}")
    order = torch.randperm(len(FRESH_IMAGES), generator=torch.Generator().manual_seed(seed))[:count]
    return sorted(FRESH_IMAGES[int(i)] for i in order)


def load(settings: Settings) -> Data:
    """The :class:`Data` of a run, targets and the model's own speed measured."""
    model, scored, held = load_images(settings)
    imagenet = settings.dataset == "imagenet"
    blackbox = BlackBox(
        model.to(settings.device).eval(),
        output="logits",
        batch_size=settings.batch_size,
        precision=settings.precision,
    )
    data = Data(
        blackbox,
        scored=scored.to(settings.device),
        held=held.to(settings.device),
        replacement=settings.baseline,
        stride=100 if imagenet else 10,
    )
    data.targets = blackbox.predict(data.scored).tolist()
    data.forward_seconds = forward_seconds_per_query(blackbox, data.scored, 5 * settings.batch_size)
    data.held_targets = blackbox.predict(data.held).tolist()
    return data


def evaluate(
    data: Data, method: type, settings: dict, held_out: bool = False, insertion: bool = True
) -> dict[str, Any]:
    """Explain the scored (or held-out) images and score them: AOPC deletion (and insertion),
    queries and seconds per input."""
    blackbox, x = data.blackbox, data.held if held_out else data.scored
    targets = data.held_targets if held_out else data.targets
    explainer = method(blackbox, seed=0, **settings)
    with Stopwatch(blackbox.device) as watch:
        exp = explainer.explain(x, target=targets, batched=True)
    scoring = dict(replacement=data.replacement, stride=data.stride, target=targets)
    deletion = aopc_deletion(blackbox, x, exp.values, **scoring)
    per_instance = torch.as_tensor(deletion.per_instance, dtype=torch.float64)
    standard_error = float(per_instance.std() / len(per_instance) ** 0.5) if len(per_instance) > 1 else float("nan")
    result = {
        "deletion": deletion.score,
        "deletion_se": standard_error,
        "deletion_per_instance": [round(float(v), 5) for v in per_instance],  # for paired comparisons
        "deletion_curve": [float(v) for v in deletion.mean_curve],  # joins runs on other images exactly
        "queries": exp.queries / len(x),
        "seconds": watch.seconds / len(x),
    }
    if insertion:
        result["insertion"] = aopc_insertion(blackbox, x, exp.values, **scoring).score
    return result


def forward_seconds_per_query(blackbox: BlackBox, x: torch.Tensor, count: int) -> float:
    """Seconds per input of the model alone: ``count`` copies of ``x`` sent in batches (after a warm-up)."""
    batch = x[:1].expand(min(count, blackbox.batch_size), *x.shape[1:]).contiguous()
    blackbox(batch)  # warm-up
    calls = max(1, count // len(batch))
    with Stopwatch(blackbox.device) as watch:
        for _ in range(calls):
            blackbox(batch)
    return watch.seconds / (calls * len(batch))


# -- the rows ------------------------------------------------------------------------------------


def setup_of(settings: Settings, data: Data) -> dict[str, Any]:
    """What the rows were measured on, in words: a resumed run must match it (:data:`SAME_SETUP`)."""
    mean = settings.replacement == "mean"
    if settings.pick is not None:
        indices = fresh_indices(settings.pick, len(data.scored))
        scored = f"{len(data.scored)} (fresh: test images drawn from 6000-9999 with seed {settings.pick}: {indices})"
    else:
        scored = f"{len(data.scored)} " + ("(the first" if settings.first == 0 else f"(from index {settings.first}")
        scored += " of the test split / sample images)"
    setup = {
        "dataset": settings.dataset,
        "scored images": scored + "; targets = predicted classes",
        "held-out images": f"{len(data.held)} (settings chosen on these by AOPC deletion: the whole grid at the "
        f"smallest budget, its best {settings.finalists} again at each larger budget)",
        "replacement": data.replacement,
        **({"deletion": "to the training split's mean pixel; every baseline the same"} if mean else {}),
        "stride": data.stride,
        "precision": settings.precision,
        "batch size": settings.batch_size,
        **({"candidate grid": f"small: {SMALL_GRID}"} if settings.grid == "small" else {}),
        "forward seconds per query": f"{data.forward_seconds:.3g} (the model alone, batches of {settings.batch_size}; "
        "'x forward' = seconds per explanation / (queries x this))",
    }
    if settings.settings_from is not None:
        setup["settings"] = f"chosen on the held-out images by the run of {settings.settings_from} (not searched again)"
    return setup


SAME_SETUP = (  # "candidate grid" is only in the setup of small-grid runs
    "dataset", "scored images", "held-out images", "replacement", "stride", "precision", "batch size", "candidate grid",
)  # fmt: skip

BEFORE_RECORDED = {"precision": "fp32", "batch size": 1000}  # what runs made before these keys were written used


def recorded_setup(earlier: dict) -> dict:
    """An earlier run's setup (``meta`` in results written before the harness)."""
    return {**BEFORE_RECORDED, **earlier.get("setup", earlier.get("meta", {}))}


def earlier_rows(earlier: dict, setup: dict) -> list[dict]:
    """The rows of an earlier run's results (``--resume``), each with its machine and date; the
    earlier run must have the same setup as this one."""
    recorded = recorded_setup(earlier)
    differ = [key for key in SAME_SETUP if recorded.get(key) != setup.get(key)]
    if differ:
        raise BenchmarkError(
            f"--resume: the earlier {setup['dataset']} results were measured with other {', '.join(differ)}; "
            "run without --resume to start over"
        )
    meta = earlier.get("meta", {})  # results written before the harness: one machine and date for all rows
    measured = {key: meta[key] for key in ("machine", "date") if key in meta}
    if "forward seconds per query" in recorded:  # rows written before each row kept its own
        measured["forward_seconds_per_query"] = float(recorded["forward seconds per query"].split()[0])
    return [{**measured, **row} for row in earlier["rows"]]


def settings_chosen_before(earlier: dict, setup: dict) -> dict[tuple[str, int | None], dict]:
    """``(method, budget) -> row`` of an earlier run (``--settings-from``), whose held-out images and
    scoring must be this run's."""
    recorded = recorded_setup(earlier)
    same = ("dataset", "held-out images", "replacement", "stride", "precision", "candidate grid")
    differ = [key for key in same if recorded.get(key) != setup.get(key)]
    if differ:
        raise BenchmarkError(
            f"--settings-from: that run differs in {', '.join(differ)}; its settings were not chosen for this setup"
        )
    return {(row["method"], row["budget"]): row for row in earlier["rows"]}


def choose(
    data: Data,
    name: str,
    cls: type,
    grid: list[dict],
    budget: int | None,
    before: dict | None,
    finalists: int = FINALISTS,
) -> tuple[dict, list[dict], list[dict]]:
    """The setting to score at ``budget``, every candidate's held-out score (best first) and the
    finalists the larger budgets search: by AOPC deletion on the held-out images, or (``before``)
    as an earlier run chose them."""
    candidates = [dict(settings, queries=budget) if budget else settings for settings in grid]
    if before is not None:  # --settings-from: the earlier run's choice and its held-out scores
        chosen = dict(before["settings"], queries=budget) if budget else before["settings"]
        return chosen, before.get("held_out", []), before.get("finalists", grid)
    if len(candidates) == 1:
        return candidates[0], [], grid
    held_scores = [evaluate(data, cls, c, held_out=True, insertion=False)["deletion"] for c in candidates]
    ranking = sorted(range(len(candidates)), key=held_scores.__getitem__, reverse=True)
    print(f"{name} @ {budget}: held-out deletion {[round(s, 3) for s in held_scores]}", flush=True)
    held_out = [{"settings": grid[i], "deletion": held_scores[i]} for i in ranking]  # best first
    return candidates[ranking[0]], held_out, [grid[i] for i in ranking[:finalists]]


def run(settings: Settings) -> list[dict]:
    """Every (method, budget) row, measured or (``--resume``) kept; written to the run folder as
    they come (``--plan``: nothing measured, the plan printed, no rows)."""
    methods = chosen_methods(
        settings.dataset,
        grid_size=settings.grid,
        budgets=settings.budgets,
        names=settings.methods,
        baseline=settings.baseline,
    )
    if settings.plan:
        print_plan(settings, methods)
        return []
    data = load(settings)
    folder = RunFolder(
        settings.folder, settings, settings.device, render=markdown, figures=plot, resume=settings.resume
    )
    setup = folder.results["setup"] = setup_of(settings, data)
    folder.rows[:] = earlier_rows(folder.earlier, setup) if folder.earlier else []
    chosen_before = None
    if settings.settings_from is not None:
        chosen_before = settings_chosen_before(json.loads(Path(settings.settings_from).read_text()), setup)
    for name, cls, grid, budgets in methods:
        for budget in budgets:
            earlier = next((r for r in folder.rows if r["method"] == name and r["budget"] == budget), None)
            if earlier is not None:  # --resume: measured before; carry its finalists to the larger budgets
                grid = earlier.get("finalists", grid)
                continue
            if chosen_before is not None and (name, budget) not in chosen_before:
                raise BenchmarkError(f"--settings-from {settings.settings_from}: it has no row for {name} @ {budget}")
            before = None if chosen_before is None else chosen_before[name, budget]
            chosen, held_out, grid = choose(
                data, name=name, cls=cls, grid=grid, budget=budget, before=before, finalists=settings.finalists
            )
            row = scored_row(data, name=name, cls=cls, chosen=chosen, budget=budget)
            row.update(finalists=grid, held_out=held_out, machine=folder.meta["machine"], date=folder.meta["date"])
            folder.rows.append(row | {"forward_seconds_per_query": data.forward_seconds})
            print(folder.rows[-1], flush=True)
            folder.save(status=f"{name} @ {budget} done")  # after every row: a long run loses nothing
    folder.finish()
    return folder.rows


def scored_row(data: Data, name: str, cls: type, chosen: dict, budget: int | None) -> dict:
    """The row of one (method, budget): the chosen setting scored on the scored images."""
    result = evaluate(data, cls, chosen)
    result["x_forward"] = result["seconds"] / (result["queries"] * data.forward_seconds)
    return {"method": name, "budget": budget, "settings": {k: v for k, v in chosen.items() if k != "queries"}, **result}


# -- Markdown and the plot -----------------------------------------------------------------------


def markdown(results: dict) -> list[str]:
    """The setup, the table of rows, every held-out candidate and the paired differences."""
    rows = results["rows"]
    lines = [f"- **{k}**: {v}" for k, v in results["setup"].items()]
    forwards = {}  # a resumed run: each run measured the model's own speed, and its rows' 'x forward' used it
    for r in rows:
        if "forward_seconds_per_query" in r:
            forwards.setdefault(f"{r['forward_seconds_per_query']:.3g}", []).append(
                r["method"] + (f" @ {r['budget']}" if r["budget"] else "")
            )
    if len(forwards) > 1:
        runs = "; ".join(f"{value} for {', '.join(rows_of_run)}" for value, rows_of_run in forwards.items())
        lines.append(f"- **forward seconds per query, run by run**: {runs}")
    return lines + ["", *rows_table(rows), *held_out_lines(rows), *paired_section(rows)]


def rows_table(rows: list[dict]) -> list[str]:
    """One line per row: queries, AOPC, seconds, 'x forward', the settings (and where it was measured)."""
    header = ["method", "budget", "queries / explanation", "AOPC deletion (± s.e.)", "AOPC insertion"]
    header += ["s / explanation", "x forward", "settings (chosen on held-out)"]
    several = len({(r.get("machine"), r.get("date")) for r in rows}) > 1  # a resumed run: say where each was measured
    header += ["machine, date"] if several else []
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in rows:
        cells = [r["method"], r["budget"] or "—", f"{r['queries']:.0f}", f"{r['deletion']:.3f}"]
        if "deletion_se" in r:
            cells[-1] += f" ± {r['deletion_se']:.3f}"
        cells += [f"{r['insertion']:.3f}", f"{r['seconds']:.3f}"]
        cells.append(f"{r['x_forward']:.1f}" if "x_forward" in r else "—")
        cells.append(", ".join(f"{k}={v}" for k, v in r["settings"].items()))
        cells += [f"{r.get('machine')}, {r.get('date')}"] if several else []
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def held_out_lines(rows: list[dict]) -> list[str]:
    """Every candidate's held-out AOPC deletion, best first, per searched row."""
    searched = [r for r in rows if r.get("held_out")]
    lines = ["", "## Every candidate on the held-out images (AOPC deletion, best first)", ""] if searched else []
    for r in searched:
        scores = "; ".join(
            f"{c['deletion']:.3f} ({', '.join(f'{k}={v}' for k, v in c['settings'].items() if k != 'baseline')})"
            for c in r["held_out"]
        )
        lines.append(f"- {r['method']} @ {r['budget']}: {scores}")
    return lines


def paired_section(rows: list[dict]) -> list[str]:
    paired = paired_differences(rows)
    if not paired:
        return []
    return [
        "",
        "## Paired differences on the same images (per-image AOPC deletion)",
        "",
        "The best GEEX-family row of each budget against the best other black-box row of that budget and "
        "against white-box IG, image by image (both scored the same images): the mean of the per-image "
        "differences ± its standard error (each image's AOPC is normalised by its own first point, so the "
        "mean can differ a little from the difference of the rows' scores, which average the curves first).",
        "",
        *paired,
    ]


def in_geex_family(method: str) -> bool:
    return method.startswith(("GE", "bGEEX"))


def paired_differences(rows: list[dict]) -> list[str]:
    """Lines comparing, image by image, each budget's best GEEX-family row with its best rivals."""
    measured = [r for r in rows if "deletion_per_instance" in r]

    def best(found):
        return max(found, key=lambda r: r["deletion"], default=None)

    lines = []
    for budget in sorted({r["budget"] for r in measured if r["budget"]}):
        at_budget = [r for r in measured if r["budget"] == budget]
        ours = best(r for r in at_budget if in_geex_family(r["method"]))
        rivals = [best(r for r in at_budget if not in_geex_family(r["method"]))]
        rivals += [r for r in measured if r["method"].startswith("IG")]
        for other in rivals:
            if (
                ours is None
                or other is None
                or len(other["deletion_per_instance"]) != len(ours["deletion_per_instance"])
            ):
                continue
            lines.append(f"- {budget} queries: {paired_difference(ours, other)}")
    return lines


def paired_difference(ours: dict, other: dict) -> str:
    """``A − B = mean ± s.e. (n images; better on …, worse on …)`` from two rows' per-image AOPC deletion.

    Example:
        >>> paired_difference({"method": "A", "deletion_per_instance": [0.9, 0.8]},
        ...                   {"method": "B", "deletion_per_instance": [0.85, 0.8]})
        'A − B = +0.0250 ± 0.0250 (2 images; better on 1, worse on 0)'
    """
    d = torch.tensor(ours["deletion_per_instance"], dtype=torch.float64)
    d = d - torch.tensor(other["deletion_per_instance"], dtype=torch.float64)
    se = float(d.std() / len(d) ** 0.5) if len(d) > 1 else float("nan")
    return (
        f"{ours['method']} − {other['method']} = {float(d.mean()):+.4f} ± {se:.4f} "
        f"({len(d)} images; better on {int((d > 0).sum())}, worse on {int((d < 0).sum())})"
    )


def plot(folder: Path, results: dict) -> None:
    """``results.png``: AOPC deletion against queries per explanation, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        style = dict(marker="o") if mine[0]["budget"] else dict(marker="s", linestyle="none")
        ax.plot([r["queries"] for r in mine], [r["deletion"] for r in mine], label=name, **style)
    ax.set_xscale("log")
    ax.set_xlabel("queries per explanation")
    ax.set_ylabel("AOPC deletion (higher is better)")
    ax.set_title(f"AOPC against queries, {results['setup']['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(folder / "results.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
