"""GEEX settings users get without tuning, by input size, from what ``benchmarks/aopc.py`` found.

* Small images (both sides ≤ 64 pixels, e.g. 28×28 MNIST / Fashion-MNIST): bGEEX, Bernoulli
  masks drawn at half the image's size (14×14 for 28×28) and upsampled. bGEEX had the best AOPC
  deletion of all black-box methods at 1000 and 5000 queries on both datasets, with settings
  chosen on held-out images (``benchmarks/results/aopc_mnist.md``, ``aopc_fashion-mnist.md``);
  half-size masks were the best or within 0.002 of it on both held-out sets. The fitness stays
  the probability (log-probability scored 0.004 higher on average, but its attributions add up
  to a log-ratio rather than a difference of probabilities).
* Larger images (e.g. 224×224 ImageNet): integrated Gaussian GEEX with noise drawn at side/32
  (at least 7×7), one mask shared by the channels, σ 0.2 — chosen for maps that change little
  from seed to seed at 1000 queries; no AOPC benchmark on large images backs it yet.
* Anything else (table rows, feature vectors): integrated Gaussian GEEX with σ 0.2 on features
  scaled to about unit range; no benchmark backs it.

Example:
    >>> recommended_settings((1, 28, 28))
    {'distribution': 'bernoulli', 'mask_size': (14, 14)}
    >>> explainer = GEEX(model, queries=2000, seed=0, **recommended_settings(image.shape))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInputError

SMALL_IMAGE_SIDE = 64
"""Images whose sides are all at most this many pixels get Bernoulli masks at half their size."""


def large_image_mask(shape: Sequence[int]) -> tuple[int, int]:
    """The Gaussian mask size for a large image ``(..., H, W)``: side/32 rounded, at least 7.

    Example:
        >>> large_image_mask((3, 224, 224)), large_image_mask((3, 480, 640))
        ((7, 7), (15, 20))
    """
    return tuple(max(round(side / 32), min(7, side)) for side in shape[-2:])  # type: ignore[return-value]


def recommended_settings(shape: Sequence[int]) -> dict[str, Any]:
    """:class:`~evoxplain.GEEX` keyword arguments for one input of ``shape`` (see the module doc).

    ``shape`` is one input's shape: ``(C, H, W)`` or ``(H, W)`` for an image, ``(D,)`` for a row.

    Example:
        >>> recommended_settings((3, 224, 224))
        {'mask_size': (7, 7), 'shared_mask': True, 'sigma': 0.2}
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise InvalidInputError(f"shape must be one input's shape with positive sizes, not {shape!r}")
    if len(shape) == 1:
        return {"sigma": 0.2}
    height, width = shape[-2:]
    if max(height, width) <= SMALL_IMAGE_SIDE:
        return {"distribution": "bernoulli", "mask_size": (max(1, round(height / 2)), max(1, round(width / 2)))}
    return {"mask_size": large_image_mask(shape), "shared_mask": True, "sigma": 0.2}
