"""Every example in the docstrings runs and prints what it says.

The library's examples name the reader's own model, inputs and generators ``model``, ``image``
(3×224×224), ``images`` (two of them), ``digit`` (1×28×28), ``digits`` (two of them),
``generator`` (latents to 1×28×28 images), ``text_model`` (a model of strings) and ``decoder``
(latents to sentences). Here they are small stand-ins, so the examples run in seconds and need no
data: a CNN of 10 classes for any channels and size, seeded random pixels, a linear generator, a
keyword classifier and a toy decoder. The zoo's examples use its real models and read the real
datasets (``EVOXPLAIN_DATA``). The files examples write go to a temporary folder.
"""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest
import torch


def has_examples(name: str) -> bool:
    module = importlib.import_module(name)
    return any(test.examples for test in doctest.DocTestFinder().find(module, name, globs={}))


def modules_with_examples(package: str) -> list[str]:
    if importlib.util.find_spec(package) is None:
        return []
    root = importlib.import_module(package)
    names = [package] + [info.name for info in pkgutil.walk_packages(root.__path__, package + ".")]
    return [name for name in names if has_examples(name)]


LIBRARY = modules_with_examples("evoxplain")
ZOO = modules_with_examples("evoxplain_zoo")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def stand_in_model() -> torch.nn.Module:
    """A small CNN of 10 classes for any number of channels and any image size, confident enough
    for the exemplar examples to reach p = 0.95."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            ChannelMean(),
            torch.nn.AdaptiveAvgPool2d(28),  # large images cost little more than digits
            torch.nn.Conv2d(1, 4, 3, padding=1),
            torch.nn.AdaptiveAvgPool2d(7),
            torch.nn.Flatten(),
            torch.nn.Linear(196, 10),
        ).eval()
    with torch.no_grad():
        model[-1].weight *= 30
    return model


class StandInGenerator(torch.nn.Module):
    """Latents of any size up to 64 to 1×28×28 images, through a fixed random matrix."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(64, 784, generator=torch.Generator().manual_seed(1)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.weight[: z.shape[1]]).view(-1, 1, 28, 28)


class ChannelMean(torch.nn.Module):
    """Averages the channels, so the stand-in takes grey and colour images alike."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True)


class StandInDecoder:
    """Latents to sentences: the sign of the first latent picks a review."""

    latent_dim = 2

    def decode(self, z: torch.Tensor) -> list[str]:
        return ["a good film" if v > 0 else "a bad film" for v in z[:, 0].tolist()]


def stand_in_text_model(texts: list[str]) -> torch.Tensor:
    """A model of strings: logits (negative, positive) from the words "bad" and "good"."""
    return torch.tensor([[t.count("bad") - t.count("good"), t.count("good") - t.count("bad")] for t in texts]) * 5.0


def namespace() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "text_model": stand_in_text_model,
        "decoder": StandInDecoder(),
        "torch": torch,
        "model": stand_in_model(),
        "image": torch.rand(3, 224, 224, generator=g),
        "images": torch.rand(2, 3, 224, 224, generator=g),
        "digit": torch.rand(1, 28, 28, generator=g),
        "digits": torch.rand(2, 1, 28, 28, generator=g),
        "generator": StandInGenerator(),
    }


def run_examples(name: str) -> None:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name, globs={})
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        test.globs = {**vars(module), **namespace()}
        runner.run(test, out=report.append)
    assert runner.tries > 0 and runner.failures == 0, "".join(report)


@pytest.mark.parametrize("name", LIBRARY)
def test_library_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)  # the library's examples need no data
    run_examples(name)


@pytest.mark.zoo
@pytest.mark.parametrize("name", ZOO)
def test_zoo_examples(name, data_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_examples(name)
