"""The ``evoxplain`` command line, on tiny TorchScript and ONNX models built here."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from evoxplain import BlackBox, InvalidInputError
from evoxplain.cli import app, default_mask, make_explainer, summary_text
from evoxplain.cli.common import parse_baseline, parse_pair
from evoxplain.report.words import noise_summary
from evoxplain.viz import AttributionMap

runner = CliRunner()


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 5),
    ).eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A TorchScript and an ONNX model of (N, 1, 28, 28) -> 5 logits, a .npy and a PNG input."""
    root = tmp_path_factory.mktemp("cli")
    net = _tiny_net()
    torch.jit.script(net).save(str(root / "tiny.pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (torch.rand(1, 1, 28, 28),), str(root / "tiny.onnx"),
            input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}}, dynamo=False,
        )  # fmt: skip
    rng = np.random.default_rng(0)
    np.save(root / "x.npy", rng.random((1, 28, 28), dtype=np.float32))
    Image.fromarray((rng.random((40, 30)) * 255).astype(np.uint8)).save(root / "digit.png")
    return root


def _run(*args: str):
    return runner.invoke(app, list(args))


def _check_outputs(out, stem: str, shape: tuple[int, ...]) -> str:
    for suffix in ("heatmap.png", "values.npy", "summary.txt"):
        assert (out / f"{stem}_{suffix}").is_file(), suffix
    values = np.load(out / f"{stem}_values.npy")
    assert values.shape == shape
    assert np.isfinite(values).all() and np.abs(values).sum() > 0
    with Image.open(out / f"{stem}_heatmap.png") as png:
        assert png.format == "PNG"
    stderr = np.load(out / f"{stem}_stderr.npy")  # every method of the command is a GEEX
    assert stderr.shape == shape and ((stderr >= 0) | np.isnan(stderr)).all()  # NaN: too few pairs
    return (out / f"{stem}_summary.txt").read_text()


def test_explain_npy_with_torchscript(files, tmp_path):
    result = _run(
        "explain", str(files / "x.npy"), "--model", str(files / "tiny.pt"), "--queries", "200", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "queries: 202" in result.stdout and "predicted:" in result.stdout
    summary = _check_outputs(tmp_path, "x", (1, 28, 28))
    assert "queries used: 202" in summary and "sampling noise: not estimable" in summary  # 100 pairs, 196 cells
    assert "mask_size=(14, 14)" in summary and "bGE (" in summary and "regions (" in summary  # auto: small image
    assert "estimator=regression" in summary and "baseline: 0.0 (black)" in summary


def test_explain_png_with_onnx_fitted_to_size(files, tmp_path):
    result = _run(
        "explain", str(files / "digit.png"), "--model", str(files / "tiny.onnx"), "--size", "28",
        "--channels", "1", "--method", "bgeex", "--queries", "100", "--target", "2", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = _check_outputs(tmp_path, "digit", (1, 28, 28))
    assert "explained class: 2" in summary and "bGEEX" in summary


def test_methods_and_baselines(files, tmp_path):
    for method, baseline in (("ge", "0"), ("geex", "blur"), ("gers", "mean")):
        result = _run(
            "explain", str(files / "x.npy"), "--model", str(files / "tiny.pt"), "--method", method,
            "--baseline", baseline, "--mask-size", "4,7", "--queries", "64", "--out", str(tmp_path / method),
        )  # fmt: skip
        assert result.exit_code == 0, (method, result.output)
        summary = _check_outputs(tmp_path / method, "x", (1, 28, 28))
        assert "mask_size=(4, 7)" in summary
    assert "no completeness check" in (tmp_path / "ge" / "x_summary.txt").read_text()
    result = _run(
        "explain", str(files / "x.npy"), "--model", str(files / "tiny.pt"), "--method", "bgeex",
        "--estimator", "regression", "--design", "orthogonal", "--queries", "64", "--out", str(tmp_path / "regression"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = _check_outputs(tmp_path / "regression", "x", (1, 28, 28))
    assert "sampling noise: not estimable" in summary  # 32 pairs for 196 cells
    assert "bGEEX" in summary and "estimator=regression" in summary and "gap to the change" in summary
    assert "design=orthogonal" in summary


def test_the_large_image_default_says_its_values_need_not_add_up():
    blackbox = BlackBox(lambda x: torch.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1).softmax(1))
    image = torch.rand(3, 72, 72, generator=torch.Generator().manual_seed(0))
    exp = make_explainer(blackbox, tuple(image.shape), queries=64).explain(image, 0)
    summary = summary_text("m", exp, blackbox.probabilities(image[None])[0], None, image.shape, 66, "auto")
    assert "auto = bGE (" in summary and "estimator=regression" in summary and "mask_size=(14, 14)" in summary
    assert "not integrated" in summary and "completeness" not in summary
    assert "design=orthogonal" in summary and "upper bounds" not in summary  # the regression's errors stay fit
    exp = make_explainer(blackbox, tuple(image.shape), "bgeex", queries=512, design="orthogonal").explain(image, 0)
    summary = summary_text("m", exp, blackbox.probabilities(image[None])[0], None, image.shape, 514, "bgeex")
    assert "the errors are upper bounds" in summary  # the mean estimator's are computed as for independent masks


def test_the_summary_says_which_baseline_was_used_and_to_match_it_to_the_removal():
    blackbox = BlackBox(lambda x: torch.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1).softmax(1))
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    probs = blackbox.probabilities(image[None])[0]
    for baseline, words in ((0.0, "0.0 (black)"), (0.1307, "0.1307 (a constant)"), ("blur", "blur (a blurred copy")):
        exp = make_explainer(blackbox, tuple(image.shape), queries=64, baseline=baseline).explain(image, 0)
        lines = summary_text("m", exp, probs, None, image.shape, 66, "auto").splitlines()
        line = next(line for line in lines if line.startswith("baseline: "))
        assert line.startswith(f"baseline: {words}") and "match it to the removal you mean" in line


def test_the_noise_line_counts_what_stands_out_and_says_when_the_errors_are_upper_bounds():
    values, errors = torch.tensor([3.0, 0.5, -5.0, 0.1]), torch.tensor([1.0, 1.0, 1.0, 1.0])
    line = noise_summary(AttributionMap.from_values(values, errors), noun="features")
    assert "2 of 4 features (50%) stand more than 2 standard errors from 0" in line
    assert "upper bounds" not in line
    assert "upper bounds" in noise_summary(AttributionMap.from_values(values, errors), upper_bounds=True)
    nan = AttributionMap.from_values(values, torch.full((4,), float("nan")))
    assert "not estimable" in noise_summary(nan)


def test_flat_input_draws_bars(tmp_path):
    model = torch.jit.script(torch.nn.Linear(6, 3).eval())
    model.save(str(tmp_path / "linear.pt"))
    np.save(tmp_path / "row.npy", np.arange(6, dtype=np.float32) / 6)
    args = ("explain", str(tmp_path / "row.npy"), "--model", str(tmp_path / "linear.pt"), "--queries", "64")
    result = _run(*args, "--method", "geex", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "top features" in _check_outputs(tmp_path / "out", "row", (6,))
    result = _run(*args, "--out", str(tmp_path / "auto"))  # auto: Bernoulli masks fitted by regression for a row
    assert result.exit_code == 0 and "= bGE (" in _check_outputs(tmp_path / "auto", "row", (6,))
    result = _run(*args, "--method", "gers")  # gers needs an image
    assert result.exit_code == 2 and "needs an image" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "no/such/model.pt"), "neither a built-in model"),
        (("--target", "9"), "--target 9 is out of range"),
        (("--queries", "7"), "even integer"),
        (("--mask-size", "a,b"), "--mask-size must be"),
        (("--baseline", "zero"), "--baseline must be"),
        (("--method", "shap"), "--method must be one of"),
    ],
)
def test_errors_exit_2_with_one_line(files, tmp_path, args, message):
    base = {"--model": str(files / "tiny.pt")}
    base.update(dict(zip(args[::2], args[1::2])))
    flat = [item for pair in base.items() for item in pair]
    result = _run(
        "explain", str(files / "x.npy"), *flat, "--queries", base.get("--queries", "64"), "--out", str(tmp_path)
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and result.stderr.strip().count("\n") == 0


def test_no_input_uses_the_sample_photo_at_the_given_size(files, tmp_path):
    args = ("explain", "--model", str(files / "tiny.pt"), "--queries", "32", "--out", str(tmp_path))
    result = _run(*args, "--size", "28", "--channels", "1")
    assert result.exit_code == 0, result.output
    _check_outputs(tmp_path, "cameraman", (1, 28, 28))
    result = _run(*args)  # a model file says nothing about its input size
    assert result.exit_code == 2 and "give an INPUT" in result.stderr


def test_bad_files_exit_2(files, tmp_path):
    (tmp_path / "fake.png").write_text("not an image")
    result = _run("explain", str(tmp_path / "fake.png"), "--model", str(files / "tiny.pt"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
    (tmp_path / "model.pt").write_text("not a model")
    result = _run("explain", str(files / "x.npy"), "--model", str(tmp_path / "model.pt"))
    assert result.exit_code == 2 and "TorchScript" in result.stderr
    result = _run("explain", str(tmp_path / "missing.npy"), "--model", str(files / "tiny.pt"))
    assert result.exit_code == 2 and "no input file" in result.stderr
    # an image of the wrong size for a file model: the model's error, with a hint
    result = _run("explain", str(files / "digit.png"), "--model", str(files / "tiny.onnx"), "--queries", "2")
    assert result.exit_code == 2 and "--size" in result.stderr


def test_parsers():
    assert parse_pair("14", "x") == (14, 14) and parse_pair("14,7", "x") == (14, 7) and parse_pair(None, "x") is None
    assert parse_baseline("0.5") == 0.5 and parse_baseline("blur") == "blur"
    assert default_mask((3, 224, 224)) == (14, 14) and default_mask((1, 28, 28)) == (14, 14)
    assert default_mask((3, 224, 224), "gers") == (7, 7) and default_mask((1, 5, 600), "gers") == (5, 19)
    blackbox = BlackBox(lambda x: x.flatten(1)[:, :3].softmax(1))
    large, small, row = (make_explainer(blackbox, shape) for shape in ((3, 224, 224), (1, 28, 28), (12,)))
    assert (large.distribution, large.mask_size, large.baseline) == ("bernoulli", (14, 14), "blur")
    assert (large.estimator, large.integrated, large.mask_interpolation) == ("regression", False, "nearest")
    assert (small.distribution, small.mask_size, small.baseline, small.estimator) == (
        "bernoulli",
        (14, 14),
        0.0,
        "regression",
    )
    assert (row.distribution, row.estimator, row.integrated, row.design) == (
        "bernoulli",
        "regression",
        False,
        "orthogonal",
    )
    paper = make_explainer(blackbox, (3, 224, 224), "bgeex")  # the paper's bGEEX: integrated, the mean
    assert (paper.estimator, paper.integrated, paper.mask_interpolation) == ("mean", True, "bilinear")
    assert make_explainer(blackbox, (3, 224, 224), "bgeex", estimator="regression").mask_interpolation == "nearest"
    assert make_explainer(blackbox, (3, 224, 224), "gers", baseline="mean").baseline == "mean"
    with pytest.raises(InvalidInputError, match="estimator"):
        make_explainer(blackbox, (3, 224, 224), estimator="median")
    assert make_explainer(blackbox, (3, 224, 224)).design == "orthogonal"  # the large-image default
    assert make_explainer(blackbox, (3, 224, 224), queries=5000).mask_size == (28, 28)  # the budget's grid
    assert make_explainer(blackbox, (3, 224, 224), queries=5000, mask_size=(7, 7)).mask_size == (7, 7)
    assert make_explainer(blackbox, (3, 224, 224), design="random").design == "random"
    assert make_explainer(blackbox, (1, 28, 28), design="random").design == "random"
    assert make_explainer(blackbox, (1, 28, 28)).design == "orthogonal"  # auto: the small-image default's too
    assert make_explainer(blackbox, (1, 28, 28), "bgeex").design == "random"  # the paper's preset
    with pytest.raises(InvalidInputError, match="--design"):
        make_explainer(blackbox, (3, 224, 224), design="sobol")
    with pytest.raises(InvalidInputError):
        parse_pair("0", "--mask-size")
