"""Seconds per ImageNet explanation against the model's own forward time for the same queries.

The speed goal of the explanation benchmark: GEEX at 5000 queries on EfficientNet-Lite0 in at most
0.6 s per explanation on one GPU, reported as ``x forward`` = seconds per explanation / (queries ×
the model's seconds per input). In one run, side by side:

* the model alone: inputs per second at several batch sizes, fp32 and bf16 autocast (a batch of
  real sample images built once on the device, sent again and again, timed after a warm-up);
* GEEX's large-image default (Bernoulli masks of crisp cells, ``estimator="regression"``,
  ``design="orthogonal"``, blurred baseline, not integrated) at ``--queries``, at several batch
  sizes, precisions and grids: seconds per explanation over ``--images`` samples, after one
  warm-up explanation;
* Captum's KernelSHAP and LIME (16-px superpixels) at the same budget on fewer images.

    python benchmarks/gpu_speed.py --data ../shared/data --device cuda --out benchmarks/results/imagenet_gpu
    python benchmarks/gpu_speed.py --data ../shared/data --device cpu --precisions fp32 --images 2 --queries 200 \
        --batch-sizes 50 100 --repeats 2 --out /tmp/speed    # a quick check on a CPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from evoxplain import GEEX, LIME, BlackBox, KernelSHAP, recommended_settings


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_rate(model: torch.nn.Module, images: torch.Tensor, batch: int, precision: str, repeats: int) -> dict:
    """Seconds per input of the model alone (``no_grad``, autocast) and through a :class:`BlackBox`
    (which also checks every batch and answer): the median of ``repeats`` timed calls each."""
    blackbox = BlackBox(model, output="logits", batch_size=batch, precision=precision)
    device = blackbox.device
    tiles = -(-batch // len(images))
    x = images.repeat(tiles, 1, 1, 1)[:batch].contiguous()
    x = (x + 0.01 * torch.randn(x.shape, generator=torch.Generator(device).manual_seed(0), device=device)).clamp(0, 1)
    dtype = {"bf16": torch.bfloat16, "fp32": None}[precision]

    def alone() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            model(x)

    row = {"batch_size": batch, "precision": precision}
    for key, call in (("seconds_per_input", alone), ("blackbox_seconds_per_input", lambda: blackbox(x))):
        for _ in range(2):  # warm-up: kernels chosen, memory pooled
            call()
        times = []
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            call()
            synchronize(device)
            times.append(time.perf_counter() - start)
        row[key] = statistics.median(times) / batch
    return row | {"inputs_per_s": 1 / row["seconds_per_input"]}


def explanation_time(explainer, images: torch.Tensor, device: torch.device) -> dict:
    """Seconds per explanation of each image (after one warm-up explanation), and queries each."""
    explainer.explain(images[0])
    seconds, queries = [], []
    for image in images:
        synchronize(device)
        start = time.perf_counter()
        exp = explainer.explain(image)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
        queries.append(exp.queries)
    return {
        "seconds": statistics.mean(seconds),
        "seconds_median": statistics.median(seconds),
        "seconds_each": [round(s, 4) for s in seconds],
        "queries": statistics.mean(queries),
        "images": len(images),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="the folder holding imagenet_samples/ (default $EVOXPLAIN_DATA)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--images", type=int, default=8, help="samples explained per GEEX setting (KernelSHAP, LIME: 2)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 1000, 2000])
    p.add_argument("--precisions", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    p.add_argument("--repeats", type=int, default=10, help="timed forward calls per batch size and precision")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/imagenet_gpu"))
    args = p.parse_args(argv)
    from evoxplain_zoo.data import load_imagenet_samples
    from evoxplain_zoo.models.efficientnet import efficientnet_lite0

    device = torch.device(args.device)
    model = efficientnet_lite0().to(device)
    images = load_imagenet_samples(args.data).images[: max(args.images, 2)].to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU"
    report = {
        "command": "python benchmarks/gpu_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads",
        "date": datetime.date.today().isoformat(),
        "model": "EfficientNet-Lite0 (channels-last weights), 224×224",
        "forward": [],
        "explanations": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (args.out / "gpu_speed.json").write_text(json.dumps(report, indent=1) + "\n")
        (args.out / "gpu_speed.md").write_text(markdown(report))

    for precision in args.precisions:
        for batch in args.batch_sizes:
            report["forward"].append(forward_rate(model, images, batch, precision, args.repeats))
            print(report["forward"][-1], flush=True)
    save()
    per_input = {(r["precision"], r["batch_size"]): r["seconds_per_input"] for r in report["forward"]}
    middle = args.batch_sizes[len(args.batch_sizes) // 2]
    low, high = args.precisions[0], args.precisions[-1]  # bf16 and fp32 by default
    surrogates = [("KernelSHAP", KernelSHAP), ("LIME", LIME)]
    default = recommended_settings(tuple(images.shape[1:]))  # the large-image default; its grid varied below
    runs = [("GEEX", GEEX, dict(default, mask_size=28), low, b, args.images) for b in args.batch_sizes]
    runs += [("GEEX", GEEX, dict(default, mask_size=14), low, middle, args.images)]
    runs += [("GEEX", GEEX, dict(default, mask_size=28), high, middle, args.images)]
    runs += [(n, cls, dict(superpixel=16, baseline="blur"), low, middle, 2) for n, cls in surrogates]
    for method, cls, settings, precision, batch, count in runs:
        blackbox = BlackBox(model, output="logits", batch_size=batch, precision=precision)
        explainer = cls(blackbox, queries=args.queries, seed=0, **settings)
        row = {"method": method, "settings": settings, "precision": precision, "batch_size": batch}
        row |= explanation_time(explainer, images[:count], device)
        row["x_forward"] = row["seconds"] / (row["queries"] * per_input[precision, batch])
        report["explanations"].append(row)
        print(row, flush=True)
        save()
    return report


def markdown(report: dict) -> str:
    lines = [
        "# Seconds per ImageNet explanation against the model's forward time",
        "",
        f"- Command: `{report['command']}`",
        f"- Machine: {report['machine']}",
        f"- Date: {report['date']}",
        f"- Model: {report['model']}; real sample images on the device.",
        "",
        "## The model alone (median of the timed calls, one batch of sample images sent again and again)",
        "",
        "| precision | batch size | inputs / s | µs / input | µs / input through a BlackBox |",
        "|---|---|---|---|---|",
    ]
    for r in report["forward"]:
        lines.append(
            f"| {r['precision']} | {r['batch_size']} | {r['inputs_per_s']:.0f} | {1e6 * r['seconds_per_input']:.1f} "
            f"| {1e6 * r['blackbox_seconds_per_input']:.1f} |"
        )
    lines += [
        "",
        "## Explanations (after one warm-up explanation; x forward = s / explanation ÷ (queries × µs / input "
        "of the same precision and batch size))",
        "",
        "| method | settings | precision | batch | images | queries | s / explanation (mean, median) | x forward |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["explanations"]:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        lines.append(
            f"| {r['method']} | {settings} | {r['precision']} | {r['batch_size']} | {r['images']} | {r['queries']:.0f} "
            f"| {r['seconds']:.3f}, {r['seconds_median']:.3f} | {r['x_forward']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
