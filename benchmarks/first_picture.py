"""The first picture a user sees: `evoxplain explain`'s default photo and display, before and after.

Explains the earlier sample photo (scikit-image's cat, ``chelsea``) and the new one (scikit-image's
``camera``: a photographer whose camera stands on a tripod) with EfficientNet-Lite0 and the
command's default settings (``make_explainer(..., "auto", queries=1000, seed=0)``), and draws each
explanation twice: as the command drew it before (per-pixel values over a grey copy, colour limits
at the largest value) and as it draws it now (:func:`evoxplain.viz.explanation_figure`: one value
per mask cell, shares of the change in the explained probability, cells within two standard
errors of zero muted). Also scores the candidate photos that scikit-image, scikit-learn and
matplotlib ship (the model's top class and probability, and the probability the blurred copy
keeps), which is how the new photo was chosen: the model right and sure, the object a small part
of the frame, a large change between the photo and its blurred copy to explain.

    python -m benchmarks.first_picture            # results/first_picture/cameraman-and-cat
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from evoxplain_zoo.models.efficientnet import efficientnet_lite0, imagenet_classes
from PIL import Image

from benchmarks.harness import RunFolder, default_folder, main_of, markdown_table, option, torch_threads
from evoxplain import BlackBox
from evoxplain.baseline import make_baseline
from evoxplain.cli.explain import make_explainer
from evoxplain.inputs import center_crop
from evoxplain.viz import AttributionMap, explanation_figure, overlay


def candidates() -> dict[str, Image.Image]:
    """Photos that installed packages ship (nothing is downloaded), by name."""
    import matplotlib
    import skimage
    import sklearn

    skimage_data = Path(skimage.__file__).parent / "data"
    names = ("chelsea.png", "camera.png", "coffee.png", "rocket.jpg", "astronaut.png")
    paths = {f"skimage {name}": skimage_data / name for name in names}
    paths["sklearn china"] = Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg"
    paths["sklearn flower"] = Path(sklearn.__file__).parent / "datasets" / "images" / "flower.jpg"
    paths["matplotlib grace_hopper"] = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {name: Image.open(path).convert("RGB") for name, path in paths.items() if path.is_file()}


def score_candidates(blackbox: BlackBox, classes: list[str]) -> list[dict]:
    rows = []
    for name, photo in candidates().items():
        x = center_crop(photo, 224, 3)
        probs = blackbox.probabilities(torch.stack([x, make_baseline("blur", x)]))
        top = int(probs[0].argmax())
        rows.append(
            {"photo": name, "class": classes[top], "p": float(probs[0, top]), "p_blurred": float(probs[1, top])}
        )
    return rows


def explain(blackbox: BlackBox, x: torch.Tensor, out: Path, stem: str, classes: list[str]) -> dict:
    started = time.perf_counter()
    exp = make_explainer(blackbox, tuple(x.shape), "auto", queries=1000, seed=0).explain(x, None, batched=False)
    seconds = time.perf_counter() - started
    label = classes[exp.target]
    overlay(x, exp.values.sum(dim=0), path=out / f"{stem}_before.png", title=label)  # what the command drew
    explanation_figure(x, exp, label=label, path=out / f"{stem}_after.png")
    amap = AttributionMap.of(exp)
    return {
        "photo": stem,
        "class": label,
        "p": float(exp.score),
        "p_blurred": float(exp.baseline_score),
        "queries": exp.queries,
        "seconds": round(seconds, 1),
        "cells": int(amap.values.size),
        "cells_beyond_2_stderr": int(amap.significant.sum()),
        "largest_cell_share": float(np.abs(amap.shares).max()),
        "settings": {k: v for k, v in exp.params.items() if v is not None},
    }


def side_by_side(out: Path) -> None:
    """before_after.png: rows old photo / new photo, columns old display / new display."""
    stems, whens = ("cat", "cameraman"), ("before", "after")
    pictures = [[Image.open(out / f"{stem}_{when}.png") for when in whens] for stem in stems]
    width = max(sum(p.width for p in row) for row in pictures)
    height = sum(max(p.height for p in row) for row in pictures)
    canvas = Image.new("RGB", (width, height), "white")
    y = 0
    for row in pictures:
        x = 0
        for picture in row:
            canvas.paste(picture.convert("RGB"), (x, y))
            x += picture.width
        y += max(p.height for p in row)
    canvas.save(out / "before_after.png")


@dataclasses.dataclass
class Settings:
    """What one run draws (each a command-line option ``--name``)."""

    benchmark: ClassVar[str] = "first_picture"
    title: ClassVar[str] = "The first picture: the default explanation before and after"
    threads: int = option(1, "torch CPU threads")
    out: Path | None = option(None, "the run folder (default benchmarks/results/first_picture/cameraman-and-cat)")


def render(results: dict) -> list[str]:
    """The candidate photos and the two explanations as tables, below the metadata header."""
    lines = ["Pictures: `before_after.png` (each photo's `*_before.png`, `*_after.png` beside it).", ""]
    lines += markdown_table(
        ["photo", "top class", "p", "p of the blurred copy"],
        [[r["photo"], r["class"], f"{r['p']:.3f}", f"{r['p_blurred']:.3f}"] for r in results["candidates"]],
    )
    lines += [""] + markdown_table(
        ["photo", "queries", "seconds", "cells", "cells beyond 2 s.e.", "largest cell's share"],
        [
            [r["photo"], r["queries"], f"{r['seconds']:.1f}", r["cells"], r["cells_beyond_2_stderr"],
             f"{r['largest_cell_share']:.2f}"]
            for r in results["rows"]
        ],
    )  # fmt: skip
    return lines


def run(settings: Settings) -> Path:
    """Draw both photos' explanations before and after, score the candidates, write the run."""
    folder = RunFolder(settings.out or default_folder(settings, "cameraman-and-cat"), settings, render=render)
    with torch_threads(settings.threads):
        classes = imagenet_classes()
        blackbox = BlackBox(efficientnet_lite0(), output="logits", batch_size=32)
        photos = candidates()
        folder.rows.extend(
            explain(blackbox, center_crop(photos[name], 224, 3), folder.folder, stem, classes)
            for name, stem in (("skimage chelsea.png", "cat"), ("skimage camera.png", "cameraman"))
        )
        side_by_side(folder.folder)
        folder.results["candidates"] = score_candidates(blackbox, classes)
    folder.finish()
    return folder.folder


def main(argv: list[str] | None = None) -> Path:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
