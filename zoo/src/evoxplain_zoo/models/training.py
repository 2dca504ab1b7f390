"""The training loops the shipped models share: shuffled mini-batches and a cosine decay, with
cross entropy for classifiers (:func:`fit_classifier`) and a cyclically annealed ELBO for VAEs
(:func:`fit_vae`).

Every random draw (shuffling, augmentation) comes from the ``generator`` passed in, so training
is reproducible and never touches torch's global random state.

Example:
    >>> from evoxplain_zoo.data import load_mnist
    >>> from evoxplain_zoo.models.lenet import LeNet
    >>> (x, y), (x_test, y_test) = load_mnist("train"), load_mnist("test")
    >>> model = LeNet(seed=0)
    >>> optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    >>> model = fit_classifier(model, x[:5000], y[:5000], optimizer, epochs=2, batch_size=128,
    ...                        generator=torch.Generator().manual_seed(1))
    >>> accuracy(model, x_test, y_test) > 0.8
    True
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
        >>> from evoxplain_zoo.data import load_mnist
        >>> from evoxplain_zoo.models.lenet import load_lenet
        >>> accuracy(load_lenet("mnist"), *load_mnist("test"))
        0.9925
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


def cyclical_beta(step: int, total: int, cycles: int = 4, ramp: float = 0.5, beta_max: float = 1.0) -> float:
    """Cyclical KL weight (Fu et al. 2019): in each of ``cycles`` cycles, rise linearly from 0 to
    ``beta_max`` over the first ``ramp`` fraction, then stay there.

    Example:
        >>> [cyclical_beta(s, 8, cycles=2) for s in range(8)]
        [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """
    period = max(total / cycles, 1.0)
    phase = (step % period) / period
    return beta_max * min(phase / ramp, 1.0)


def fit_vae(
    model: nn.Module,
    x: torch.Tensor,
    losses: Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    cycles: int = 4,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    clip: float | None = None,
    report: Callable[[int], None] | None = None,
) -> nn.Module:
    """Train a VAE on ``x``: loss = reconstruction + ``cyclical_beta(step)`` · KL, cosine decay; eval mode after.

    ``losses(batch, generator)`` returns the batch's mean reconstruction loss and KL (its noise from
    ``generator``); each epoch shuffles with ``generator``; ``augment(batch, generator)`` transforms
    each batch; ``clip`` bounds the gradient norm; ``report(epoch)`` is called after each epoch.

    Example:
        >>> from evoxplain_zoo.data import load_mnist
        >>> from evoxplain_zoo.models.fer import FERVAE, vae_losses
        >>> vae, g = FERVAE(image_size=28, seed=0), torch.Generator().manual_seed(0)
        >>> optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
        >>> x = load_mnist("train")[0][:512]
        >>> losses = lambda batch, g: vae_losses(batch, *vae(batch, g))
        >>> vae = fit_vae(vae, x, losses, optimizer, epochs=1, batch_size=64, generator=g)
        >>> vae.training
        False
    """
    total_steps = epochs * math.ceil(len(x) / batch_size)
    scheduler = cosine_schedule(optimizer, total_steps)
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = x[order[start : start + batch_size]]
            if augment is not None:
                batch = augment(batch, generator)
            recon, kl = losses(batch, generator)
            loss = recon + cyclical_beta(step, total_steps, cycles) * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            scheduler.step()
            step += 1
        if report is not None:
            report(epoch)
    model.eval()
    return model
