"""The regression's cell values on ImageNet: how to spread them over pixels, which grid, which score.

bGEEX with ``estimator="regression"`` estimates one value per mask cell and spreads it evenly over
the cell's pixels, so the AOPC ranking breaks ties inside a cell in raster order. This script asks,
on the held-out ImageNet samples only (the last ``--held-out`` ones, which ``benchmarks.aopc`` uses to
choose settings and never scores), whether deletion and insertion improve when the cell's value is
instead spread in proportion to |x − x̊| (the pixels the blurred baseline changes most), upsampled
bilinearly, or both, and how the grid size and the fitness compare at one budget.

    python -m benchmarks.imagenet_cell_split --data ../shared/data
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from benchmarks.harness import RunFolder, default_folder, main_of, option
from evoxplain import GEEX, BlackBox, recommended_settings
from evoxplain.baseline import gaussian_blur
from evoxplain.metrics import aopc_deletion, aopc_insertion


@dataclass
class Settings:
    """The held-out samples, the budget and the (grid, fitness) pairs compared."""

    benchmark: ClassVar[str] = "imagenet_cell_split"
    title: ClassVar[str] = "The regression's cell values on held-out ImageNet samples: split, grid and fitness"
    data: str | None = option(None, "the folder holding imagenet_samples/ (default $EVOXPLAIN_DATA)")
    held_out: int = option(3, "the last N samples (the AOPC benchmark's held-out images)")
    queries: int = option(5000, "query budget of each explanation")
    configs: list[str] = option(["28:prob", "56:prob", "28:logit", "28:logprob"], "grid:fitness pairs", sep=",")
    batch_size: int = option(64, "model inputs per call")
    device: str = option("cpu", "torch device")
    out: Path | None = option(None, "the run folder (default benchmarks/results/imagenet_cell_split/<device>)")


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


def run(settings: Settings) -> list[dict]:
    """One row per (grid, fitness) and way of spreading the cell values, after each config written."""
    from evoxplain_zoo.data import load_imagenet_samples
    from evoxplain_zoo.models.efficientnet import efficientnet_lite0

    x = load_imagenet_samples(settings.data).images[-settings.held_out :].to(settings.device)
    model = BlackBox(efficientnet_lite0().to(settings.device), output="logits", batch_size=settings.batch_size)
    name = settings.out or default_folder(settings, settings.device)
    folder = RunFolder(name, settings, settings.device, render=markdown)
    scoring = dict(replacement="blur", stride=100, batch_size=settings.batch_size)
    for config in settings.configs:
        grid, fitness = config.split(":")
        chosen = dict(recommended_settings(tuple(x.shape[1:])), mask_size=int(grid), fitness=fitness)
        explainer = GEEX(model, queries=settings.queries, batch_size=settings.batch_size, seed=0, **chosen)
        values = explainer.explain(x).values.to(x.device)
        for split, ranking in split_variants(x, values, int(grid)).items():
            deletion = aopc_deletion(model, x, ranking, **scoring)
            insertion = aopc_insertion(model, x, ranking, **scoring)
            folder.rows.append(
                {
                    "grid": int(grid),
                    "fitness": fitness,
                    "split": split,
                    "deletion": deletion.score,
                    "deletion_per_instance": deletion.per_instance.tolist(),
                    "insertion": insertion.score,
                }
            )
            print(folder.rows[-1], flush=True)
        folder.save()  # after each config
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The setup and one table line per row."""
    s = results["settings"]
    lines = [
        f"- The last {s['held_out']} ImageNet samples (the AOPC benchmark's held-out images, never scored), "
        'EfficientNet-Lite0; bGEEX, `estimator="regression"`, `design="orthogonal"`, `integrated=False`, blurred '
        f"baseline, {s['queries']} queries, seed 0; AOPC with blurred replacement, stride 100 (AOPC of the "
        "averaged curve).",
        "",
        "| grid | fitness | values spread over a cell's pixels | AOPC deletion | per image | AOPC insertion |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        split = r["split"].replace("|", "\\|")  # a table cell
        per = ", ".join(f"{v:.3f}" for v in r["deletion_per_instance"])
        lines.append(
            f"| {r['grid']}×{r['grid']} | {r['fitness']} | {split} | {r['deletion']:.3f} | {per} | "
            f"{r['insertion']:.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
