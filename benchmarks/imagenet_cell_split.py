"""The regression's cell values on ImageNet: how to spread them over pixels, which grid, which score.

bGEEX with ``estimator="regression"`` estimates one value per mask cell and spreads it evenly over
the cell's pixels, so the AOPC ranking breaks ties inside a cell in raster order. This script asks,
on the held-out ImageNet samples only (the last ``--held-out`` ones, which ``aopc.py`` uses to
choose settings and never scores), whether deletion and insertion improve when the cell's value is
instead spread in proportion to |x − x̊| (the pixels the blurred baseline changes most), upsampled
bilinearly, or both, and how the grid size and the fitness compare at one budget.

    python benchmarks/imagenet_cell_split.py --data ../shared/data --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from evoxplain import GEEX, BlackBox, recommended_settings
from evoxplain.baseline import gaussian_blur
from evoxplain.metrics import aopc_deletion, aopc_insertion


def split_variants(x: torch.Tensor, values: torch.Tensor, grid: int) -> dict[str, torch.Tensor]:
    """Per-pixel rankings ``(n, 1, H, W)`` from the explanation ``values`` ``(n, C, H, W)``."""
    density = values.sum(dim=1, keepdim=True)  # constant within a cell
    variants = {"even (the default)": density}
    cell = x.shape[-1] // grid
    if cell * grid != x.shape[-1] or x.shape[-2] != x.shape[-1]:
        return variants  # cells of unequal sizes: only the even split
    change = (x - gaussian_blur(x)).abs().sum(dim=1, keepdim=True)  # |x − x̊| with the blurred baseline

    def cell_total(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(F.avg_pool2d(t, cell) * cell**2, scale_factor=cell, mode="nearest")

    per_cell = F.avg_pool2d(density, cell)
    bilinear = F.interpolate(per_cell, size=x.shape[-2:], mode="bilinear", align_corners=False)
    variants["|x − x̊|-weighted"] = cell_total(density) * change / cell_total(change).clamp_min(1e-12)
    variants["bilinear"] = bilinear
    variants["bilinear × |x − x̊|"] = bilinear * change
    return variants


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="the folder holding imagenet_samples/ (default $EVOXPLAIN_DATA)")
    p.add_argument("--held-out", type=int, default=3, help="the last N samples (aopc.py's held-out images)")
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--configs", default="28:prob,56:prob,28:logit,28:logprob", help="grid:fitness, comma separated")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = p.parse_args(argv)
    from evoxplain_zoo.data import load_imagenet_samples
    from evoxplain_zoo.models.efficientnet import efficientnet_lite0

    x = load_imagenet_samples(args.data).images[-args.held_out :].to(args.device)
    model = BlackBox(efficientnet_lite0().to(args.device), output="logits", batch_size=args.batch_size)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"{platform.machine()} CPU"
    report = {
        "command": "python benchmarks/imagenet_cell_split.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{name}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
        "settings": {k: str(v) for k, v in vars(args).items() if k != "out"},
        "rows": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for config in args.configs.split(","):
        grid, fitness = config.split(":")
        settings = dict(recommended_settings(tuple(x.shape[1:])), mask_size=int(grid), fitness=fitness)
        explainer = GEEX(model, queries=args.queries, batch_size=args.batch_size, seed=0, **settings)
        values = explainer.explain(x).values.to(x.device)
        for split, ranking in split_variants(x, values, int(grid)).items():
            deletion = aopc_deletion(model, x, ranking, replacement="blur", stride=100, batch_size=args.batch_size)
            insertion = aopc_insertion(model, x, ranking, replacement="blur", stride=100, batch_size=args.batch_size)
            report["rows"].append(
                {
                    "grid": int(grid),
                    "fitness": fitness,
                    "split": split,
                    "deletion": deletion.score,
                    "deletion_per_instance": deletion.per_instance.tolist(),
                    "insertion": insertion.score,
                }
            )
            print(report["rows"][-1], flush=True)
        (args.out / "imagenet_cell_split.json").write_text(json.dumps(report, indent=1))  # after each config
        (args.out / "imagenet_cell_split.md").write_text(markdown(report))
    return report


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        "# The regression's cell values on held-out ImageNet samples: split, grid and fitness",
        "",
        f"- Command: `{report['command']}`",
        f"- Machine: {report['machine']}",
        f"- Date: {report['date']}",
        f"- The last {s['held_out']} ImageNet samples (`aopc.py`'s held-out images, never scored), EfficientNet-Lite0; "
        f'bGEEX, `estimator="regression"`, `design="orthogonal"`, `integrated=False`, blurred baseline, '
        f"{s['queries']} queries, seed 0; AOPC with blurred replacement, stride 100 (AOPC of the averaged curve).",
        "",
        "| grid | fitness | values spread over a cell's pixels | AOPC deletion | per image | AOPC insertion |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        split = r["split"].replace("|", "\\|")  # a table cell
        per = ", ".join(f"{v:.3f}" for v in r["deletion_per_instance"])
        lines.append(
            f"| {r['grid']}×{r['grid']} | {r['fitness']} | {split} | {r['deletion']:.3f} | {per} | "
            f"{r['insertion']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
