"""The baseline x̊: what an input looks like with its features "absent".

A number (e.g. 0 for black images), ``"mean"`` (the per-channel mean of the input; the mean of
all features for a flat input), ``"blur"`` (a Gaussian-blurred copy of an image), or a tensor of
the input's shape.

Example:
    >>> make_baseline("blur", image).shape == image.shape
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from .errors import InvalidInputError
from .sampling import blur

Baseline = float | str | torch.Tensor | np.ndarray


def make_baseline(baseline: Baseline, x: torch.Tensor) -> torch.Tensor:
    """The baseline for one input ``x`` (same shape, device and dtype)."""
    if isinstance(baseline, bool):
        raise InvalidInputError("baseline must be a number, 'mean', 'blur' or a tensor, not a bool")
    if isinstance(baseline, numbers.Real):
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, str):
        if baseline == "mean":
            if x.ndim >= 3:
                return x.mean(dim=(-2, -1), keepdim=True).expand_as(x).clone()
            return torch.full_like(x, float(x.mean()))
        if baseline == "blur":
            if x.ndim < 2:
                raise InvalidInputError("baseline='blur' needs an image (C, H, W); use a number or a tensor")
            return blur(x)
        raise InvalidInputError(f"baseline must be a number, 'mean', 'blur' or a tensor, not {baseline!r}")
    if isinstance(baseline, (torch.Tensor, np.ndarray)):
        value = torch.as_tensor(baseline, dtype=x.dtype, device=x.device)
        try:
            value = value.expand_as(x)
        except RuntimeError:
            raise InvalidInputError(
                f"a baseline of shape {tuple(value.shape)} does not fit an input of shape {tuple(x.shape)}"
            ) from None
        if not bool(torch.isfinite(value).all()):
            raise InvalidInputError("the baseline contains NaN or infinite values")
        return value.clone()
    raise InvalidInputError(
        f"baseline must be a number, 'mean', 'blur' or a tensor, not a {type(baseline).__name__}"
    )
