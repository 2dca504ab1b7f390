"""Warnings where an explanation's numbers are not what they seem, each naming the fix.

Every explainer runs :func:`diagnose` on what it made (the command line prints the warnings):

* **completeness** (integrated Gaussian GEEX and integrated gradients): the values should add up to
  f(x) − f(x̊); a gap larger than :data:`COMPLETENESS_TOLERANCE` of that change means the estimate
  has not converged, or σ does not suit the features' scale. Bernoulli masks are complete only for
  a model additive in the masked cells, so their gap measures how far the model is from additive,
  not a fault: the summary of ``evoxplain explain`` shows it, with no warning.
* **feature scale** (Gaussian search on a row of features): a feature much larger than σ
  (more than :data:`SCALE_RATIO` × σ) is barely moved by the search while the others are moved a
  lot, so the values mix incomparable steps; standardise the features first.
* **noise** (methods with standard errors): when fewer than :data:`NOISE_SHARE` of the values stand
  more than two standard errors from 0, the ranking of the values is mostly sampling noise.

Example:
    >>> import warnings
    >>> from evoxplain import GEEX
    >>> row = torch.tensor([39.0, 77516.0, 0.5])                  # raw census columns, not standardised
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     exp = GEEX(lambda x: torch.stack([x[:, 2], -x[:, 2]], 1), queries=200, seed=0).explain(row)
    >>> print(caught[-1].message)
    features 0 (39), 1 (77516) are more than 50 × sigma = 0.2: ... Standardise the features ...
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

COMPLETENESS_TOLERANCE = 0.1
"""The largest completeness gap accepted without a warning, as a fraction of |f(x) − f(x̊)|."""
SCALE_RATIO = 50.0
"""A feature larger than this many σ in magnitude draws the feature-scale warning."""
NOISE_SHARE = 0.1
"""Below this share of values beyond two standard errors, the noise warning is given."""


class EvoxplainWarning(UserWarning):
    """An explanation whose numbers may not mean what they seem (the message says why and the fix)."""


def diagnose(explanation: Any, inputs: list[Any], sigma: float | None = None) -> list[str]:
    """Warn (:class:`EvoxplainWarning`) about what :mod:`this module <evoxplain.diagnostics>`
    checks, for each input of ``explanation``; returns the messages.

    ``inputs`` are the explained inputs (tensors or strings), ``sigma`` the Gaussian search radius
    (None: no Gaussian search, no scale check).
    """
    parts = [explanation[i] for i in range(len(explanation))] if explanation.batched else [explanation]
    messages: list[str] = []
    for index, (part, x) in enumerate(zip(parts, inputs)):
        where = f"input {index}: " if len(parts) > 1 else ""
        found = [completeness(part, x), feature_scale(x, sigma), noise(part)]
        messages += [where + message for message in found if message]
    for message in messages:
        warnings.warn(message, EvoxplainWarning, stacklevel=3)
    return messages


def completeness(explanation: Any, x: Any = None) -> str | None:
    """The completeness warning for one explanation of an integrated method (of the input ``x``), or None."""
    p = explanation.params
    gradients = explanation.method == "IntegratedGradients"
    integrated = gradients or (p.get("integrated") is True and p.get("distribution", "gaussian") == "gaussian")
    if not integrated or explanation.baseline_score is None:
        return None
    row = isinstance(x, torch.Tensor) and x.ndim == 1
    fix = "Use more steps" if gradients else "Use more queries or a smaller sigma"
    fix += ", or standardise the features" if row and not gradients else ""
    change = float(explanation.score - explanation.baseline_score)
    total = float(explanation.totals)
    gap = abs(total - change)
    if gap <= COMPLETENESS_TOLERANCE * abs(change) + 1e-4:
        return None
    return (
        f"the values add up to {total:.4g} but f(x) - f(baseline) = {change:.4g}: a completeness gap of {gap:.3g}, "
        f"more than {COMPLETENESS_TOLERANCE:.0%} of the change, so the values do not share out the model's change. "
        f"{fix}"
    )


def feature_scale(x: Any, sigma: float | None) -> str | None:
    """The feature-scale warning for a row of features searched with Gaussian steps of ``sigma``."""
    if sigma is None or not isinstance(x, torch.Tensor) or x.ndim != 1:
        return None
    large = (x.abs() > SCALE_RATIO * sigma).nonzero().flatten().tolist()
    if not large:
        return None
    shown = ", ".join(f"{i} ({float(x[i]):.5g})" for i in large[:5]) + (", ..." if len(large) > 5 else "")
    return (
        f"feature{'s' if len(large) > 1 else ''} {shown} {'are' if len(large) > 1 else 'is'} more than "
        f"{SCALE_RATIO:g} × sigma = {sigma:g}: a Gaussian step of sigma barely moves such a feature while it moves "
        "small ones a lot, so the values are not comparable (and may be far larger than a probability). "
        "Standardise the features (subtract the mean, divide by the standard deviation, e.g. with scikit-learn's "
        "StandardScaler fitted on the training data, and explain the model on the scaled row), "
        "then sigma = 0.2 is a step of a fifth of a standard deviation"
    )


def noise(explanation: Any) -> str | None:
    """The noise warning when the values are dominated by their standard errors, or None."""
    stderr = explanation.stderr
    if stderr is None or isinstance(stderr, list):
        return None
    values = explanation.values
    known = stderr.isfinite() & (stderr > 0)
    if not bool(known.any()):
        return None
    share = float(((values[known].abs() / stderr[known]) > 2).float().mean())
    if share >= NOISE_SHARE:
        return None
    return (
        f"only {share:.0%} of the values stand more than 2 standard errors from 0: they are dominated by "
        "sampling noise and their ranking is not reliable. Use more queries (the errors shrink as "
        "1/sqrt(queries)), or larger mask cells"
    )
