"""The command line with the zoo's built-in models and exemplar scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from evoxplain_zoo.models import available_models, load_model
from PIL import Image
from typer.testing import CliRunner

from evoxplain import InvalidInputError
from evoxplain.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_models_command_and_registry():
    result = _run("models")
    assert result.exit_code == 0
    for name in ("efficientnet-lite0", "lenet-mnist", "lenet-fashion-mnist"):
        assert name in result.stdout and name in available_models()
    with pytest.raises(InvalidInputError, match="lenet-mnist"):
        load_model("resnet-9000")


def test_efficientnet_sees_the_tripod_of_the_sample_photo():
    from evoxplain_zoo.models.efficientnet import efficientnet_lite0, imagenet_classes, sample_image

    model, classes, spec = load_model("efficientnet-lite0")
    assert not model.training and spec.shape == (3, 224, 224) and len(classes) == 1000
    assert classes == imagenet_classes() and classes[281] == "tabby"
    image = sample_image()
    assert image.shape == (3, 224, 224) and 0 <= image.min() and image.max() <= 1
    with torch.no_grad():
        logits = model(image[None])
    assert logits.shape == (1, 1000) and classes[int(logits.argmax())] == "tripod"
    assert float(logits.softmax(1)[0, 872]) > 0.9  # the model is sure of it
    assert sample_image(112).shape == (3, 112, 112) and isinstance(efficientnet_lite0(), torch.nn.Module)


def test_lenet_models_load_from_the_shipped_weights():
    model, classes, spec = load_model("lenet-fashion-mnist")
    assert spec.shape == (1, 28, 28) and classes[9] == "Ankle boot"
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_exemplars_command_writes_tables(data_root, tmp_path):
    args = ["exemplars", "adult", "--target", ">50K", "--runs", "2", "--per-class", "2", "--epochs", "2"]
    result = _run(*args, "--data", str(data_root), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    table = (tmp_path / "adult_exemplars.md").read_text()
    assert "education" in table and ">50K" in table and table.strip() in result.stdout
    assert (tmp_path / "adult_exemplars.csv").read_text().count("\n") >= 2
    bad = _run("exemplars", "adult", "--target", "rich", "--data", str(data_root), "--out", str(tmp_path))
    assert bad.exit_code == 2 and "not a class" in bad.stderr


def test_image_exemplars_command_writes_grid_and_summary(tmp_path):
    args = ["exemplars", "fashion-mnist", "--target", "Trouser,Bag", "--runs", "2", "--per-class", "2"]
    result = _run(*args, "--max-queries", "400", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "fashion-mnist_vae_es_exemplars.md").read_text()
    assert "| Trouser |" in summary and "| Bag |" in summary and "fashion-mnist-vae" in summary
    with Image.open(tmp_path / "fashion-mnist_vae_es_exemplars.png") as png:
        assert png.format == "PNG" and png.size[1] == 2 * (28 * 3 + 26 + 4) + 4  # two classes, two rows
    written = [Path(line.removeprefix("wrote ")) for line in result.stdout.splitlines() if line.startswith("wrote ")]
    assert all(path.is_file() and path.parent == tmp_path for path in written)
    names = {path.name for path in written}
    assert {"fashion-mnist_vae_es_exemplars.md", "fashion-mnist_vae_es_exemplars.png", "manifest.json"} <= names
    fer = _run("exemplars", "fer", "--generator", "vae-disjoint", "--target", "happy", "--runs", "1",
               "--per-class", "1", "--max-queries", "90", "--out", str(tmp_path))  # fmt: skip
    assert fer.exit_code == 0, fer.output
    assert "half 0" in (tmp_path / "fer_vae-disjoint_es_exemplars.md").read_text()
    fitted = _run("exemplars", "fer", "--fitted-classifier", "--target", "sad", "--runs", "1",
                  "--per-class", "1", "--max-queries", "90", "--out", str(tmp_path))  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    assert "fitted classifier" in (tmp_path / "fer_vae_es_fitted_exemplars.md").read_text()


def test_text_exemplars_command_writes_sentences(tmp_path):
    result = _run(
        "exemplars", "imdb", "--target", "positive", "--runs", "2", "--per-class", "2", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    table = (tmp_path / "imdb_exemplars.md").read_text()
    assert "positive" in table and table.strip() in result.stdout
    assert (tmp_path / "imdb_exemplars.csv").read_text().count("\n") >= 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["fashion-mnist", "--generator", "vae-no-surprise"], "no vae-no-surprise generator"),
        (["fer", "--generator", "gan"], "--generator must be one of"),
        (["fer", "--target", "joy"], "not a class"),
        (["mnist"], "exemplars are available for adult, fer, fashion-mnist, imdb"),
        (["imdb", "--generator", "dcgan"], "imdb exemplars use the sentence VAE"),
        (["adult", "--generator", "dcgan"], "adult exemplars use the tabular VAE"),
        (["fashion-mnist", "--fitted-classifier"], "--fitted-classifier applies to fer only"),
    ],
)
def test_image_exemplars_command_errors(tmp_path, args, message):
    result = _run("exemplars", *args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
