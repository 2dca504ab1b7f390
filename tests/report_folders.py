"""Output folders of every kind, made here in seconds with tiny models, for the report tests.

* ``explanation_folder``: ``evoxplain explain`` on a 28×28 PNG with a TorchScript CNN of 5 classes;
* ``row_folder``: the same on a row of 6 features with a linear model (a bar chart);
* ``dataset_folder``: a dataset run's files (Parquet rows as the dataset runs write them, one of
  them failed, one without its heatmap PNG, a text row and a table row), written here;
* ``exemplar_folders``: image, table and text exemplar runs with stand-in generators;
* ``benchmark_file``: a benchmark's results JSON with deletion and insertion curves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evoxplain.cli import run_explain
from evoxplain.runs import Manifest, write_manifest

CLASSES = ["zero", "one", "two", "three", "four"]


def tiny_cnn() -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(4),
            torch.nn.Flatten(),
            torch.nn.Linear(64, 5),
        ).eval()


def explanation_folder(root: Path) -> Path:
    """``evoxplain explain``'s folder for a 28×28 image (800 queries), its report written beside."""
    torch.jit.script(tiny_cnn()).save(str(root / "tiny.pt"))
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28))
    digit[6:22, 10:18] = 1.0
    Image.fromarray((np.clip(digit + 0.1 * rng.random((28, 28)), 0, 1) * 255).astype(np.uint8)).save(root / "d.png")
    out = root / "explanation"
    run_explain(root / "d.png", model=str(root / "tiny.pt"), size=(28, 28), channels=1, queries=800, out=out)
    return out


def row_folder(root: Path) -> Path:
    """``evoxplain explain`` on a row of 6 features with a linear model: weights 0, 1, ..., 5 on class 0."""
    linear = torch.nn.Linear(6, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([torch.arange(6.0), torch.zeros(6)]))
        linear.bias.zero_()
    torch.jit.script(linear.eval()).save(str(root / "linear.pt"))
    np.save(root / "row.npy", np.full(6, 0.5, dtype=np.float32))
    out = root / "row"
    run_explain(root / "row.npy", model=str(root / "linear.pt"), method="geex", queries=400, target=0, out=out)
    return out


def _heatmap_png(path: Path) -> None:
    picture = np.zeros((28, 28, 3), dtype=np.uint8)
    picture[8:20, 8:20] = (220, 40, 40)
    Image.fromarray(picture).save(path)


def dataset_rows() -> list[dict]:
    """Four rows as a dataset run writes them: an image with its PNG, an image without, a failed
    input, a text (tokens) and a table row."""
    rng = np.random.default_rng(1)
    image = rng.normal(0, 0.001, (1, 28, 28))
    image[0, 8:20, 8:20] += 0.01

    def row(ident, target, probability, gap, values, shape, error=None, tokens=None):
        values = None if values is None else [float(v) for v in np.ravel(values)]
        stderr = None if values is None else [1e-4] * len(values)
        return {
            "id": ident, "target": target, "probability": probability, "queries": 1002, "seconds": 0.5,
            "seed": 0, "completeness_gap": gap, "values": values, "stderr": stderr, "shape": shape,
            "error": error, "tokens": tokens,
        }  # fmt: skip

    return [
        row("img-0", 3, 0.91, 0.002, image, [1, 28, 28]),
        row("img-1", 1, 0.55, 0.040, image[:, ::-1], [1, 28, 28]),
        row("img-2", 2, None, None, None, None, error="ModelCallError: the model raised RuntimeError"),
        row("txt-0", 4, 0.77, 0.010, [0.3, -0.1, 0.02], [3], tokens=["great", "dull", "film"]),
        row("tab-0", 0, 0.66, 0.005, [0.01, 0.2, -0.05], [3]),
    ]


def dataset_folder(root: Path) -> Path:
    """A dataset run's folder: results/part-0.parquet, summary.json, heatmaps/img-0.png, manifest.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / "dataset"
    (folder / "results").mkdir(parents=True)
    (folder / "heatmaps").mkdir()
    pq.write_table(pa.Table.from_pylist(dataset_rows()), folder / "results" / "part-0.parquet")
    _heatmap_png(folder / "heatmaps" / "img-0.png")
    (folder / "summary.json").write_text(json.dumps({"inputs": 5, "failed": 1, "queries": 4008}))
    manifest = Manifest(
        kind="dataset", model="tiny.pt", settings={"method": "bGEEX", "queries": 1000, "seed": 0},
        files={"summary": "summary.json", "results": "results"},
        extra={"dataset": "toy", "class_names": dict(enumerate(CLASSES)), "queries": 4008},
    )  # fmt: skip
    manifest.finished = manifest.started
    write_manifest(folder, manifest)
    return folder


class Rows(torch.nn.Module):
    """A toy table generator: 2 latents to 3 features."""

    latent_dim, columns = 2, ["age", "hours", "score"]

    def forward(self, z):
        return torch.cat([z, z.sum(1, keepdim=True)], 1)


class Decoder:
    """A toy sentence decoder: the sign of the first latent picks a review."""

    latent_dim = 2

    def decode(self, z):
        return ["a good film" if v > 0 else "a bad film" for v in z[:, 0].tolist()]


class Faces(torch.nn.Module):
    """A toy image generator: 4 latents to 1×12×12 images (bright top or bottom half)."""

    latent_dim = 4

    def forward(self, z):
        top = torch.sigmoid(z[:, :1, None, None]).expand(-1, 1, 6, 12)
        bottom = torch.sigmoid(z[:, 1:2, None, None]).expand(-1, 1, 6, 12)
        return torch.cat([top, bottom], dim=2)


def brightness_model(x):
    """Class 0 ("top") when the top half is brighter, class 1 ("bottom") otherwise."""
    difference = x[:, :, :6].mean((1, 2, 3)) - x[:, :, 6:].mean((1, 2, 3))
    return torch.stack([difference, -difference], 1) * 40


def exemplar_folders(root: Path) -> dict[str, Path]:
    """Image, table and text exemplar runs, each saved with ``save_run``."""
    from evoxplain.exemplars import image_exemplars, tabular_exemplars, text_exemplars

    images = image_exemplars(
        brightness_model, Faces(), ["top", "bottom"], runs=3, per_class=2, seed=0, title="toy faces"
    )
    images.save_run(root / "ex-images", model="brightness", settings={"runs": 3, "seed": 0})

    def rule(x):
        return torch.stack([-x[:, 2], x[:, 2]], 1) * 5

    table = tabular_exemplars(rule, Rows(), ["low", "high"], runs=3, per_class=2, seed=0)
    table.save_run(root / "ex-table", model="rule", settings={"runs": 3, "seed": 0})

    def sentiment(texts):
        return torch.tensor([[t.count("bad") - t.count("good"), t.count("good") - t.count("bad")] for t in texts]) * 5.0

    text = text_exemplars(sentiment, Decoder(), ["negative", "positive"], runs=2, per_class=1, seed=0)
    text.save_run(root / "ex-text", model="keywords", settings={"runs": 2, "seed": 0})
    return {"image": root / "ex-images", "table": root / "ex-table", "text": root / "ex-text"}


def benchmark_file(root: Path) -> Path:
    """A benchmark's results JSON: two methods with curves (both ways of storing them), one without."""
    data = {
        "meta": {"command": "python benchmarks/aopc.py --dataset toy", "machine": "test", "date": "2026-01-01",
                 "dataset": "toy"},
        "rows": [
            {"method": "bGEEX", "budget": 1000, "deletion": 0.91, "deletion_se": 0.01, "insertion": 0.95,
             "queries": 1002.0, "seconds": 1.25, "deletion_curve": [0.9, 0.4, 0.1, 0.0],
             "insertion_curve": [0.0, 0.5, 0.8, 0.9]},
            {"method": "LIME", "budget": 1000, "deletion": 0.85, "queries": 1001.0, "seconds": 3.5,
             "curves": {"deletion": [0.9, 0.6, 0.3, 0.0], "insertion": [0.0, 0.3, 0.6, 0.9]}},
            {"method": "IG (white-box)", "budget": None, "deletion": 0.93, "seconds": 0.2},
        ],
    }  # fmt: skip
    path = root / "aopc_toy.json"
    path.write_text(json.dumps(data))
    return path
