"""Which scalar of the model's answer is explained: the fitness f(z) of the estimators.

``prob`` (default) the target probability, ``logit`` the target logit (log-probability up to a
constant when the model returns probabilities), ``logprob`` the target log-probability, and
``entropy`` the cross-entropy of the output against the uniform distribution.

Example:
    >>> scores = fitness_fn("logprob")(blackbox(batch), target=3, output=blackbox.output)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .errors import InvalidInputError

FITNESSES = ("prob", "logit", "logprob", "entropy")

Fitness = Callable[[torch.Tensor, int, str], torch.Tensor]


def _log_probs(raw: torch.Tensor, output: str) -> torch.Tensor:
    return raw.clamp_min(1e-30).log() if output == "probs" else raw.log_softmax(dim=1)


def _prob(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return raw[:, target] if output == "probs" else raw.softmax(dim=1)[:, target]


def _logit(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return raw[:, target] if output == "logits" else _log_probs(raw, output)[:, target]


def _logprob(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return _log_probs(raw, output)[:, target]


def _entropy(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return -_log_probs(raw, output).mean(dim=1)


def fitness_fn(name: str) -> Fitness:
    """The fitness function called ``name``: ``(raw outputs, target, output kind) -> (N,)``."""
    functions = {"prob": _prob, "logit": _logit, "logprob": _logprob, "entropy": _entropy}
    if name not in functions:
        raise InvalidInputError(f"fitness must be one of {FITNESSES}, not {name!r}")
    return functions[name]
