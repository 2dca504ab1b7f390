"""Test layers and what they need.

Unit tests need nothing but the library. Tests that need more are marked by what they need
(``data``, ``zoo``, ``server``, ``browser``, ``slow``; see ``pyproject.toml``) and skip, saying how
to get it, when it is missing. With ``EVOXPLAIN_TESTS_STRICT=1`` (CI sets it) every skip is a
failure instead, so nothing is silently unchecked there.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

STRICT = os.environ.get("EVOXPLAIN_TESTS_STRICT") == "1"
DATA_FIXTURES = {"data_root", "data_env"}
HERE = Path(__file__).resolve().parent
DATA_HINT = (
    "needs the real datasets: download them with `evoxplain data download all` (into the cache, "
    "~/.cache/evoxplain/data), or set EVOXPLAIN_DATA to a folder holding mnist/, adult/, imdb/, fer2013/ "
    "and imagenet_samples/ (a shared copy beside the checkout, ../shared/data, is found by itself)"
)
DATASETS = ("mnist", "adult", "imdb", "fer2013", "imagenet_samples")
ZOO_HINT = "needs the evoxplain-zoo distribution (the built-in models): pip install -e ./zoo"


def find_data_root() -> Path | None:
    """The real datasets: ``$EVOXPLAIN_DATA``, else ``../shared/data`` beside the checkout, else the
    download cache of ``evoxplain data download`` once it holds every dataset."""
    for candidate in (os.environ.get("EVOXPLAIN_DATA"), HERE.parents[1] / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    if importlib.util.find_spec("evoxplain_zoo") is not None:
        from evoxplain_zoo.data.download import cache_root

        if all((cache_root() / name).is_dir() for name in DATASETS):
            return cache_root()
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real datasets (see :func:`find_data_root`); skips with the way to get them."""
    root = find_data_root()
    if root is None:
        pytest.skip(DATA_HINT)
    return root


@pytest.fixture
def data_env(monkeypatch, data_root):
    """EVOXPLAIN_DATA pointed at the shared data folder."""
    monkeypatch.setenv("EVOXPLAIN_DATA", str(data_root))
    return data_root


def pytest_collection_modifyitems(config, items):
    """Mark tests by what they need: data fixtures give ``data``, tests of the zoo ``zoo``."""
    for item in items:
        if DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.data)
        if "zoo" in Path(str(item.fspath)).relative_to(HERE).parts[:-1]:
            item.add_marker(pytest.mark.zoo)


def pytest_runtest_setup(item):
    if item.get_closest_marker("zoo") and importlib.util.find_spec("evoxplain_zoo") is None:
        pytest.skip(ZOO_HINT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under EVOXPLAIN_TESTS_STRICT=1 (CI runs every test): {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.outcome == "skipped":
        report.outcome = "failed"


class LoggingModel(torch.nn.Module):
    """Wraps a model and records the size of every batch it is asked (zennit's habit)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.batches: list[int] = []

    def forward(self, x):
        self.batches.append(len(x))
        return self.model(x)

    @property
    def seen(self) -> int:
        return sum(self.batches)


@pytest.fixture
def logging_model():
    return LoggingModel
