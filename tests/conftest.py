from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real datasets beside the checkout (see the README)."""
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not root.exists():
        pytest.fail(f"the shared data folder is missing at {root}; CI runs with ../shared beside the repo")
    return root


@pytest.fixture
def data_env(monkeypatch, data_root):
    """EVOXPLAIN_DATA pointed at the shared data folder."""
    monkeypatch.setenv("EVOXPLAIN_DATA", str(data_root))
    return data_root


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
