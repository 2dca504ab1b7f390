"""`evoxplain exemplars --model FILE|URL --generator FILE --latent-dim N`: your own classifier and
generator (TorchScript, torch.export, ONNX), a grid for images, a table for rows, the files listed."""

from __future__ import annotations

import functools
import threading
import warnings
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from evoxplain.cli import app

runner = CliRunner()


class Digits(torch.nn.Module):
    """10 classes of 1×28×28 images: class k when the mean of row block k is the largest."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.mean(dim=(1, 3))[:, :20].reshape(len(x), 10, 2).mean(dim=2)
        return 40 * rows


class Painter(torch.nn.Module):
    """Latents (N, 10) to images (N, 1, 28, 28): latent k lights rows 2k and 2k+1."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        rows = torch.nn.functional.pad(torch.sigmoid(z).repeat_interleave(2, dim=1), (0, 8))
        return rows[:, None, :, None] * torch.ones(1, 1, 1, 28)


class Rows(torch.nn.Module):
    """Latents (N, 2) to rows (N, 3); Sign answers class 1 when the third feature is positive."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, z.sum(1, keepdim=True)], 1)


class Sign(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([-x[:, 2], x[:, 2]], 1) * 5


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    torch.jit.script(Digits()).save(str(root / "digits.pt"))
    torch.jit.script(Painter()).save(str(root / "painter.pt"))
    torch.jit.script(Sign()).save(str(root / "sign.pt"))
    dims = ({0: torch.export.Dim("batch")},)
    torch.export.save(torch.export.export(Rows(), (torch.zeros(2, 2),), dynamic_shapes=dims), str(root / "rows.pt2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Painter(), (torch.zeros(2, 10),), str(root / "painter.onnx"), input_names=["z"],
                          dynamic_axes={"z": {0: "n"}}, dynamo=False)  # fmt: skip
    return root


def run(*args):
    return runner.invoke(app, ["exemplars", *args])


@pytest.mark.parametrize("generator", ["painter.pt", "painter.onnx"])
def test_image_generators_give_a_grid_a_summary_and_the_list_of_files(models, tmp_path, generator):
    out = tmp_path / "out"
    result = run("--model", str(models / "digits.pt"), "--generator", str(models / generator), "--latent-dim", "10",
                 "--target", "3,7", "--runs", "2", "--per-class", "1", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| 3 | 2 / 2 |" in result.stdout and "| 7 | 2 / 2 |" in result.stdout  # every search converged
    assert result.stdout.splitlines()[-2:] == [f"wrote {out / 'exemplars.md'}", f"wrote {out / 'exemplars.png'}"]
    with Image.open(out / "exemplars.png") as png:
        assert png.format == "PNG"
    assert "ES-momentum" in result.stderr  # the progress bar of the searches


def test_row_generators_give_a_table_with_named_classes(models, tmp_path):
    out = tmp_path / "out"
    own = ("--model", str(models / "sign.pt"), "--generator", str(models / "rows.pt2"), "--latent-dim", "2")
    result = run(
        *own, "--classes", "low,high", "--target", "high", "--runs", "3", "--per-class", "2", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "exemplars.csv")
    assert list(table["class"]) == ["high", "high"] and (table["x2"] > 0).all()  # class 1: third feature positive
    assert [line for line in result.stdout.splitlines() if line.startswith("wrote")] == [
        f"wrote {out / 'exemplars.csv'}",
        f"wrote {out / 'exemplars.md'}",
    ]


def test_a_classifier_at_a_url_is_downloaded_once(models, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(models))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/digits.pt"
        args = ("--model", url, "--generator", str(models / "painter.pt"), "--latent-dim", "10", "--target", "1",
                "--runs", "1", "--per-class", "1", "--out", str(tmp_path / "out"))  # fmt: skip
        assert run(*args).exit_code == 0
        cached = list((tmp_path / "home" / ".cache" / "evoxplain" / "models").iterdir())
        assert [p.name.split("-", 1)[1] for p in cached] == ["digits.pt"]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert run(*args).exit_code == 0  # the server is gone: the cached file is used


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "give a scenario ("),
        (("--model", "m.pt"), "--model FILE|URL --generator FILE --latent-dim N"),
        (("adult", "--model", "m.pt", "--generator", "g.pt", "--latent-dim", "2"), "either a scenario ('adult')"),
    ],
)
def test_incomplete_commands_say_what_to_give(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_a_generator_of_the_wrong_latent_size_is_named(models, tmp_path):
    result = run("--model", str(models / "sign.pt"), "--generator", str(models / "rows.pt2"), "--latent-dim",
                 "3", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 2 and "rows.pt2 failed on latents of shape (2, 3)" in result.output
    result = run("--model", str(models / "digits.pt"), "--generator", str(models / "painter.pt"), "--latent-dim",
                 "10", "--target", "12", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 2 and "--target '12' is not a class: give an index 0..9" in result.output
