"""`evoxplain explain --method` for every attribution method, and the input conventions the command
checks (channel axes, colour images, fixed-batch ONNX files), on tiny models built here."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from evoxplain import LIME, RISE, BlackBox, IntegratedGradients, KernelSHAP, Occlusion, Saliency, SmoothGrad
from evoxplain.cli import app, make_explainer
from evoxplain.cli.explain import BLACK_BOX, WHITE_BOX

runner = CliRunner()


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(),
        torch.nn.Linear(64, 5),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The net as torch.export (.pt2), TorchScript, dynamic- and fixed-batch ONNX; inputs."""
    root = tmp_path_factory.mktemp("methods")
    net, x = tiny_net(), torch.rand(2, 1, 28, 28)
    dims = ({0: torch.export.Dim("batch")},)
    torch.export.save(torch.export.export(net, (x,), dynamic_shapes=dims), str(root / "tiny.pt2"))
    torch.jit.script(net).save(str(root / "tiny.pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x[:1],), str(root / "fixed.onnx"), input_names=["x"], dynamo=False)
    rng = np.random.default_rng(0)
    np.save(root / "flat.npy", rng.random((28, 28), dtype=np.float32))  # no channel axis
    Image.fromarray((rng.random((28, 28, 3)) * 255).astype(np.uint8)).save(root / "colour.png")
    grey = (rng.random((28, 28)) * 255).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(root / "grey_as_rgb.png")
    return root


RUNS = itertools.count()


def explain(files, *args: str):
    out = files / f"out{next(RUNS)}"
    result = runner.invoke(app, ["explain", *args, "--out", str(out)])
    manifest = json.loads((out / "manifest.json").read_text()) if result.exit_code == 0 else None
    if manifest is not None:
        manifest["folder"] = out.name
    return result, manifest


# every method: the queries its explanation costs (1×28×28 input, the methods' default cells)
COSTS = {
    "lime": ("100", 101),
    "kernelshap": ("100", 100),
    "rise": ("100", 101),
    "occlusion": ("100", 1 + 27 * 27),  # window 2, stride 1 on 28×28
    "saliency": ("100", 2),
    "ig": ("100", 52),  # 50 steps + the input + the baseline
    "smoothgrad": ("100", 51),
}


@pytest.mark.parametrize("method", list(COSTS))
def test_every_method_runs_from_the_command_line_with_its_exact_query_count(files, method):
    queries, cost = COSTS[method]
    result, manifest = explain(files, str(files / "flat.npy"), "--model", str(files / "tiny.pt2"),
                               "--channels", "1", "--size", "28", "--method", method, "--queries", queries)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert manifest["extra"]["queries"] == cost
    folder = files / manifest["folder"]
    assert result.stdout.splitlines()[-2:] == [f"wrote {folder / 'manifest.json'}", f"wrote {folder / 'report.html'}"]
    values = np.load(files / manifest["folder"] / "flat_values.npy")
    assert values.shape == (1, 28, 28) and np.isfinite(values).all() and np.abs(values).sum() > 0


def test_make_explainer_builds_each_method_with_the_settings_given():
    bb = BlackBox(tiny_net())
    made = {m: make_explainer(bb, (1, 28, 28), m, queries=200, cell=4, baseline=0.5) for m in BLACK_BOX + WHITE_BOX}
    kinds = (LIME, KernelSHAP, Occlusion, RISE, Saliency, IntegratedGradients, SmoothGrad)
    assert [type(e) for e in made.values()] == list(kinds)
    assert made["lime"].superpixel == made["kernelshap"].superpixel == made["rise"].cell == 4
    assert made["occlusion"].window == (4, 4) and made["lime"].queries == 200
    assert made["lime"].baseline == 0.5 and made["saliency"].absolute is False  # signed, what GE estimates


def test_white_box_methods_refuse_models_they_cannot_backpropagate_through(files):
    result, _ = explain(files, str(files / "flat.npy"), "--model", str(files / "fixed.onnx"), "--channels", "1",
                        "--size", "28", "--method", "ig", "--batch-size", "1")  # fmt: skip
    assert result.exit_code == 2
    assert "--method ig is white-box" in result.output and "a TorchScript file" in result.output


def test_white_box_methods_backpropagate_through_a_torchscript_file(files):
    args = ("--channels", "1", "--size", "28", "--method", "saliency")
    (_, script), (_, export) = (explain(files, str(files / "flat.npy"), "--model", str(files / m), *args)
                                for m in ("tiny.pt", "tiny.pt2"))  # fmt: skip
    assert script["extra"]["queries"] == export["extra"]["queries"] == 2
    values = [np.load(files / run["folder"] / "flat_values.npy") for run in (script, export)]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-5, atol=1e-7)  # the same net: the same gradient


def test_an_unknown_method_lists_every_method(files):
    result, _ = explain(files, str(files / "flat.npy"), "--model", "no-such-model", "--method", "shap")
    assert result.exit_code == 2
    assert "auto, gers, geex, ge, bgeex, lime, kernelshap, occlusion, rise, saliency, ig, smoothgrad" in result.output


def test_an_hw_array_gets_its_channel_axis_only_when_the_model_says_one_channel(files):
    result, manifest = explain(files, str(files / "flat.npy"), "--model", str(files / "tiny.pt"), "--channels", "1",
                               "--size", "28", "--queries", "100")  # fmt: skip
    assert result.exit_code == 0 and manifest["extra"]["shape"] == [1, 28, 28]
    result, _ = explain(files, str(files / "flat.npy"), "--model", str(files / "tiny.pt"), "--queries", "100")
    assert result.exit_code == 2 and "Use --size H,W and --channels C" in result.output


def test_size_alone_takes_the_channels_from_an_array_but_not_from_an_image(files):
    np.save(files / "chw.npy", np.load(files / "flat.npy")[None])
    result, manifest = explain(files, str(files / "chw.npy"), "--model", str(files / "tiny.pt"), "--size", "28",
                               "--queries", "100")  # fmt: skip
    assert result.exit_code == 0 and manifest["extra"]["shape"] == [1, 28, 28]
    for given in ("flat.npy", "colour.png"):  # neither says how many channels the model takes
        result, _ = explain(files, str(files / given), "--model", str(files / "tiny.pt"), "--size", "28")
        assert result.exit_code == 2 and "--size needs --channels too" in result.output


def test_a_colour_image_for_a_grey_model_is_converted_and_said(files):
    args = ("--model", str(files / "tiny.pt"), "--channels", "1", "--size", "28", "--queries", "100")
    result, manifest = explain(files, str(files / "colour.png"), *args)
    assert result.exit_code == 0
    assert "warning: colour.png is a colour image; it was converted to grayscale" in result.stderr
    assert any("converted to grayscale" in w for w in manifest["extra"]["warnings"])
    result, manifest = explain(files, str(files / "grey_as_rgb.png"), *args)  # grey pixels saved as RGB
    assert result.exit_code == 0 and "grayscale" not in result.stderr


def test_a_fixed_batch_onnx_file_gets_a_hint_before_any_query_and_runs_with_batch_size_1(files):
    result, _ = explain(files, str(files / "flat.npy"), "--model", str(files / "fixed.onnx"), "--channels", "1",
                        "--size", "28")  # fmt: skip
    assert result.exit_code == 2
    assert "takes batches of exactly 1 input" in result.output and "--batch-size 1" in result.output
    assert "dynamic_shapes" in result.output
    result, manifest = explain(files, str(files / "flat.npy"), "--model", str(files / "fixed.onnx"), "--channels",
                               "1", "--size", "28", "--batch-size", "1", "--queries", "20")  # fmt: skip
    assert result.exit_code == 0 and manifest["extra"]["queries"] == 22


def test_a_library_blackbox_of_a_fixed_batch_onnx_file_says_what_to_do(files):
    from evoxplain import EvoxplainError

    with pytest.raises(EvoxplainError, match="takes batches of exactly 1 input.*batch_size=1"):
        BlackBox(str(files / "fixed.onnx"), batch_size=8)(torch.rand(8, 1, 28, 28))
