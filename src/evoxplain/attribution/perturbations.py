"""GEEX's variants as parts that fit together only in the ways that make sense.

A GEEX explanation draws mirrored pairs of directions laid over the input by a :class:`Layout`
(full-size noise, noise drawn at ``mask_size`` and upsampled, or smoothed noise: a
:class:`~evoxplain.sampling.NoiseSampler`) and turns each direction into two queries by a
perturbation:

* :class:`GaussianNoise`: ``x ± σd`` (GE, GEEX/iGEEX, GERS), its pairs summed by
  :class:`~.pair_mean.PairMean` into a gradient estimate;
* :class:`BernoulliMasks`: keep or drop the features where the direction is positive (bGEEX), its
  pairs summed by ``PairMean`` (``estimator="mean"``) or fitted by
  :class:`~.cell_regression.CellRegression` (``"regression"``), which needs crisp cells.

So the combinations that cannot work are not representable: Gaussian noise has no estimator to
choose, :class:`BernoulliMasks` refuses a regression on masks that are not crisp, and a
:class:`Layout` refuses resizing and smoothing at once, each when it is made (as Captum builds
KernelSHAP as LIME with a kernel). :class:`~evoxplain.GEEX` builds these parts from its keywords.

A part builds the queries of a block of pairs into one buffer, in place, and gives an
:class:`Estimate` that accumulates the pairs' score differences in place: the memory of a step is
a few copies of its queries, whatever the budget.

Example:
    >>> masks = BernoulliMasks(Layout((14, 14), "nearest"), estimator="regression")
    >>> masks.layout.crisp, masks.estimator
    (True, 'regression')
    >>> BernoulliMasks(Layout((14, 14), "bilinear"), estimator="regression")
    Traceback (most recent call last):
    ...
    evoxplain.errors.InvalidInputError: estimator='regression' needs crisp mask cells: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..constraints import Boolean, Checked, Instance, OneOf, Optional, Real
from ..errors import InvalidInputError
from ..sampling import SHAPES, Groups, NoiseSampler, bernoulli, make_sampler
from .cell_regression import CellRegression
from .pair_mean import PairMean


@dataclass(frozen=True)
class Layout(Checked):
    """How noise covers an input: at full size, drawn at ``mask_size`` and upsampled by
    ``interpolation`` (``"nearest"``: crisp square cells), or full size and Gaussian-smoothed."""

    mask_size: tuple[int, int] | None = None
    interpolation: str = "bilinear"
    smoothing: tuple[int, float] | None = None
    groups: Groups | None = field(default=None, compare=False)
    constraints = SHAPES

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mask_size is not None and self.smoothing is not None:
            raise InvalidInputError("choose mask_size (resizing) or smoothing, not both")
        if self.groups is not None and (self.mask_size is not None or self.smoothing is not None):
            raise InvalidInputError("groups replace mask_size and smoothing: choose one of them")

    @property
    def crisp(self) -> bool:
        """Whether every input element follows exactly one noise cell (no blending)."""
        return self.smoothing is None and self.interpolation == "nearest"

    def sampler(self, shape: tuple[int, ...], shared: bool, device: torch.device) -> NoiseSampler:
        """The sampler of directions for inputs of ``shape``."""
        return make_sampler(
            shape,
            mask_size=self.mask_size,
            interpolation=self.interpolation,
            smoothing=self.smoothing,
            shared=shared,
            groups=self.groups,
            device=device,
        )


class Estimate:
    """Accumulates a block of pairs at a time (:meth:`add`); :meth:`result` gives the values and
    their standard errors, shaped like the input."""

    def add(self, cells: torch.Tensor | None, directions: torch.Tensor, alpha: torch.Tensor, diff: torch.Tensor):
        """One step's pairs (``directions`` are the estimate's to overwrite)."""
        raise NotImplementedError

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


@dataclass(frozen=True)
class GaussianNoise(Checked):
    """Queries ``c ± σd``, ``c`` the input (GE) or a point on the path from the baseline (GEEX).

    ``shared``: one noise mask for all channels of an image (default: one per channel).
    """

    sigma: float = 0.2
    layout: Layout = Layout()
    shared: bool | None = None
    constraints = {
        "sigma": Real(low=0, low_open=True, hint="the search radius"),
        "layout": Instance(Layout, what="a Layout"),
        "shared": Optional(Boolean()),
    }
    distribution = "gaussian"
    estimator = "mean"
    needs_cells = False

    def shared_for(self, x: torch.Tensor) -> bool:
        return bool(self.shared)

    def queries(self, d: torch.Tensor, x: torch.Tensor, base: torch.Tensor, delta: torch.Tensor,
                alpha: torch.Tensor, integrated: bool) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The ``2n`` queries of ``n`` pairs (plus first, then minus) and the directions to sum."""
        n = len(d)
        out = torch.empty((2 * n, *x.shape), dtype=x.dtype, device=x.device)
        noise = self.sigma * d
        if integrated:
            torch.mul(alpha, delta, out=out[:n]).add_(base)  # the centres base + α(x − base)
            out[n:].copy_(out[:n])
            out[:n].add_(noise)
            out[n:].sub_(noise)
        else:
            torch.add(x, noise, out=out[:n])
            torch.sub(x, noise, out=out[n:])
        return out, d

    def estimate(self, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, integrated: bool) -> Estimate:
        return _GradientEstimate(sigma=self.sigma, sampler=sampler, x=x, delta=delta, integrated=integrated)


@dataclass(frozen=True)
class BernoulliMasks(Checked):
    """Queries ``x̊ + b ⊙ α(x − x̊)`` and its mirror ``x̊ + (1 − b) ⊙ α(x − x̊)``, ``b = [d > 0]``.

    ``estimator``: ``"mean"`` (Σ f(z)(2b − 1) / (G Σ α)) or ``"regression"`` (least squares on the
    cells; the layout must be crisp). ``shared``: one mask for all channels (default for images).
    """

    layout: Layout = Layout()
    estimator: str = "mean"
    shared: bool | None = None
    constraints = {
        "layout": Instance(Layout, what="a Layout"),
        "estimator": OneOf("mean", "regression"),
        "shared": Optional(Boolean()),
    }
    distribution = "bernoulli"
    sigma = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.estimator == "regression" and not self.layout.crisp:
            raise InvalidInputError(
                "estimator='regression' needs crisp mask cells: leave smoothing unset and use "
                "mask_interpolation='nearest' (its default)"
            )

    @property
    def needs_cells(self) -> bool:
        return self.estimator == "regression"

    def shared_for(self, x: torch.Tensor) -> bool:
        return self.shared if self.shared is not None else x.ndim >= 3 and self.layout.groups is None

    def queries(self, d: torch.Tensor, x: torch.Tensor, base: torch.Tensor, delta: torch.Tensor,
                alpha: torch.Tensor, integrated: bool) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The ``2n`` queries of ``n`` pairs (kept, then their mirror) and the signs ``2b − 1``."""
        n = len(d)
        masks = bernoulli(d)
        out = torch.empty((2 * n, *x.shape), dtype=x.dtype, device=x.device)
        torch.mul(alpha, delta, out=out[:n]).mul_(masks).add_(base)
        masks.neg_().add_(1)  # 1 − b, in place
        torch.mul(alpha, delta, out=out[n:]).mul_(masks).add_(base)
        return out, masks.mul_(-2).add_(1)  # 1 − 2(1 − b) = 2b − 1

    def estimate(self, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, integrated: bool) -> Estimate:
        shared = self.shared_for(x)
        if self.estimator == "regression":
            return _CellEstimate(sampler=sampler, x=x, delta=delta, shared=shared)
        return _MaskEstimate(sampler=sampler, x=x, delta=delta, shared=shared)


Perturbation = GaussianNoise | BernoulliMasks


def perturbation_from(*, distribution: str, sigma: float, layout: Layout, estimator: str,
                      shared: bool | None) -> Perturbation:  # fmt: skip
    """The part GEEX's keywords describe; a regression with Gaussian noise is refused here."""
    if distribution == "bernoulli":
        return BernoulliMasks(layout=layout, estimator=estimator, shared=shared)
    if estimator != "mean":
        raise InvalidInputError(
            "estimator='regression' fits the cells of Bernoulli masks: use it with distribution='bernoulli' "
            "(text is always explained with them)"
        )
    return GaussianNoise(sigma=sigma, layout=layout, shared=shared)


# -- the estimates ------------------------------------------------------------------------------


class _GradientEstimate(Estimate):
    """Gaussian pairs: the gradient ``Σ y d / (2 n σ)`` divided by the sampler's gain, times
    ``x − x̊`` on the integrated path."""

    def __init__(self, sigma: float, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, integrated: bool):
        self.sigma, self.sampler, self.x, self.delta, self.integrated = sigma, sampler, x, delta, integrated
        self.sums = PairMean(x.numel(), x.device)

    def add(self, cells, directions, alpha, diff):
        self.sums.add(diff, directions.reshape(len(diff), -1), torch.ones_like(alpha), consume=True)

    def result(self):
        x, sums, gain = self.x, self.sums, self.sampler.gain
        gradient = sums.total.view_as(x) / (2 * sums.pairs * self.sigma) / gain
        gradient_stderr = sums.stderr().view_as(x) / (2 * self.sigma) / gain
        if self.integrated:
            return self.delta * gradient, self.delta.abs() * gradient_stderr
        return gradient, gradient_stderr


class _SharedMasks(Estimate):
    """Bernoulli pairs; a mask shared by the channels gives a pixel's value, split over its
    channels in proportion to ``|x − x̊|``."""

    def __init__(self, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, shared: bool):
        self.sampler, self.x, self.delta, self.shared = sampler, x, delta, shared

    def split(self, values: torch.Tensor, stderr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.shared:
            return values, stderr
        x = self.x
        weight = self.delta.abs().reshape(-1, *x.shape[-2:])
        weight = weight / weight.sum(dim=0, keepdim=True).clamp_min(1e-30)
        return values * weight.view_as(x), stderr * weight.view_as(x)


class _MaskEstimate(_SharedMasks):
    """The mean estimator ``Σ y (2b − 1) / Σ α``, divided by the masks' correlation area."""

    def __init__(self, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, shared: bool):
        super().__init__(sampler=sampler, x=x, delta=delta, shared=shared)
        self.sums = PairMean(x.numel(), x.device)

    def add(self, cells, directions, alpha, diff):
        self.sums.add(diff, directions.reshape(len(diff), -1), alpha, consume=True)

    def result(self):
        x, sums, gain = self.x, self.sums, self.sampler.bernoulli_gain
        values = sums.total.view_as(x) / sums.alpha_total / gain
        return self.split(values, sums.stderr().view_as(x) / gain)


class _CellEstimate(_SharedMasks):
    """The regression on the cells' signs, each cell's value spread evenly over its elements."""

    def __init__(self, sampler: NoiseSampler, x: torch.Tensor, delta: torch.Tensor, shared: bool):
        super().__init__(sampler=sampler, x=x, delta=delta, shared=shared)
        self.fit = CellRegression(sampler.dimensions, x.device)

    def add(self, cells, directions, alpha, diff):
        self.fit.add(2 * bernoulli(cells).reshape(len(cells), -1) - 1, alpha, diff)

    def result(self):
        x, sampler = self.x, self.sampler
        pixels = sampler.footprint / (x[..., 0, 0].numel() if self.shared else 1)

        def to_pixels(per_cell: torch.Tensor) -> torch.Tensor:  # spread evenly (then over channels)
            return sampler.transform((per_cell.to(x.dtype).view_as(pixels) / pixels)[None])[0]

        cells = self.fit.solve()
        return self.split(to_pixels(cells), to_pixels(self.fit.stderr(cells)))


def describe(p: Perturbation) -> dict[str, Any]:
    """The keywords that rebuild ``p`` (what :attr:`Explanation.params` records)."""
    groups = p.layout.groups
    return {
        "mask_size": p.layout.mask_size,
        "mask_interpolation": p.layout.interpolation,
        "smoothing": p.layout.smoothing,
        "distribution": p.distribution,
        "estimator": p.estimator,
        "shared_mask": p.shared,
        "groups": None if groups is None else "tensor" if hasattr(groups, "shape") else groups,
    }
