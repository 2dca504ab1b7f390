"""AOPC (deletion and insertion) and seconds per explanation, every method side by side.

For each method and query budget, the setting (σ, mask size, superpixels, …) is chosen by AOPC
deletion on held-out images (test images 5000+ for MNIST/Fashion-MNIST, the last ImageNet sample
images), never on the scored ones, then the chosen setting is scored. Methods whose cost is not a
budget (Occlusion, the white-box IG, SmoothGrad, Saliency) are run once. The AOPC of the GEEX
reference evaluation: pixels ranked by channel-mean attribution, replaced by 0 (MNIST-like,
stride 10) or a blurred copy (ImageNet, stride 100).

    python benchmarks/aopc.py --dataset mnist --data ../shared/data --images 100
    python benchmarks/aopc.py --dataset imagenet --data ../shared/data --images 64 --device cuda --precision bf16

Results are written after every method. ``--resume`` keeps the rows of an earlier run with the same
data and settings and runs only the missing (method, budget) pairs, so a long benchmark can be
spread over several calls (each row names the machine it was measured on).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from evoxplain import GEEX, LIME, RISE, BlackBox, IntegratedGradients, KernelSHAP, Occlusion, Saliency, SmoothGrad
from evoxplain.metrics import aopc_deletion, aopc_insertion

SIGMAS = [0.03, 0.1, 0.3, 1.0, 3.0]
FITNESS = ["prob", "logprob"]  # the score explained: every black-box method gets the same choice
FINALISTS = 3  # candidates carried from the smallest budget's search to the larger budgets
SMALL_GRID = "σ 0.2 / 0.6, masks 7 / 14 (bGEEX also 28), RISE cells 16 / 32, f = probability only"


def grids(dataset: str, grid_size: str = "full") -> dict[str, tuple[type, list[dict]]]:
    """Method name -> (class, candidate settings). Budgeted methods get ``queries`` added.

    ``grid_size="small"`` (large images only) searches a few candidates around the shipped
    defaults, for a run that a CPU can finish (see ``SMALL_GRID``)."""
    small = dataset != "imagenet"
    masks = [7, 10, 14, 20] if small else [7, 14, 28]
    smoothing = [(3, 0.5), (5, 1.0), (9, 2.0)] if small else [(5, 0.7), (31, 5.0)]
    cells = [2, 4, 7] if small else [16, 32]
    superpixels = [2, 4] if small else [8, 16, 32]  # the same cell sizes as the Bernoulli masks 28 / 14 / 7
    sigmas, fitness, bernoulli_masks = SIGMAS, FITNESS, masks + [None]
    regression_masks = [7, 14, None] if small else [7, 14, 28]  # crisp cells: 4×4, 2×2, 1×1 px on 28×28
    if grid_size == "small":
        if small:
            raise SystemExit("--grid small is for ImageNet: MNIST-sized runs search the full grid on a CPU")
        sigmas, fitness, masks, bernoulli_masks = [0.2, 0.6], ["prob"], [7, 14], [7, 14, 28]
        superpixels = [16]
    b = {"baseline": 0.0 if small else "blur"}
    grid = itertools.product
    methods = {
        "GE": (GEEX, [{"integrated": False, "sigma": s, "fitness": f} for s, f in grid(sigmas, fitness)]),
        "GEEX": (GEEX, [{"sigma": s, "fitness": f, **b} for s, f in grid(sigmas, fitness)]),
        "GEEX + resize": (
            GEEX,
            [{"mask_size": m, "sigma": s, "fitness": f, **b} for m, s, f in grid(masks, sigmas, fitness)],
        ),
        "GEEX + resize, shared": (
            GEEX,
            [
                {"mask_size": m, "sigma": s, "fitness": f, "shared_mask": True, **b}
                for m, s, f in grid(masks, sigmas, fitness)
            ],
        ),
        "GEEX + smoothing": (
            GEEX,
            [{"smoothing": k, "sigma": s, "fitness": f, **b} for k, s, f in grid(smoothing, sigmas, fitness)],
        ),
        "bGEEX": (
            GEEX,
            [
                {"distribution": "bernoulli", "mask_size": m, "fitness": f, **b}
                for m, f in grid(bernoulli_masks, fitness)
            ],
        ),
        "bGEEX + regression": (
            GEEX,
            [
                {
                    "distribution": "bernoulli",
                    "estimator": "regression",
                    "mask_size": m,
                    "integrated": i,
                    "fitness": f,
                    **b,
                }
                for m, i, f in grid(regression_masks, [True, False], fitness)
            ],
        ),
        "RISE": (RISE, [{"cell": c, "fitness": f, **b} for c, f in grid(cells, fitness)]),
        "LIME": (LIME, [{"superpixel": p, "fitness": f, **b} for p, f in grid(superpixels, fitness)]),
        "KernelSHAP": (KernelSHAP, [{"superpixel": p, "fitness": f, **b} for p, f in grid(superpixels, fitness)]),
    }
    for name in ("bGEEX", "bGEEX + regression"):  # the same candidates, signs in orthogonal blocks
        cls, candidates = methods[name]
        methods[f"{name}, orthogonal"] = (cls, [{**c, "design": "orthogonal"} for c in candidates])
    if small:  # one channel: a shared mask is the same mask
        del methods["GEEX + resize, shared"]
    return methods


def unbudgeted(dataset: str) -> dict[str, tuple[type, list[dict]]]:
    small = dataset != "imagenet"
    baseline = 0.0 if small else "blur"
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
    dataset: str, grid_size: str, budgets: list[int], names: list[str] | None
) -> list[tuple[str, type, list[dict], list[int | None]]]:
    """``(name, class, candidates, budgets)`` of the methods to run: all of them, or those ``names``
    in that order (cheap ones first, say, when a time limit may cut the run); a name that is not a
    method is refused before anything is loaded."""
    methods = [(name, cls, grid, sorted(budgets)) for name, (cls, grid) in grids(dataset, grid_size).items()]
    methods += [(name, cls, grid, [None]) for name, (cls, grid) in unbudgeted(dataset).items()]
    if names is None:
        return methods
    by_name = {method[0]: method for method in methods}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise SystemExit(f"--methods: no method named {', '.join(map(repr, unknown))}; the methods are {list(by_name)}")
    return [by_name[name] for name in dict.fromkeys(names)]


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
    (explanations, deletion and insertion curves), as ``main`` runs them (``--plan``)."""
    side = IMAGE_SIDE[dataset]
    steps = -(-side * side // stride) + 1  # 0, stride, …, and every pixel: the curve's points
    plan = []
    for name, cls, grid, budgets in methods:
        candidates = len(grid)
        for budget in budgets:
            if (name, budget) not in measured:
                queries = queries_per_explanation(cls, grid[0], budget, side)
                search = held_out * candidates * (queries + steps) if candidates > 1 else 0
                plan.append((name, budget, search + scored * (queries + 2 * steps)))
            candidates = min(candidates, FINALISTS)  # the larger budgets search the finalists
    return plan


def load(dataset: str, data: str, images: int, held_out: int, device: str, first: int = 0):
    """The model, the scored images (``images`` from index ``first``), the held-out images, the
    replacement and the stride."""
    if dataset == "imagenet":
        from evoxplain_zoo.data import load_imagenet_samples
        from evoxplain_zoo.models.efficientnet import efficientnet_lite0

        samples = load_imagenet_samples(data)
        x = samples.images
        if first + images + held_out > len(x):
            raise SystemExit(f"only {len(x)} ImageNet samples: --first + --images + --held-out must not exceed it")
        return efficientnet_lite0().to(device), x[first : first + images], x[len(x) - held_out :], "blur", 100
    from evoxplain_zoo.data import load_fashion_mnist, load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    if first + images > 5000:
        raise SystemExit("the scored test images end at 5000 (the held-out ones follow): lower --first or --images")
    x, _ = (load_mnist if dataset == "mnist" else load_fashion_mnist)("test", root=data)
    return load_lenet(dataset).to(device), x[first : first + images], x[5000 : 5000 + held_out], 0.0, 10


def evaluate(blackbox, method, settings, x, targets, replacement, stride, insertion=True):
    """Explain ``x`` and score it: AOPC deletion (and insertion), queries and seconds per input."""
    explainer = method(blackbox, seed=0, **settings)
    start = time.perf_counter()
    exp = explainer.explain(x, target=targets, batched=True)
    if blackbox.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / len(x)
    deletion = aopc_deletion(blackbox, x, exp.values, replacement=replacement, stride=stride, target=targets)
    per_instance = torch.as_tensor(deletion.per_instance, dtype=torch.float64)
    standard_error = float(per_instance.std() / len(per_instance) ** 0.5) if len(per_instance) > 1 else float("nan")
    result = {
        "deletion": deletion.score,
        "deletion_se": standard_error,
        "deletion_per_instance": [round(float(v), 5) for v in per_instance],  # for paired comparisons
        "deletion_curve": [float(v) for v in deletion.mean_curve],  # joins runs on other images exactly
        "queries": exp.queries / len(x),
        "seconds": seconds,
    }
    if insertion:
        result["insertion"] = aopc_insertion(
            blackbox, x, exp.values, replacement=replacement, stride=stride, target=targets
        ).score
    return result


def forward_seconds_per_query(blackbox: BlackBox, x: torch.Tensor, count: int) -> float:
    """Seconds per input of the model alone: ``count`` copies of ``x`` sent in batches (after a warm-up)."""
    batch = x[:1].expand(min(count, blackbox.batch_size), *x.shape[1:]).contiguous()
    blackbox(batch)  # warm-up
    sync = torch.cuda.synchronize if blackbox.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(max(1, count // len(batch))):
        blackbox(batch)
    sync()
    return (time.perf_counter() - start) / (max(1, count // len(batch)) * len(batch))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist", "imagenet"], required=True)
    parser.add_argument("--data", default=None, help="folder with mnist/, imagenet_samples/ (default $EVOXPLAIN_DATA)")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--first", type=int, default=0, help="index of the first scored image (default 0)")
    parser.add_argument("--held-out", type=int, default=50)
    parser.add_argument("--budgets", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--methods", nargs="*", default=None, help="only these methods, in this order")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--grid", default="full", choices=["full", "small"], help=f"candidate settings; small (ImageNet): {SMALL_GRID}"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--resume", action="store_true", help="keep the rows of an earlier run of the same setup")
    parser.add_argument(
        "--settings-from",
        type=Path,
        default=None,
        help="an earlier run's aopc_<dataset>.json with the same held-out images: score the settings it chose "
        "there instead of searching again (e.g. to score more images)",
    )
    parser.add_argument(
        "--plan", action="store_true", help="only print the model inputs each row still to run will take, then stop"
    )
    args = parser.parse_args(argv)
    methods = chosen_methods(args.dataset, args.grid, args.budgets, args.methods)
    if args.plan:
        print_plan(args, methods)
        return

    model, scored, held, replacement, stride = load(
        args.dataset, args.data, args.images, args.held_out, args.device, args.first
    )
    blackbox = BlackBox(model.eval(), output="logits", batch_size=args.batch_size, precision=args.precision)
    scored, held = scored.to(args.device), held.to(args.device)
    targets = blackbox.predict(scored).tolist()
    per_query = forward_seconds_per_query(blackbox, scored, 5 * args.batch_size)
    held_targets = blackbox.predict(held).tolist()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = (
        torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    )
    meta = {
        "command": "python benchmarks/aopc.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "machine": f"{device}, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
        "dataset": args.dataset,
        "scored images": f"{len(scored)} "
        + ("(the first" if args.first == 0 else f"(from index {args.first}")
        + " of the test split / sample images); targets = predicted classes",
        "held-out images": f"{len(held)} (settings chosen on these by AOPC deletion: the whole grid at the smallest "
        f"budget, its best {FINALISTS} again at each larger budget)",
        "replacement": replacement,
        "stride": stride,
        "precision": args.precision,
        "batch size": args.batch_size,
        **({"candidate grid": f"small: {SMALL_GRID}"} if args.grid == "small" else {}),
        "forward seconds per query": f"{per_query:.3g} (the model alone, batches of {args.batch_size}; "
        "'x forward' = seconds per explanation / (queries x this))",
    }

    chosen_before = {}
    if args.settings_from is not None:
        chosen_before = settings_chosen_before(json.loads(args.settings_from.read_text()), meta)
        meta["settings"] = f"chosen on the held-out images by the run of {args.settings_from} (not searched again)"
    stem = out / f"aopc_{args.dataset}"
    results = stem.with_suffix(".json")
    earlier = json.loads(results.read_text()) if args.resume and results.exists() else None
    rows = earlier_rows(earlier, meta) if earlier else []
    if rows:
        meta["command"] = f"{earlier['meta']['command']} && {meta['command']}"  # the chain reproduces the rows
    for name, cls, grid, budgets in methods:
        for budget in budgets:
            earlier = next((r for r in rows if r["method"] == name and r["budget"] == budget), None)
            if earlier is not None:  # --resume: measured before; carry its finalists to the larger budgets
                grid = earlier.get("finalists", grid)
                continue
            candidates = [dict(settings, queries=budget) if budget else settings for settings in grid]
            chosen, held_out = candidates[0], []
            if chosen_before:  # --settings-from: the earlier run's choice and its held-out scores
                if (name, budget) not in chosen_before:
                    raise SystemExit(f"--settings-from {args.settings_from}: it has no row for {name} @ {budget}")
                before = chosen_before[name, budget]
                chosen = dict(before["settings"], queries=budget) if budget else before["settings"]
                held_out, grid = before.get("held_out", []), before.get("finalists", grid)
            elif len(candidates) > 1:  # settings by AOPC deletion on held-out images
                held_scores = [
                    evaluate(blackbox, cls, c, held, held_targets, replacement, stride, insertion=False)["deletion"]
                    for c in candidates
                ]
                ranking = sorted(range(len(candidates)), key=held_scores.__getitem__, reverse=True)
                chosen = candidates[ranking[0]]
                held_out = [{"settings": grid[i], "deletion": held_scores[i]} for i in ranking]  # best first
                grid = [grid[i] for i in ranking[:FINALISTS]]  # the larger budgets search the finalists only
                print(f"{name} @ {budget}: held-out deletion {[round(s, 3) for s in held_scores]}", flush=True)
            result = evaluate(blackbox, cls, chosen, scored, targets, replacement, stride)
            result["x_forward"] = result["seconds"] / (result["queries"] * per_query)
            settings = {k: v for k, v in chosen.items() if k != "queries"}
            rows.append(
                {
                    "method": name,
                    "budget": budget,
                    "settings": settings,
                    **result,
                    "finalists": grid,
                    "held_out": held_out,
                }
            )
            rows[-1].update(machine=meta["machine"], date=meta["date"], forward_seconds_per_query=per_query)
            print(rows[-1], flush=True)
            save(stem, meta, rows)  # after every method: a long run loses nothing


def print_plan(args: argparse.Namespace, methods: list) -> None:
    """``--plan``: the rows a run with these arguments would add, with their model inputs (the
    rows of the ``--resume`` results are left out)."""
    results = Path(args.out) / f"aopc_{args.dataset}.json"
    rows = json.loads(results.read_text())["rows"] if args.resume and results.exists() else []
    stride = 100 if args.dataset == "imagenet" else 10
    held_out = 0 if args.settings_from else args.held_out
    plan = planned_inputs(
        methods, {(r["method"], r["budget"]) for r in rows}, args.dataset, held_out, args.images, stride
    )
    for name, budget, inputs in plan:
        print(f"{name} @ {budget or '—'}: {inputs / 1e3:,.0f}k inputs")
    print(f"in all: {sum(inputs for *_, inputs in plan) / 1e6:.2f}M model inputs for {len(plan)} rows")


SAME_SETUP = (  # "candidate grid" is only in the meta of small-grid runs
    "dataset", "scored images", "held-out images", "replacement", "stride", "precision", "batch size", "candidate grid",
)  # fmt: skip


BEFORE_RECORDED = {"precision": "fp32", "batch size": 1000}  # what runs made before these keys were written used


def earlier_rows(earlier: dict, meta: dict) -> list[dict]:
    """The rows of an earlier run's results (``--resume``), each with its machine and date; the
    earlier run must have the same setup as this one's ``meta``."""
    recorded = {**BEFORE_RECORDED, **earlier["meta"]}
    differ = [key for key in SAME_SETUP if recorded.get(key) != meta.get(key)]
    if differ:
        raise SystemExit(
            f"--resume: the earlier {meta['dataset']} results were measured with other {', '.join(differ)}; "
            "run without --resume to start over"
        )
    measured = {"machine": earlier["meta"]["machine"], "date": earlier["meta"]["date"]}
    if "forward seconds per query" in earlier["meta"]:  # rows written before each row kept its own
        measured["forward_seconds_per_query"] = float(earlier["meta"]["forward seconds per query"].split()[0])
    return [{**measured, **row} for row in earlier["rows"]]


def settings_chosen_before(earlier: dict, meta: dict) -> dict[tuple[str, int | None], dict]:
    """``(method, budget) -> row`` of an earlier run (``--settings-from``), whose held-out images and
    scoring must be this run's."""
    recorded = {**BEFORE_RECORDED, **earlier["meta"]}
    same = ("dataset", "held-out images", "replacement", "stride", "precision", "candidate grid")
    differ = [key for key in same if recorded.get(key) != meta.get(key)]
    if differ:
        raise SystemExit(
            f"--settings-from: that run differs in {', '.join(differ)}; its settings were not chosen for this setup"
        )
    return {(row["method"], row["budget"]): row for row in earlier["rows"]}


def save(stem: Path, meta: dict, rows: list[dict]) -> None:
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str))
    write_markdown(stem.with_suffix(".md"), meta, rows)
    plot(stem.with_suffix(".png"), rows, meta["dataset"])


def write_markdown(path: Path, meta: dict, rows: list[dict]) -> None:
    lines = [f"# AOPC on {meta['dataset']}", ""]
    lines += [f"- **{k}**: `{v}`" if k == "command" else f"- **{k}**: {v}" for k, v in meta.items()]
    forwards = {}  # a resumed run: each run measured the model's own speed, and its rows' 'x forward' used it
    for r in rows:
        if "forward_seconds_per_query" in r:
            forwards.setdefault(f"{r['forward_seconds_per_query']:.3g}", []).append(
                r["method"] + (f" @ {r['budget']}" if r["budget"] else "")
            )
    if len(forwards) > 1:
        runs = "; ".join(f"{value} for {', '.join(rows_of_run)}" for value, rows_of_run in forwards.items())
        lines.append(f"- **forward seconds per query, run by run**: {runs}")
    header = ["method", "budget", "queries / explanation", "AOPC deletion (± s.e.)", "AOPC insertion"]
    header += ["s / explanation", "x forward", "settings (chosen on held-out)"]
    several = len({(r.get("machine"), r.get("date")) for r in rows}) > 1  # a resumed run: say where each was measured
    header += ["machine, date"] if several else []
    lines += ["", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in rows:
        cells = [r["method"], r["budget"] or "—", f"{r['queries']:.0f}", f"{r['deletion']:.3f}"]
        if "deletion_se" in r:
            cells[-1] += f" ± {r['deletion_se']:.3f}"
        cells += [f"{r['insertion']:.3f}", f"{r['seconds']:.3f}"]
        cells.append(f"{r['x_forward']:.1f}" if "x_forward" in r else "—")
        cells.append(", ".join(f"{k}={v}" for k, v in r["settings"].items()))
        cells += [f"{r.get('machine')}, {r.get('date')}"] if several else []
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    searched = [r for r in rows if r.get("held_out")]
    if searched:
        lines += ["", "## Every candidate on the held-out images (AOPC deletion, best first)", ""]
    for r in searched:
        scores = "; ".join(
            f"{c['deletion']:.3f} ({', '.join(f'{k}={v}' for k, v in c['settings'].items() if k != 'baseline')})"
            for c in r["held_out"]
        )
        lines.append(f"- {r['method']} @ {r['budget']}: {scores}")
    paired = paired_differences(rows)
    if paired:
        lines += ["", "## Paired differences on the same images (per-image AOPC deletion)", ""]
        lines += [
            "The best GEEX-family row of each budget against the best other black-box row of that budget and "
            "against white-box IG, image by image (both scored the same images): the mean of the per-image "
            "differences ± its standard error (each image's AOPC is normalised by its own first point, so the "
            "mean can differ a little from the difference of the rows' scores, which average the curves first).",
            "",
            *paired,
        ]
    path.write_text("\n".join(lines) + "\n")


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


def plot(path: Path, rows: list[dict], dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        style = dict(marker="o") if mine[0]["budget"] else dict(marker="s", linestyle="none")
        ax.plot([r["queries"] for r in mine], [r["deletion"] for r in mine], label=name, **style)
    ax.set_xscale("log")
    ax.set_xlabel("queries per explanation")
    ax.set_ylabel("AOPC deletion (higher is better)")
    ax.set_title(f"AOPC against queries, {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
