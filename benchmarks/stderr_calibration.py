"""Are GEEX's standard errors right on real models? Reported errors against the spread over seeds.

For each method, each input is explained with ``--seeds`` different seeds at the same budget; per
input element, the mean reported standard error (``Explanation.stderr``) is divided by the
standard deviation of the values over those seeds. A calibrated error gives ratios near 1 (with
S seeds, a standard deviation is itself known to about ±1/√(2(S − 1))). The settings are fixed
(the large-image default and σ 0.1 on digits), not tuned: the question is the errors, not the values.

    python benchmarks/stderr_calibration.py --data ../shared/data --dataset mnist --images 4 --seeds 20
    python benchmarks/stderr_calibration.py --data ../shared/data --dataset imagenet --images 1 --seeds 10

``--design both`` explains every input with both designs (``GEEX(design=...)``, independent
directions and orthogonal blocks) on the same seeds, and reports the orthogonal design's spread over
seeds relative to the random one's (its variance reduction) and how far apart the two designs'
mean values are (the same expectation: |z| about 0.8 on average); results then go to
``stderr_calibration_<dataset>_designs.*``.
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


def load(dataset: str, data: str, images: int):
    if dataset == "imagenet":
        from evoxplain_zoo.data import load_imagenet_samples
        from evoxplain_zoo.models.efficientnet import efficientnet_lite0

        x = load_imagenet_samples(data).images
        return efficientnet_lite0(), x[64 : 64 + images], LARGE  # unscored by the AOPC runs (0–63)
    from evoxplain_zoo.data import load_fashion_mnist, load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    x, _ = (load_mnist if dataset == "mnist" else load_fashion_mnist)("test", data)
    return load_lenet(dataset), x[:images], SMALL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist", "imagenet"], default="mnist")
    parser.add_argument("--data", default=None)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--design", choices=["random", "orthogonal", "both"], default="random")
    parser.add_argument("--methods", nargs="*", default=None, help="only these methods (default: all)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    designs = ["random", "orthogonal"] if args.design == "both" else [args.design]

    model, inputs, methods = load(args.dataset, args.data, args.images)
    if args.methods is not None:
        unknown = set(args.methods) - set(methods)
        if unknown:
            raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {list(methods)}")
        methods = {name: options for name, options in methods.items() if name in args.methods}
    blackbox = BlackBox(model.eval(), output="logits", batch_size=args.batch_size)
    rows = []
    previous: dict[str, torch.Tensor] = {}  # the random design's spread and mean values, for the orthogonal row
    for (name, options), design in itertools.product(methods.items(), designs):
        options = {**options, "design": design} if args.design != "random" else options
        started = time.perf_counter()
        ratios, shares, spreads, means = [], [], [], []
        for x in inputs:
            runs = [GEEX(blackbox, queries=args.queries, seed=s, **options).explain(x) for s in range(args.seeds)]
            values = torch.stack([r.values for r in runs]).flatten(1)
            reported = torch.stack([r.stderr for r in runs]).flatten(1)
            spread = values.std(dim=0)
            moving = spread > 1e-6 * spread.max()  # elements whose values change with the seed at all
            ratios.append(reported.mean(dim=0)[moving] / spread[moving])
            shares.append(float((values.abs() > 2 * reported).float().mean()))
            spreads.append(spread)
            means.append(values.mean(dim=0))
        ratio = torch.cat(ratios)
        quantiles = ratio.quantile(torch.tensor([0.05, 0.5, 0.95])).tolist()
        rows.append(
            {
                "method": name,
                "settings": options,
                "elements": len(ratio),
                "ratio q05 / median / q95": [round(q, 3) for q in quantiles],
                "share of values beyond 2 s.e.": round(sum(shares) / len(shares), 3),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        spread, mean = torch.cat(spreads), torch.cat(means)
        if design == "orthogonal" and args.design == "both":  # against the random row just before
            rms = lambda t: float(t.square().mean().sqrt())  # noqa: E731
            rows[-1]["spread vs random (rms)"] = round(rms(spread) / rms(previous["spread"]), 3)
            z = (mean - previous["mean"]) / ((spread.square() + previous["spread"].square()) / args.seeds).sqrt()
            rows[-1]["mean |z| vs random"] = round(float(z[z.isfinite()].abs().mean()), 3)
        previous = {"spread": spread, "mean": mean}
        print(rows[-1], flush=True)

    command = "python " + shlex.join(sys.argv)
    meta = {
        "command": command,
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
        "inputs": f"{len(inputs)} {args.dataset} images"
        + (" (samples 64+, unscored by the AOPC runs)" if args.dataset == "imagenet" else " (test images 0+)"),
        "seeds": args.seeds,
        "queries": args.queries,
        **({"design": args.design} if args.design != "random" else {}),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = {"random": "", "orthogonal": "_orthogonal", "both": "_designs"}[args.design]
    stem = out / f"stderr_calibration_{args.dataset}{suffix}"
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Standard errors against the spread over seeds ({args.dataset})", ""]
    lines += [f"- **{key}**: {value}" for key, value in meta.items()]
    lines += [
        "- **ratio**: per input element, the mean reported `stderr` over the seeds divided by the standard "
        f"deviation of the values over the seeds (1 = calibrated; with {args.seeds} seeds the standard deviation "
        f"itself is known to about ±{100 / (2 * (args.seeds - 1)) ** 0.5:.0f} %)",
        "",
    ]
    both = args.design == "both"
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
    for r in rows:
        q = " / ".join(f"{v:.2f}" for v in r["ratio q05 / median / q95"])
        line = (
            f"| {r['method']} | {r['settings'].get('design', 'random')} | {r['elements']} | {q} | "
            f"{r['share of values beyond 2 s.e.']:.1%} | {r['seconds']} |"
        )
        if both:
            line += f" {r.get('spread vs random (rms)', '–')} | {r.get('mean |z| vs random', '–')} |"
        lines.append(line)
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
