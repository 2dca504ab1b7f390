"""Scores the tabular and text benchmarks share: AOPC over features, agreement with exact values,
and the choice of settings on held-out inputs.

A *feature* here is what a user reads an attribution of: a column of a table (a category's one-hot
columns together) or a token of a sentence. Curves follow the probability of the explained class
as features are replaced by the baseline in order of attribution (deletion, most important
first) or put back from the baseline (insertion); scores are :func:`evoxplain.metrics.normalised_aopc`
of the instance-averaged curve (higher is better), as the image benchmark does.

Example:
    >>> spearman(np.array([[1.0, 2.0, 3.0]]), np.array([[0.1, 0.3, 0.2]])).round(2).tolist()
    [0.5]
    >>> top_k_agreement(np.array([[3.0, -2.0, 0.1]]), np.array([[1.0, 0.5, -4.0]]), k=2).tolist()
    [0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from evoxplain.metrics import normalised_aopc


def removal_order(values: np.ndarray) -> np.ndarray:
    """Each row's features, most important (largest signed value) first; ties by index."""
    return np.argsort(-values, axis=1, kind="stable")


def step_masks(values: np.ndarray, kind: str) -> np.ndarray:
    """``(N, F + 1, F)`` booleans: which features are *present* at each step of the curve.

    Deletion starts from the whole input and removes the top-ranked features one by one;
    insertion starts from the baseline and puts them back in the same order.
    """
    n, features = values.shape
    rank = np.empty_like(removal_order(values))
    np.put_along_axis(rank, removal_order(values), np.arange(features)[None].repeat(n, 0), axis=1)
    steps = np.arange(features + 1)[None, :, None]
    touched = rank[:, None, :] < steps  # (N, F + 1, F): the first k ranked features
    return ~touched if kind == "deletion" else touched


def aopc(curves: np.ndarray, kind: str) -> dict[str, Any]:
    """The normalised AOPC of the instance-averaged curve and of each curve (``(N, F + 1)``)."""
    c = torch.as_tensor(curves, dtype=torch.float64)
    return {
        "score": float(normalised_aopc(c.mean(dim=0), kind)),
        "per_instance": normalised_aopc(c, kind).tolist(),
    }


def spearman(values: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each row of ``values`` with the same row of ``exact``
    (ties by average rank; 0 where a row is constant)."""
    from scipy.stats import rankdata

    a, b = rankdata(values, axis=1), rankdata(exact, axis=1)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    norm = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(norm > 0, (a * b).sum(1) / np.where(norm > 0, norm, 1), 0.0)


def top_k_agreement(values: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Share of each row's ``k`` largest features by magnitude that the exact values share."""
    top = lambda v: np.argsort(-np.abs(v), axis=1, kind="stable")[:, :k]  # noqa: E731
    return np.array([len(set(a) & set(b)) / k for a, b in zip(top(values), top(exact))])


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """The mean and its standard error (0 for one value)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def choose(candidates: Sequence[dict], score: Callable[[dict], float]) -> tuple[dict, list[dict]]:
    """The candidate settings with the best held-out ``score`` and every candidate's score, best first."""
    scored = sorted(({"settings": c, "deletion": score(c)} for c in candidates), key=lambda r: -r["deletion"])
    return scored[0]["settings"], scored
