"""The baseline x̊: what an input looks like with its features "absent".

A number (e.g. 0 for black images), ``"mean"`` (the per-channel mean of the input; the mean of
all features for a flat input), ``"blur"`` (a Gaussian-blurred copy of an image, the same blur the
AOPC metrics use as replacement), or a tensor of the input's shape.

Example:
    >>> make_baseline("blur", image).shape == image.shape
    True
    >>> make_baseline("mean", torch.tensor([[[0.0, 1.0]], [[2.0, 4.0]]]))   # per channel
    tensor([[[0.5000, 0.5000]],
    <BLANKLINE>
            [[3.0000, 3.0000]]])
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InvalidInputError

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
            return gaussian_blur(x)
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
    raise InvalidInputError(f"baseline must be a number, 'mean', 'blur' or a tensor, not a {type(baseline).__name__}")


def blur_parameters(height: int, width: int) -> tuple[int, float]:
    """Kernel size and σ of the ``"blur"`` replacement: 31 and 5 at 224 px, scaled linearly.

    ``scale = min(height, width) / 224``; ``σ = 5·scale``; kernel ``2·round(15·scale) + 1``.

    Example:
        >>> blur_parameters(224, 224), blur_parameters(28, 28)
        ((31, 5.0), (5, 0.625))
    """
    scale = min(height, width) / 224
    return 2 * round(15 * scale) + 1, 5.0 * scale


def gaussian_blur(images: torch.Tensor, kernel_size: int | None = None, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur of images ``(..., H, W)``, each channel separately (separable conv).

    Edges are reflected (replicated where the image is smaller than half the kernel).
    Defaults: :func:`blur_parameters` of the image size.

    Example:
        >>> gaussian_blur(torch.rand(2, 3, 224, 224)).shape     # kernel 31, sigma 5
        torch.Size([2, 3, 224, 224])
    """
    if images.ndim < 2:
        raise InvalidInputError(f"gaussian_blur needs images (..., H, W), not shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    default_k, default_sigma = blur_parameters(h, w)
    k = default_k if kernel_size is None else kernel_size
    sigma = default_sigma if sigma is None else sigma
    if not isinstance(k, int) or k < 1 or k % 2 == 0:
        raise InvalidInputError(f"kernel_size must be a positive odd integer, not {k!r}")
    if not sigma > 0:
        raise InvalidInputError(f"sigma must be positive, not {sigma!r}")
    if k == 1:
        return images.clone()
    half = k // 2
    dtype = images.dtype if images.is_floating_point() else torch.float32
    grid = torch.linspace(-half, half, k, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (grid / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(device=images.device, dtype=dtype)
    flat = images.to(dtype).reshape(-1, 1, h, w)
    mode = "reflect" if half < min(h, w) else "replicate"
    flat = F.pad(flat, (half, half, half, half), mode=mode)
    flat = F.conv2d(flat, kernel.view(1, 1, 1, k))
    flat = F.conv2d(flat, kernel.view(1, 1, k, 1))
    return flat.reshape(images.shape)
