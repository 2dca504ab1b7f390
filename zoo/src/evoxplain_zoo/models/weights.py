"""The shipped weights: safetensors files of tensors and a JSON header, never pickles.

Example:
    >>> state, meta = load_weights(WEIGHTS_DIR / "lenet-mnist.safetensors")
    >>> sorted(state)[:2], meta["kind"]
    (['conv1.bias', 'conv1.weight'], 'evoxplain-zoo.weights')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from evoxplain.errors import InvalidInputError
from evoxplain.files import load_tensors, save_tensors

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
KIND = "evoxplain-zoo.weights"


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor], **meta: Any) -> None:
    """Write a state dict and plain settings (``meta``: JSON values) to ``path``, atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_tensors(path, dict(state_dict), kind=KIND, meta=meta)


def load_weights(path: str | Path, train_hint: str = "") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and settings saved by :func:`save_weights`; a missing file says how to
    train it (``train_hint``: the training command)."""
    path = Path(path)
    if not path.is_file():
        hint = f"; train them with: {train_hint} --out {path}" if train_hint else ""
        raise InvalidInputError(f"no weights at {path}{hint}")
    return load_tensors(path, kind=KIND)
