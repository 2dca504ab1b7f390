"""Search distributions: the perturbation directions the gradient estimators draw.

Every sampler draws directions ``d = T z`` with ``z ~ N(0, I)`` and ``T`` linear: the identity
(plain Gaussian noise), bilinear or nearest-neighbour upsampling from a small mask (mask resizing,
"GERS"; nearest gives crisp square cells), or a Gaussian filter normalised to unit L2 norm (mask
smoothing), or one draw per group of features (``groups``: columns that are present or absent
together, such as the one-hot columns of a category, or superpixels). One mask can be shared by
every channel. ``gain = Cov(d)·1 = T Tᵀ 1`` is what the
estimators divide by, so that a gradient that is smooth at the mask's scale comes out at its true
size (and integrated attributions stay complete).
:func:`bernoulli` thresholds any of them at 0 into present/absent masks; for those,
``bernoulli_gain`` (the mean over pixels of Σ_q E[(2b_p − 1)(2b_q − 1)]) plays the same part.

Example:
    >>> s = make_sampler((3, 224, 224), mask_size=(14, 14), shared=True, device="cpu")
    >>> d = s.sample(8, torch.Generator().manual_seed(0))     # (8, 3, 224, 224)
    >>> rows = make_sampler((5,), groups=[[1, 2, 3]])          # columns 1-3: one category, one-hot
    >>> rows.dimensions, bernoulli(rows.sample(2, torch.Generator().manual_seed(4))).tolist()
    (3, [[0.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 0.0]])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .constraints import Integer, OneOf, Optional, Pair, Real, Tuple, check_all
from .errors import InvalidInputError
from .orthogonal import OrthogonalSigns

SHAPES = {
    "mask_size": Optional(Pair(Integer(low=1))),
    "interpolation": OneOf("bilinear", "nearest"),
    "smoothing": Optional(Tuple(Integer(low=1, odd=True), Real(low=0, low_open=True), names=("kernel_size", "sigma"))),
}
"""The constraints of the noise's shape: a mask size, how it is upsampled, a smoothing kernel."""


class NoiseSampler:
    """Draws directions ``T z`` of a fixed sample shape from low-dimensional standard normals.

    Args:
        shape: the shape of one input, e.g. ``(3, 224, 224)`` or ``(14,)``.
        low_shape: the shape of ``z``.
        transform: the linear map ``T`` from a batch of ``z`` to a batch of directions.
        device: where noise is drawn.
        axes: for an image transform separable into ``T_H ⊗ T_W`` (resizing, smoothing), the two
            1-D matrices ``(T_H, T_W)``; None where pixels get independent noise.
        groups: for one draw per group of features, the group id of every element (long, of
            ``shape``); None otherwise.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        low_shape: tuple[int, ...],
        transform: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device | str,
        axes: tuple[torch.Tensor, torch.Tensor] | None = None,
        groups: torch.Tensor | None = None,
    ):
        self.shape = tuple(shape)
        self.groups = groups
        self.low_shape = tuple(low_shape)
        self.transform = transform
        self.device = torch.device(device)
        self.axes = axes

    @property
    def dimensions(self) -> int:
        """The number of independent noise dimensions (the size of ``z``)."""
        return math.prod(self.low_shape)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` directions, a ``(n, *shape)`` tensor on the sampler's device."""
        return self.sample_with_cells(n, generator)[1]

    def sample_with_cells(
        self, n: int, generator: torch.Generator, signs: OrthogonalSigns | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, T z)``: ``n`` low-dimensional draws ``(n, *low_shape)`` and their directions.

        With ``signs`` (an orthogonal design over ``dimensions``), ``z = |g| ⊙ s``: still
        ``N(0, I)`` draw by draw, with the signs orthogonal across draws.
        """
        s = signs.draw(n).view(n, *self.low_shape) if signs is not None else None
        z = torch.randn((n, *self.low_shape), generator=generator, device=self.device)
        if s is not None:
            z = z.abs() * s
        return z, self.transform(z)

    @cached_property
    def footprint(self) -> torch.Tensor:
        """``Tᵀ 1`` (shape ``low_shape``): for crisp cells, the number of input elements each covers."""
        z = torch.zeros((1, *self.low_shape), device=self.device, requires_grad=True)
        with torch.enable_grad():
            out = self.transform(z)
            (adjoint_of_ones,) = torch.autograd.grad(out, z, torch.ones_like(out))
        return adjoint_of_ones[0].detach()

    @cached_property
    def gain(self) -> torch.Tensor:
        """``T Tᵀ 1``: how much a constant gradient is amplified by the estimator (shape ``shape``)."""
        return self.transform(self.footprint[None])[0]

    @cached_property
    def bernoulli_gain(self) -> float | torch.Tensor:
        """How much :func:`bernoulli` masks of these directions amplify a constant attribution: the
        mean over pixels p of ``Σ_q E[(2b_p − 1)(2b_q − 1)] = Σ_q (2/π)·arcsin(ρ_pq)``, with ρ the
        directions' correlation (1 for independent pixels). Exact, from the separable axes. With
        ``groups``, element by element (a tensor of ``shape``): the size of each element's group,
        so that a group's values share its attribution evenly.

        Example:
            >>> round(make_sampler((1, 28, 28), mask_size=7).bernoulli_gain, 1)  # 4×4-pixel cells
            25.2
        """
        if self.groups is not None:
            return self.gain
        if self.axes is None:
            return 1.0
        (a, count_a), (b, count_b) = (_values_and_counts(_correlation(t)) for t in self.axes)
        sign_agreement = torch.asin((a[:, None] * b[None]).clamp(-1, 1)) * (2 / math.pi)
        total = (count_a[:, None] * count_b[None] * sign_agreement).sum()
        return float(total / (self.axes[0].shape[0] * self.axes[1].shape[0]))


def make_sampler(
    shape: tuple[int, ...],
    *,
    mask_size: tuple[int, int] | None = None,
    interpolation: Literal["bilinear", "nearest"] = "bilinear",
    smoothing: tuple[int, float] | None = None,
    shared: bool = False,
    groups: Groups | None = None,
    device: torch.device | str = "cpu",
) -> NoiseSampler:
    """The sampler for inputs of ``shape``: plain, resized (``mask_size``, upsampled by
    ``interpolation``), smoothed, or one draw per group of features (``groups``, see
    :func:`feature_groups`: crisp cells of any shape, e.g. the one-hot columns of a category).

    ``shape`` ``(..., H, W)`` is an image whose leading dimensions are channels; ``shared`` draws
    one mask for all channels. Resizing and smoothing need an image; plain noise and groups take
    any shape.

    Example:
        >>> make_sampler((1, 28, 28), smoothing=(5, 1.0)).dimensions
        1024
    """
    shape = tuple(int(s) for s in shape)
    checked = check_all(SHAPES, mask_size=mask_size, interpolation=interpolation, smoothing=smoothing)
    mask_size, smoothing = checked["mask_size"], checked["smoothing"]
    if mask_size is not None and smoothing is not None:
        raise InvalidInputError("choose mask_size (resizing) or smoothing, not both")
    if groups is not None:
        if mask_size is not None or smoothing is not None or shared:
            raise InvalidInputError("groups replace mask_size, smoothing and shared masks: choose one of them")
        ids = feature_groups(groups, shape).to(device)
        count = int(ids.max()) + 1
        return NoiseSampler(shape, low_shape=(count,), transform=lambda z: z[:, ids], device=device, groups=ids)
    image = len(shape) >= 2
    if (mask_size is not None or smoothing is not None or shared) and not image:
        raise InvalidInputError(
            f"mask_size, smoothing and shared masks need an image input (C, H, W); got an input of "
            f"shape {shape}. Leave them unset for tabular rows and flat features."
        )
    channels = math.prod(shape[:-2]) if image else 1
    height, width = (shape[-2], shape[-1]) if image else (0, 0)
    mask_channels = 1 if shared else channels

    def to_input(masks: torch.Tensor) -> torch.Tensor:  # (n, mask_channels, H, W) -> (n, *shape)
        n = masks.shape[0]
        return masks.expand(n, channels, height, width).reshape(n, *shape)

    if mask_size is not None:
        return _resized_sampler(
            shape=shape, mask_size=mask_size, interpolation=interpolation, mask_channels=mask_channels,
            to_input=to_input, device=device,
        )  # fmt: skip
    if smoothing is not None:
        return _smoothed_sampler(
            shape=shape, smoothing=smoothing, mask_channels=mask_channels, to_input=to_input, device=device
        )
    if shared:
        return NoiseSampler(shape=shape, low_shape=(1, height, width), transform=to_input, device=device)
    return NoiseSampler(shape=shape, low_shape=shape, transform=lambda z: z, device=device)


def _resized_sampler(
    shape: tuple[int, ...],
    mask_size: tuple[int, int],
    interpolation: str,
    mask_channels: int,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str,
) -> NoiseSampler:
    """Noise drawn at ``mask_size`` and upsampled by ``interpolation`` to the image's size."""
    height, width = shape[-2], shape[-1]
    h, w = mask_size
    if h > height or w > width:
        raise InvalidInputError(f"mask_size {(h, w)} is larger than the input's {(height, width)}")
    nearest = interpolation == "nearest"
    corners = {} if nearest else {"align_corners": False}

    def resize(z: torch.Tensor) -> torch.Tensor:
        return to_input(F.interpolate(z, size=(height, width), mode=interpolation, **corners))

    def axis(low: int, high: int) -> torch.Tensor:  # the same upsampling in 1-D, (high, low)
        basis = torch.eye(low, dtype=torch.float64)[None]
        return F.interpolate(basis, size=high, mode="nearest" if nearest else "linear", **corners)[0].T

    axes = (axis(h, height), axis(w, width))
    return NoiseSampler(shape=shape, low_shape=(mask_channels, h, w), transform=resize, device=device, axes=axes)


def _smoothed_sampler(
    shape: tuple[int, ...],
    smoothing: tuple[int, float],
    mask_channels: int,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str,
) -> NoiseSampler:
    """Noise drawn ``kernel_size - 1`` larger and smoothed by a separable Gaussian (valid convolution)."""
    height, width = shape[-2], shape[-1]
    kernel_size, sigma = smoothing
    kernel = _unit_gaussian(kernel_size, sigma, device)
    pad = kernel_size - 1

    def smooth(z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        flat = z.reshape(n * mask_channels, 1, height + pad, width + pad)
        flat = F.conv2d(F.conv2d(flat, kernel.view(1, 1, -1, 1)), kernel.view(1, 1, 1, -1))
        return to_input(flat.view(n, mask_channels, height, width))

    def axis(size: int) -> torch.Tensor:  # 1-D valid convolution, (size, size + pad)
        basis = torch.eye(size + pad, dtype=torch.float64)[:, None]
        return F.conv1d(basis, kernel.to("cpu", torch.float64).view(1, 1, -1))[:, 0].T

    axes = (axis(height), axis(width))
    low_shape = (mask_channels, height + pad, width + pad)
    return NoiseSampler(shape=shape, low_shape=low_shape, transform=smooth, device=device, axes=axes)


Groups = Sequence[Sequence[int]] | Sequence[int] | torch.Tensor | np.ndarray
"""Feature groups as users have them: blocks of column indices, or a group id per feature."""


def feature_groups(groups: Groups, shape: Sequence[int]) -> torch.Tensor:
    """The group id of every feature of one input of ``shape`` (long, of ``shape``, ids 0…G−1).

    ``groups`` is either a list of *blocks*, each the (flat) indices of features that are present
    or absent together (the one-hot columns of one category), every feature in no block being a
    group of its own, ids given in order of each group's first feature; or one id per feature
    (a tensor, array or list of ``shape``; every id from 0 to the largest used).

    Example:
        >>> feature_groups([[2, 3, 4]], (6,)).tolist()                 # a category one-hot in 2-4
        [0, 1, 2, 2, 2, 3]
        >>> feature_groups([0, 0, 1], (3,)).tolist()
        [0, 0, 1]
    """
    shape = tuple(int(s) for s in shape)
    size = math.prod(shape)
    if isinstance(groups, (list, tuple)) and groups and all(isinstance(b, (list, tuple, range)) for b in groups):
        blocks = [[int(i) for i in block] for block in groups]
        flat = [i for block in blocks for i in block]
        if any(not 0 <= i < size for i in flat) or len(set(flat)) != len(flat) or not all(blocks):
            raise InvalidInputError(
                f"groups as blocks must be non-empty lists of distinct feature indices in 0..{size - 1}, "
                f"each feature in at most one block; got {groups!r}"
            )
        first = torch.arange(size)
        for block in blocks:
            first[block] = min(block)  # a block is named after its first feature
        return torch.unique(first, return_inverse=True)[1].view(shape)
    try:
        ids = torch.as_tensor(np.asarray(groups))
    except (TypeError, ValueError):
        message = f"groups must be blocks of feature indices or one id per feature, not {groups!r}"
        raise InvalidInputError(message) from None
    if ids.is_floating_point() or ids.dtype == torch.bool or tuple(ids.shape) != shape:
        raise InvalidInputError(
            f"groups as ids must be integers of the input's shape {shape}, not {ids.dtype} of shape "
            f"{tuple(ids.shape)}; or give blocks of feature indices, e.g. [[2, 3, 4]]"
        )
    ids = ids.long()
    if ids.numel() and (int(ids.min()) < 0 or set(ids.unique().tolist()) != set(range(int(ids.max()) + 1))):
        raise InvalidInputError("group ids must cover 0, 1, …, G−1 (each id used at least once)")
    return ids


def bernoulli(directions: torch.Tensor) -> torch.Tensor:
    """Present (1) / absent (0) masks: directions thresholded at 0, so each is 1 with p = 1/2.

    Correlated directions (resized, smoothed) give spatially correlated masks.
    """
    return (directions > 0).to(directions.dtype)


def _correlation(transform: torch.Tensor) -> torch.Tensor:
    """The correlation matrix of ``T z`` for ``z ~ N(0, I)``."""
    covariance = transform @ transform.T
    scale = covariance.diagonal().clamp_min(1e-300).sqrt()
    return covariance / scale[:, None] / scale[None]


def _values_and_counts(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct entries of ``matrix`` (to 1e-9) and how often each occurs."""
    values, counts = torch.unique(matrix.round(decimals=9), return_counts=True)
    return values, counts.to(torch.float64)


def _unit_gaussian(kernel_size: int, sigma: float, device: torch.device | str) -> torch.Tensor:
    """A 1-D Gaussian kernel with unit L2 norm (so the separable 2-D kernel has unit L2 norm too)."""
    x = torch.arange(kernel_size, dtype=torch.float32, device=device) - (kernel_size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.norm()
