"""The training loop the shipped classifiers share: shuffled mini-batches, cross entropy, cosine decay.

Every random draw (shuffling, augmentation) comes from the ``generator`` passed in, so training
is reproducible and never touches torch's global random state.

Example:
    >>> optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    >>> fit_classifier(model, x, y, optimizer, epochs=8, batch_size=128, generator=torch.Generator().manual_seed(1))
    >>> accuracy(model, x_test, y_test)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of ``images`` that ``model`` classifies as ``labels`` (in eval mode).

    Example:
        >>> accuracy(load_lenet("mnist"), *load_mnist("test"))
    """
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size])
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / max(len(images), 1)


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate decayed from its start to 0 along a half cosine over ``total_steps``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))


def fit_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    report: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train ``model`` on ``(x, y)`` with cross entropy and a cosine decay; return it in eval mode.

    Each epoch shuffles with ``generator``; ``augment(batch, generator)`` transforms each batch;
    ``report(epoch, mean training loss)`` is called after each epoch.
    """
    scheduler = cosine_schedule(optimizer, epochs * math.ceil(len(x) / batch_size))
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            batch = x[idx] if augment is None else augment(x[idx], generator)
            loss = F.cross_entropy(model(batch), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
        if report is not None:
            report(epoch, total / len(x))
    model.eval()
    return model
