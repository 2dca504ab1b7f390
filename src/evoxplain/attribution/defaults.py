"""GEEX settings users get without tuning, by input size, as the AOPC benchmark chose them on held-out images.

* Small images (both sides ≤ 64 pixels, e.g. 28×28 MNIST / Fashion-MNIST): bGEEX, Bernoulli
  masks drawn at half the image's size (14×14 for 28×28) and upsampled, the probability as the
  score, independent masks. The held-out searches chose half-size masks (or masks within a hair
  of them) on both datasets, and bGEEX leads the other black-box methods at 1000 queries there.
  The log-probability is not the default although it scored a little higher: its attributions
  add up to a log-ratio rather than a difference of probabilities. Orthogonal designs are not the
  default either: they hardly moved these masks' held-out scores, and they make the standard
  errors upper bounds.
* Larger images (e.g. 224×224 ImageNet): Bernoulli masks of crisp cells, 14 along the shorter
  side (14×14 for 224×224, 16-pixel cells), the longer side in proportion, fitted by the
  regression estimator at full strength (``estimator="regression"``, ``integrated=False``), the
  masks' signs in orthogonal blocks (``design="orthogonal"``); absent cells take a blurred copy of
  the image (``baseline="blur"``), as the benchmark scored it. With enough queries the grid is
  twice as fine, 28 cells along the shorter side, as soon as the pairs number at least twice the
  cells (5000 queries: 2500 pairs for 784 cells; 224×224 from 3136 queries), so that the
  regression needs no shrinkage. Each choice won on held-out ImageNet samples, and the default is
  the best black-box method on the scored ones at 1000 and 5000 queries. Budgets between 1000 and
  5000 and sizes between 64 and 224 pixels were not measured.
* Anything else (table rows, feature vectors): integrated Gaussian GEEX with σ 0.2 on features
  scaled to about unit range; no benchmark backs it.

The evidence, with the runs it comes from: ``benchmarks/FINDINGS.md`` in the repository
(sections "Attributions on ImageNet" and "Attributions on MNIST and Fashion-MNIST").

Example:
    >>> recommended_settings((1, 28, 28))
    {'distribution': 'bernoulli', 'mask_size': (14, 14)}
    >>> from evoxplain import GEEX
    >>> explainer = GEEX(model, queries=2000, seed=0, **recommended_settings(image.shape, queries=2000))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..constraints import Integer, Optional
from ..errors import InvalidInputError

SMALL_IMAGE_SIDE = 64
"""Images whose sides are all at most this many pixels get Bernoulli masks at half their size."""
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


def recommended_settings(shape: Sequence[int], queries: int | None = None) -> dict[str, Any]:
    """:class:`~evoxplain.GEEX` keyword arguments for one input of ``shape`` (see the module doc).

    ``shape`` is one input's shape: ``(C, H, W)`` or ``(H, W)`` for an image, ``(D,)`` for a row.
    ``queries``, the budget of one explanation, lets an image larger than 64 pixels have the finer
    grid when there are at least two mirrored pairs per cell of it; None keeps the coarser grid.

    Example:
        >>> recommended_settings((3, 224, 224))["estimator"], recommended_settings((1, 28, 28))
        ('regression', {'distribution': 'bernoulli', 'mask_size': (14, 14)})
        >>> [recommended_settings((3, 224, 224), queries=q)["mask_size"] for q in (1000, 5000)]
        [(14, 14), (28, 28)]
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise InvalidInputError(f"shape must be one input's shape with positive sizes, not {shape!r}")
    queries = Optional(Integer(low=1)).check("queries", queries)
    if len(shape) == 1:
        return {"sigma": 0.2}
    settings: dict[str, Any] = {"distribution": "bernoulli", "mask_size": bernoulli_mask(shape)}
    if max(shape[-2:]) > SMALL_IMAGE_SIDE:
        fine = bernoulli_mask(shape, FINE_IMAGE_CELLS)
        if queries is not None and queries // 2 >= 2 * fine[0] * fine[1]:
            settings["mask_size"] = fine
        settings.update(estimator="regression", integrated=False, baseline="blur", design="orthogonal")
    return settings
