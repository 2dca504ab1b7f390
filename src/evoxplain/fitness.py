"""Which scalar of the model's answer is explained: the fitness f(z) of the estimators.

``prob`` (default) the target probability, ``logit`` the target logit (log-probability up to a
constant when the model returns probabilities; log-odds for independent probabilities),
``logprob`` the target log-probability, and ``entropy`` the cross-entropy of the output against
the uniform distribution (for independent probabilities, of each class against a fair coin).

Example:
    >>> from evoxplain import BlackBox
    >>> blackbox = BlackBox(torch.nn.Linear(4, 10).eval(), output="logits")
    >>> scores = fitness_fn("logprob")(blackbox(torch.rand(8, 4)), target=3, output=blackbox.output)
    >>> scores.shape
    torch.Size([8])
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .errors import InvalidInputError

FITNESSES = ("prob", "logit", "logprob", "entropy")

Fitness = Callable[[torch.Tensor, int, str], torch.Tensor]


def log_probabilities(raw: torch.Tensor, output: str) -> torch.Tensor:
    """Log-probabilities of raw outputs (``output``: ``"probs"`` or ``"logits"``), exact also for a sure class.

    In float32, ``log_softmax`` gives exactly 0 to a class whose logit leads the others by more
    than about 16 (and ``log`` of a probability that rounds to 1 gives 0), losing everything a
    perturbation changes. Each row's leading class is therefore computed from the others:
    log p_top = −log1p(exp(logsumexp_j (l_j − l_top))) = −log1p(Σ_j p_j / p_top), j ≠ top.

    Example:
        >>> log_probabilities(torch.tensor([[30.0, 0.0]]), "logits")  # log_softmax: [[0., -30.]]
        tensor([[-9.3576e-14, -3.0000e+01]])
    """
    if output == "multilabel":  # independent probabilities: each its own
        return raw.clamp_min(1e-30).log()
    top = raw.argmax(dim=1, keepdim=True)
    if output == "probs":
        logs = raw.clamp_min(1e-30).log()
        rest = raw.scatter(1, top, 0.0).sum(dim=1, keepdim=True)
        top_log = -torch.log1p(rest / raw.gather(1, top).clamp_min(1e-30))
    else:
        logs = raw.log_softmax(dim=1)
        rest = (raw - raw.gather(1, top)).scatter(1, top, float("-inf")).logsumexp(dim=1, keepdim=True)
        top_log = -torch.log1p(rest.exp())  # rest ≤ log(classes − 1): no overflow
    return logs.scatter(1, top, top_log)


def _prob(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return raw.softmax(dim=1)[:, target] if output == "logits" else raw[:, target]


def _logit(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    if output == "multilabel":
        p = raw[:, target].clamp(1e-30, 1.0)
        return p.log() - torch.log1p(-p).clamp_min(-1e30)
    return raw[:, target] if output == "logits" else log_probabilities(raw, output)[:, target]


def _logprob(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    return log_probabilities(raw, output)[:, target]


def _entropy(raw: torch.Tensor, target: int, output: str) -> torch.Tensor:
    if output == "multilabel":
        p = raw.clamp(1e-30, 1.0)
        return -(0.5 * p.log() + 0.5 * torch.log1p(-p).clamp_min(-1e30)).mean(dim=1)
    return -log_probabilities(raw, output).mean(dim=1)


def fitness_fn(name: str) -> Fitness:
    """The fitness function called ``name``: ``(raw outputs, target, output kind) -> (N,)``."""
    functions = {"prob": _prob, "logit": _logit, "logprob": _logprob, "entropy": _entropy}
    if name not in functions:
        raise InvalidInputError(f"fitness must be one of {FITNESSES}, not {name!r}")
    return functions[name]
