"""GEEX settings users get without tuning, by input kind, size and budget, as benchmarks chose them on held-out data.

* Images (any size): bGEEX fitted by the regression estimator on crisp cells, at full strength
  (``estimator="regression"``, ``integrated=False``), the masks' signs in orthogonal blocks
  (``design="orthogonal"``), f = the probability. The grid follows the budget: a coarse grid, and
  a grid twice as fine as soon as the mirrored pairs number at least twice its cells (``queries ≥
  4 × cells``), so that the regression needs no shrinkage there and keeps gaining from more queries.

  - Small images (both sides ≤ 64 pixels, e.g. 28×28 MNIST / Fashion-MNIST): cells half the
    image's size (14×14 for 28×28), then one cell per pixel (28×28 from 3136 queries); absent
    cells are black (``baseline=0``). Chosen on held-out MNIST and Fashion-MNIST test images at
    1000, 5000 and 20000 queries (``benchmarks/results/small_default``), and scored on a fresh
    test set that no tuning or earlier run used, with deletion to black and to the dataset's
    mean (``benchmarks/results/aopc/*-fresh*``).
  - Larger images (e.g. 224×224 ImageNet): 14 cells along the shorter side (16-pixel cells on
    224×224), the longer side in proportion, then 28; absent cells take a blurred copy of the
    image (``baseline="blur"``), as the ImageNet benchmark scored it.

  The baseline is what "absent" means, and AOPC deletion (or any removal a user has in mind)
  should put in the same value: pass ``baseline=`` to match it (the dataset's mean pixel, say, for
  a deletion to the mean), as the benchmarks' runs with mean deletion do.
* Rows ``(D,)`` (tables, feature vectors): Bernoulli masks over the features, fitted by the
  regression estimator, not integrated, in orthogonal designs (the mean estimator beyond 4096
  features, the most the regression fits). A feature is present (its value) or absent (the
  baseline's), so no noise scale is needed whatever the columns' units; pass the mean of the
  training rows as ``baseline`` and the one-hot columns of each category as ``groups``. On
  held-out rows of UCI Adult and breast cancer (``benchmarks/tabular.py``: logistic regression,
  random forest, gradient boosting, 500 to 10,000 queries) this family had the best AOPC deletion,
  or tied (a linear model is fitted exactly by every estimator), and within it the path-free
  orthogonal setting was the best or tied; results in ``benchmarks/results/tabular/``. Masks
  with p = 1/2 estimate Banzhaf values, not Shapley values: where features interact they rank
  features a little differently from shap and need not add up to f(x) − f(x̊) (the results'
  notes say when to prefer Shapley values).
* Text (a string): Bernoulli masks over the tokens (GEEX's only way with text) with the mean
  estimator in orthogonal designs, the held-out choice at every budget of ``benchmarks/text.py``
  (IMDB sentences through the shipped BiLSTM; ``benchmarks/results/text/imdb/``).

The evidence, with the runs it comes from: ``benchmarks/FINDINGS.md`` in the repository
(sections "Attributions on ImageNet" and "Attributions on MNIST and Fashion-MNIST"); for rows and
text, ``benchmarks/results/tabular/adult/README.md`` and ``benchmarks/results/text/imdb/README.md``.

Example:
    >>> [recommended_settings((1, 28, 28), queries=q)["mask_size"] for q in (1000, 5000)]
    [(14, 14), (28, 28)]
    >>> recommended_settings((14,))["estimator"], recommended_settings("a fine film")
    ('regression', {'design': 'orthogonal'})
    >>> from evoxplain import GEEX
    >>> explainer = GEEX(model, queries=2000, seed=0, **recommended_settings(image.shape, queries=2000))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..constraints import Integer, Optional
from ..errors import InvalidInputError
from .cell_regression import MAX_CELLS

SMALL_IMAGE_SIDE = 64
"""Images whose sides are all at most this many pixels get cells at half their size, then one per pixel."""
LARGE_IMAGE_CELLS = 14
"""Bernoulli mask cells along the shorter side of a larger image."""
FINE_IMAGE_CELLS = 28
"""The same with enough queries: at least two mirrored pairs per cell (``queries ≥ 4 × cells``)."""


def bernoulli_mask(shape: Sequence[int], cells: int = LARGE_IMAGE_CELLS) -> tuple[int, int]:
    """The Bernoulli mask size for an image ``(..., H, W)``: half its size when both sides are at
    most ``SMALL_IMAGE_SIDE``, else ``cells`` cells along the shorter side and the longer in proportion.

    Example:
        >>> bernoulli_mask((1, 28, 28)), bernoulli_mask((3, 224, 224)), bernoulli_mask((3, 480, 640))
        ((14, 14), (14, 14), (14, 19))
        >>> bernoulli_mask((3, 224, 224), cells=28)
        (28, 28)
    """
    height, width = (int(s) for s in shape[-2:])
    if max(height, width) <= SMALL_IMAGE_SIDE:
        return max(1, round(height / 2)), max(1, round(width / 2))
    cell = max(1.0, min(height, width) / cells)  # in pixels, never below one
    return max(1, round(height / cell)), max(1, round(width / cell))


def fine_mask(shape: Sequence[int]) -> tuple[int, int]:
    """The finer grid the default takes once the budget allows it: one cell per pixel of a small
    image, ``FINE_IMAGE_CELLS`` along the shorter side of a larger one.

    Example:
        >>> fine_mask((1, 28, 28)), fine_mask((3, 224, 224)), fine_mask((3, 480, 640))
        ((28, 28), (28, 28), (28, 37))
    """
    height, width = (int(s) for s in shape[-2:])
    if max(height, width) <= SMALL_IMAGE_SIDE:
        return height, width
    return bernoulli_mask(shape, FINE_IMAGE_CELLS)


def gaussian_mask(shape: Sequence[int]) -> tuple[int, int]:
    """The Gaussian (GERS) mask size for an image ``(..., H, W)``, for ``evoxplain explain --method
    gers``: half its size for a small image, else side/32 rounded, at least 7 (not benchmark-backed:
    on ImageNet, Bernoulli masks scored higher).

    Example:
        >>> gaussian_mask((3, 224, 224)), gaussian_mask((3, 480, 640)), gaussian_mask((1, 28, 28))
        ((7, 7), (15, 20), (14, 14))
    """
    if max(shape[-2:]) <= SMALL_IMAGE_SIDE:
        return bernoulli_mask(shape)
    return tuple(max(round(side / 32), min(7, side)) for side in shape[-2:])  # type: ignore[return-value]


def recommended_settings(shape: Sequence[int] | str, queries: int | None = None) -> dict[str, Any]:
    """:class:`~evoxplain.GEEX` keyword arguments for one input of ``shape`` (see the module doc).

    ``shape`` is one input's shape: ``(C, H, W)`` or ``(H, W)`` for an image, ``(D,)`` for a row;
    or the text to explain (a string). ``queries``, the budget of one explanation, gives an image
    the finer grid (:func:`fine_mask`) when there are at least two mirrored pairs per cell of it;
    None keeps the coarser grid.

    Example:
        >>> recommended_settings((1, 28, 28))
        {'distribution': 'bernoulli', 'mask_size': (14, 14), 'estimator': 'regression', 'integrated': False, \
'baseline': 0.0, 'design': 'orthogonal'}
        >>> [recommended_settings((3, 224, 224), queries=q)["mask_size"] for q in (1000, 5000)]
        [(14, 14), (28, 28)]
    """
    if isinstance(shape, str):
        return {"design": "orthogonal"}
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise InvalidInputError(f"shape must be one input's shape with positive sizes, not {shape!r}")
    queries = Optional(Integer(low=1)).check("queries", queries)
    if len(shape) == 1:
        regression = {"estimator": "regression"} if shape[0] <= MAX_CELLS else {}
        return {"distribution": "bernoulli", **regression, "integrated": False, "design": "orthogonal"}
    small = max(shape[-2:]) <= SMALL_IMAGE_SIDE
    fine = fine_mask(shape)
    coarse = queries is None or queries // 2 < 2 * fine[0] * fine[1]
    return {
        "distribution": "bernoulli",
        "mask_size": bernoulli_mask(shape) if coarse else fine,
        "estimator": "regression",
        "integrated": False,
        "baseline": 0.0 if small else "blur",
        "design": "orthogonal",
    }
