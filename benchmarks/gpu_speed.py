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

    python -m benchmarks.gpu_speed --data ../shared/data --device cuda
    python -m benchmarks.gpu_speed --data ../shared/data --device cpu --precisions fp32 --images 2 --queries 200 \
        --batch-sizes 50 100 --repeats 2 --out /tmp/speed    # a quick check on a CPU
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from benchmarks.harness import RunFolder, Stopwatch, default_folder, main_of, option
from evoxplain import GEEX, LIME, BlackBox, KernelSHAP, recommended_settings


@dataclass
class Settings:
    """The device, the budget, the images and the batch sizes and precisions timed."""

    benchmark: ClassVar[str] = "gpu_speed"
    title: ClassVar[str] = "Seconds per ImageNet explanation against the model's forward time"
    data: str | None = option(None, "the folder holding imagenet_samples/ (default $EVOXPLAIN_DATA)")
    device: str = option("cuda", "torch device")
    queries: int = option(5000, "query budget of each explanation")
    images: int = option(8, "samples explained per GEEX setting (KernelSHAP, LIME: 2)")
    batch_sizes: list[int] = option([500, 1000, 2000], "model inputs per call")
    precisions: list[str] = option(["bf16", "fp32"], "bf16 autocast and fp32", choices=["bf16", "fp32"])
    repeats: int = option(10, "timed forward calls per batch size and precision")
    out: Path | None = option(None, "the run folder (default benchmarks/results/gpu_speed/<device>)")


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
            with Stopwatch(device) as watch:
                call()
            times.append(watch.seconds)
        row[key] = statistics.median(times) / batch
    return row | {"inputs_per_s": 1 / row["seconds_per_input"]}


def explanation_time(explainer, images: torch.Tensor, device: torch.device) -> dict:
    """Seconds per explanation of each image (after one warm-up explanation), and queries each."""
    explainer.explain(images[0])
    seconds, queries = [], []
    for image in images:
        with Stopwatch(device) as watch:
            exp = explainer.explain(image)
        seconds.append(watch.seconds)
        queries.append(exp.queries)
    return {
        "seconds": statistics.mean(seconds),
        "seconds_median": statistics.median(seconds),
        "seconds_each": [round(s, 4) for s in seconds],
        "queries": statistics.mean(queries),
        "images": len(images),
    }


def timed_settings(settings: Settings, shape: tuple[int, ...]) -> list[tuple]:
    """``(method, class, settings, precision, batch size, images)`` of each explanation row: GEEX's
    large-image default (its 28×28 grid) at every batch size in the lower precision, at 14×14 and
    in the higher precision at the middle batch size, KernelSHAP and LIME there on two images."""
    middle = settings.batch_sizes[len(settings.batch_sizes) // 2]
    low, high = settings.precisions[0], settings.precisions[-1]  # bf16 and fp32 by default
    default = recommended_settings(shape)  # the large-image default; its grid varied below
    runs = [("GEEX", GEEX, dict(default, mask_size=28), low, b, settings.images) for b in settings.batch_sizes]
    runs += [("GEEX", GEEX, dict(default, mask_size=14), low, middle, settings.images)]
    runs += [("GEEX", GEEX, dict(default, mask_size=28), high, middle, settings.images)]
    surrogates = [("KernelSHAP", KernelSHAP), ("LIME", LIME)]
    return runs + [(n, cls, dict(superpixel=16, baseline="blur"), low, middle, 2) for n, cls in surrogates]


def run(settings: Settings) -> list[dict]:
    """The model's forward rates (``forward``), then one row per timed explanation setting."""
    from evoxplain_zoo.data import load_imagenet_samples
    from evoxplain_zoo.models.efficientnet import efficientnet_lite0

    device = torch.device(settings.device)
    model = efficientnet_lite0().to(device)
    images = load_imagenet_samples(settings.data).images[: max(settings.images, 2)].to(device)
    folder = RunFolder(settings.out or default_folder(settings, settings.device), settings, device, render=markdown)
    folder.results.update(model="EfficientNet-Lite0 (channels-last weights), 224×224", forward=[])
    for precision in settings.precisions:
        for batch in settings.batch_sizes:
            folder.results["forward"].append(
                forward_rate(model, images, batch=batch, precision=precision, repeats=settings.repeats)
            )
            print(folder.results["forward"][-1], flush=True)
    folder.save()
    per_input = {(r["precision"], r["batch_size"]): r["seconds_per_input"] for r in folder.results["forward"]}
    for method, cls, chosen, precision, batch, count in timed_settings(settings, tuple(images.shape[1:])):
        blackbox = BlackBox(model, output="logits", batch_size=batch, precision=precision)
        explainer = cls(blackbox, queries=settings.queries, seed=0, **chosen)
        row = {"method": method, "settings": chosen, "precision": precision, "batch_size": batch}
        row |= explanation_time(explainer, images[:count], device)
        row["x_forward"] = row["seconds"] / (row["queries"] * per_input[precision, batch])
        folder.rows.append(row)
        print(row, flush=True)
        folder.save()
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The forward rates and the explanations' seconds, one table each."""
    lines = [
        f"- Model: {results['model']}; real sample images on the device.",
        "",
        "## The model alone (median of the timed calls, one batch of sample images sent again and again)",
        "",
        "| precision | batch size | inputs / s | µs / input | µs / input through a BlackBox |",
        "|---|---|---|---|---|",
    ]
    for r in results["forward"]:
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
    for r in results["rows"]:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        lines.append(
            f"| {r['method']} | {settings} | {r['precision']} | {r['batch_size']} | {r['images']} | {r['queries']:.0f} "
            f"| {r['seconds']:.3f}, {r['seconds_median']:.3f} | {r['x_forward']:.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
