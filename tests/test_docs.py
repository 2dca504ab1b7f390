"""Every example in the package's docstrings runs and prints what it says.

The examples name the reader's own model, inputs and generator ``model``, ``image``
(3×224×224), ``images`` (two of them), ``digit`` (1×28×28), ``digits`` (two of them) and
``generator`` (latents to 1×28×28 images). Here they are small stand-ins, so the
examples run in seconds: a CNN of 10 classes for any channels and size, seeded random pixels and a
linear generator. The dataset examples read the shared data (``EVOXPLAIN_DATA``); the files they
write go to a temporary folder.
"""

import doctest
import importlib
import pkgutil

import pytest
import torch

import evoxplain


def has_examples(name: str) -> bool:
    module = importlib.import_module(name)
    return any(test.examples for test in doctest.DocTestFinder().find(module, name, globs={}))


PACKAGE = ["evoxplain"] + [info.name for info in pkgutil.walk_packages(evoxplain.__path__, "evoxplain.")]
MODULES = [name for name in PACKAGE if has_examples(name)]
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


def namespace() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "torch": torch,
        "model": stand_in_model(),
        "image": torch.rand(3, 224, 224, generator=g),
        "images": torch.rand(2, 3, 224, 224, generator=g),
        "digit": torch.rand(1, 28, 28, generator=g),
        "digits": torch.rand(2, 1, 28, 28, generator=g),
        "generator": StandInGenerator(),
    }


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, data_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name, globs={})
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        test.globs = {**vars(module), **namespace()}
        runner.run(test, out=report.append)
    assert runner.tries > 0 and runner.failures == 0, "".join(report)
