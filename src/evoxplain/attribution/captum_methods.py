"""LIME, KernelSHAP and Occlusion: Captum's implementations, queried through the BlackBox.

Each method hands Captum a forward function that sends every perturbed input through
:class:`~evoxplain.BlackBox` (so queries are batched, counted and budgeted) and returns the
explained score of the target (``fitness``, the probability by default, as for GEEX). Captum
builds ``batch_size`` perturbations per call (``perturbations_per_eval``). Features are grouped
into a regular grid of square superpixels shared by the channels (:mod:`.superpixels`); a row
``(D,)`` gives every feature its own group, unless ``groups`` says which features go together
(the one-hot columns of a category: :func:`~evoxplain.sampling.feature_groups`).

Queries per input (``Explanation.queries``, every input the model saw):

* ``LIME``: ``queries + 1`` (the prediction query, then ``queries`` random coalitions).
* ``KernelSHAP``: ``queries`` (its first coalition, the whole input, is the prediction query).
* ``Occlusion``: ``1 + windows`` (the input, then one query per window position).

Captum's LIME and KernelSHAP sample from torch's global RNG: each call runs inside
:func:`~.base.seeded_global_rng`, so it is seeded from ``seed`` and the global state is restored.
The surrogate models are scikit-learn's (``pip install 'evoxplain[sklearn]'``).

What the values mean: for LIME and KernelSHAP, a superpixel's coefficient shared equally by its
pixels and channels (a superpixel's values sum to its coefficient, so KernelSHAP's values sum to
about f(x) − f(x̊)); for Occlusion, Captum's: each input element gets the drop
f(x) − f(x with the window occluded), averaged over the windows that cover it.

Example:
    >>> from evoxplain.attribution.captum_methods import KernelSHAP
    >>> exp = KernelSHAP(model, queries=2000, superpixel=16, baseline="blur", seed=0).explain(image)
    >>> exp.values.shape, exp.queries, abs(float(exp.completeness_gap)) < 1e-6
    (torch.Size([3, 224, 224]), 2000, True)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from ..baseline import Baseline, make_baseline
from ..blackbox import BlackBox
from ..constraints import Integer, Optional, Pair, Real, check_all
from ..errors import InvalidInputError, require
from ..fitness import Fitness
from ..sampling import Groups, feature_groups
from .base import Explainer, seeded_global_rng
from .superpixels import default_cell, grid_mask, spread

SETTINGS = {
    "queries": Integer(low=2),
    "superpixel": Optional(Integer(low=1), hint="pixels per side"),
    "alpha": Real(low=0, hint="the Lasso penalty"),
    "kernel_width": Real(low=0, low_open=True),
    "window": Optional(Pair(Integer(low=1))),
    "stride": Optional(Pair(Integer(low=1))),
}


def _captum():
    return require("captum.attr", "baselines", "LIME, KernelSHAP, Occlusion and the white-box methods")


class _Scores:
    """Captum's forward function: the target's score of each input, asked of the BlackBox.

    ``known=(x, raw)`` answers a first call that starts with ``x`` from the prediction query
    already made (Captum's Occlusion and KernelSHAP begin with the unperturbed input).
    ``head`` keeps the scores of the first two inputs asked (KernelSHAP: x and the baseline).
    ``progress`` is told how many inputs each call sent (the explainer's progress bar).
    """

    def __init__(self, blackbox: BlackBox, fitness: Fitness, target: int, known=None, progress=None):
        self.blackbox, self.fitness, self.target = blackbox, fitness, target
        self.known = known
        self.progress = progress
        self.head = torch.empty(0)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        raw, reused = None, 0
        if self.known is not None:
            x, answer = self.known
            self.known = None
            if torch.equal(batch[0], x):
                raw = (
                    answer if len(batch) == 1 else torch.cat([answer, self.blackbox(batch[1:], batch_size=len(batch))])
                )
                reused = 1  # the prediction query answered the input
        if raw is None:
            raw = self.blackbox(batch, batch_size=len(batch))
        if self.progress is not None:
            self.progress(len(batch) - reused)
        scores = self.fitness(raw, self.target, self.blackbox.output)
        if len(self.head) < 2:
            self.head = torch.cat([self.head, scores[: 2 - len(self.head)].detach().cpu()])
        return scores


class _Surrogate(Explainer):
    """LIME and KernelSHAP: a surrogate linear model fitted on random superpixel coalitions."""

    starts_with_input = False

    def __init__(
        self,
        model: Any,
        *,
        queries: int = 1000,
        superpixel: int | None = None,
        groups: Groups | None = None,
        baseline: Baseline = 0.0,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        own = check_all(SETTINGS, queries=queries, superpixel=superpixel)
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed)
        if groups is not None and superpixel is not None:
            raise InvalidInputError("choose superpixel (a grid) or groups, not both")
        self.queries, self.superpixel, self.groups = own["queries"], own["superpixel"], groups
        self._params.update(queries=self.queries, superpixel=self.superpixel)

    def _feature_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Group ids of ``x``'s shape: ``groups``, else superpixels (one group per feature for a row)."""
        if self.groups is not None:
            return feature_groups(self.groups, tuple(x.shape)).to(x.device)
        cell = self.superpixel if self.superpixel is not None else default_cell(tuple(x.shape))
        if x.ndim >= 2 and cell > min(x.shape[-2:]):
            raise InvalidInputError(f"superpixel={cell} is larger than the image {tuple(x.shape[-2:])}")
        return grid_mask(tuple(x.shape), cell, x.device)

    def _check_input(self, x: torch.Tensor) -> None:
        self._feature_mask(x)

    def _captum_explainer(self, forward: _Scores):
        raise NotImplementedError

    def _check_fit(self, coefficients: torch.Tensor) -> None:
        """Warn about a degenerate surrogate (override)."""

    def _explain_one(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        bb = self.blackbox
        base = make_baseline(self.baseline, x)
        target, scores, raw = self._anchor(x[None], target)
        ids = self._feature_mask(x)
        known = (x, raw) if self.starts_with_input else None
        forward = _Scores(bb, self.fitness, target, known=known, progress=self._progress)
        explainer = self._captum_explainer(forward)
        with seeded_global_rng(seed, x.device):
            coefficients = explainer.attribute(
                x[None],
                baselines=base[None],
                feature_mask=ids[None],
                n_samples=self.queries,
                perturbations_per_eval=self.batch_size,
                return_input_shape=False,
            )
        self._check_fit(coefficients)
        result = {"values": spread(coefficients.float(), ids).cpu(), "target": target, "score": scores[0]}
        if self.starts_with_input:  # KernelSHAP's first two coalitions: the input and the baseline
            result["baseline_score"] = forward.head[1]
        return result


class LIME(_Surrogate):
    """LIME (Ribeiro et al. 2016) over square superpixels, with Captum's ``Lime``.

    Random coalitions switch each superpixel on (the input) or off (the baseline) with
    probability 1/2; a linear surrogate is fitted to the scores, weighted by an exponential
    kernel of the cosine distance to the input (Captum's defaults).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        queries: random coalitions (``n_samples``); one explanation costs ``queries + 1``.
        superpixel: the side of a square superpixel in pixels; None: a 14×14 grid (16 px at
            224, 2 px at 28). Ignored for rows ``(D,)``: each feature is its own group.
        groups: features switched on and off together instead of superpixels: blocks of feature
            indices (the one-hot columns of a category; every other feature alone) or one id per
            feature (:func:`~evoxplain.sampling.feature_groups`).
        baseline: what an "off" superpixel shows: a number, ``"mean"``, ``"blur"`` or a tensor.
        alpha: the surrogate's L1 penalty: 0 (default) fits weighted least squares
            (scikit-learn ``LinearRegression``); > 0 a ``Lasso``. Captum's default, 0.01, zeroes
            every coefficient whenever one superpixel moves the probability by less than about
            0.01 (a warning says so when it happens).
        kernel_width: width of the exponential similarity kernel on the cosine distance.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most inputs per model call; defaults to the BlackBox's.
        seed: seeds the coalitions; None draws one, recorded in ``params["seed"]``.

    Example:
        >>> exp = LIME(model, queries=1000, superpixel=4, seed=0).explain(digit)   # (1, 28, 28)
        >>> exp.queries
        1001
    """

    name = "LIME"

    def __init__(
        self,
        model: Any,
        *,
        queries: int = 1000,
        superpixel: int | None = None,
        groups: Groups | None = None,
        baseline: Baseline = 0.0,
        alpha: float = 0.0,
        kernel_width: float = 1.0,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        super().__init__(
            model,
            queries=queries,
            superpixel=superpixel,
            groups=groups,
            baseline=baseline,
            fitness=fitness,
            batch_size=batch_size,
            seed=seed,
        )
        own = check_all(SETTINGS, alpha=alpha, kernel_width=kernel_width)
        self.alpha, self.kernel_width = own["alpha"], own["kernel_width"]
        self._params.update(alpha=self.alpha, kernel_width=self.kernel_width)

    def cost(self, x: torch.Tensor) -> int:
        return self.queries + 1

    def _check_fit(self, coefficients: torch.Tensor) -> None:
        if self.alpha > 0 and not bool(coefficients.any()):
            warnings.warn(
                f"LIME's Lasso surrogate (alpha={self.alpha}) set every coefficient to 0: the scores vary "
                "less than the penalty. Lower alpha (0 fits plain weighted least squares)",
                stacklevel=4,
            )

    def _captum_explainer(self, forward: _Scores):
        captum = _captum()
        require("sklearn", "sklearn", "LIME's surrogate model")
        from captum._utils.models.linear_model import (
            SkLearnLasso,
            SkLearnLinearRegression,
        )
        from captum.attr._core.lime import get_exp_kernel_similarity_function

        surrogate = SkLearnLasso(alpha=self.alpha) if self.alpha > 0 else SkLearnLinearRegression()
        similarity = get_exp_kernel_similarity_function("cosine", self.kernel_width)
        return captum.Lime(forward, interpretable_model=surrogate, similarity_func=similarity)


class KernelSHAP(_Surrogate):
    """Kernel SHAP (Lundberg & Lee 2017) over square superpixels, with Captum's ``KernelShap``.

    Coalitions are drawn with the Shapley kernel's size distribution; the whole input and the
    baseline come first (weighted heavily), so the values sum to about f(x) − f(x̊)
    (``Explanation.completeness_gap``).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        queries: coalitions (``n_samples``, at least 2); one explanation costs exactly
            ``queries`` (the first coalition is the input, answered by the prediction query).
        superpixel, groups: as for :class:`LIME`.
        baseline: what an "off" superpixel shows: a number, ``"mean"``, ``"blur"`` or a tensor.
        fitness, batch_size, seed: as for :class:`LIME`.

    Example:
        >>> exp = KernelSHAP(model, queries=5000, superpixel=16, baseline="blur", seed=0).explain(image)
        >>> float(exp.totals - (exp.score - exp.baseline_score)) < 1e-6   # efficiency: they sum to f(x) − f(x̊)
        True
    """

    name = "KernelSHAP"
    starts_with_input = True

    def cost(self, x: torch.Tensor) -> int:
        return self.queries

    def _captum_explainer(self, forward: _Scores):
        captum = _captum()
        require("sklearn", "sklearn", "KernelSHAP's surrogate model")
        return captum.KernelShap(forward)


class Occlusion(Explainer):
    """Occlusion (Zeiler & Fergus 2014) with Captum's ``Occlusion``: slide a window of baseline.

    Each element's value is the drop f(x) − f(x with the window occluded), averaged over the
    windows that cover it. Windows span all channels; a row ``(D,)`` is occluded along its one
    axis. Deterministic (``seed`` is accepted for a uniform interface and unused).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        window: the window's side (an int or ``(h, w)``); None: about 1/14 of the image side
            (16 at 224 px, 2 at 28 px), 1 for rows.
        stride: the step between windows (int or ``(h, w)``, at most the window); None: half the
            window (at least 1).
        baseline: what occluded pixels show: a number, ``"mean"``, ``"blur"`` or a tensor.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most inputs per model call; defaults to the BlackBox's.

    One explanation costs ``1 + windows`` queries, ``windows = Π_axes (ceil((size − window) /
    stride) + 1)``: 729 for 16/8 on 224×224.

    Example:
        >>> exp = Occlusion(model, window=16, stride=8, baseline="blur").explain(image)
        >>> exp.queries
        730
    """

    name = "Occlusion"

    def __init__(
        self,
        model: Any,
        *,
        window: int | tuple[int, int] | None = None,
        stride: int | tuple[int, int] | None = None,
        baseline: Baseline = 0.0,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        own = check_all(SETTINGS, window=window, stride=stride)
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed)
        self.window, self.stride = own["window"], own["stride"]
        self._params.update(window=self.window, stride=self.stride)

    def _geometry(self, x: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Window, strides and shift counts over all of ``x``'s axes (Captum's shapes)."""
        spatial = tuple(x.shape[-2:]) if x.ndim >= 2 else tuple(x.shape)
        if self.window is not None:
            window = self.window[-len(spatial) :]
        else:
            window = (default_cell(tuple(x.shape)),) * len(spatial)
        if self.stride is not None:
            stride = self.stride[-len(spatial) :]
        else:
            stride = tuple(max(1, w // 2) for w in window)
        if any(w > s for w, s in zip(window, spatial)):
            raise InvalidInputError(f"window {window} is larger than the input's {spatial}")
        if any(s > w for s, w in zip(stride, window)):
            raise InvalidInputError(f"stride {stride} must not exceed the window {window} (pixels would be skipped)")
        counts = tuple(math.ceil((s - w) / t) + 1 for s, w, t in zip(spatial, window, stride))
        lead = tuple(x.shape[:-2]) if x.ndim >= 2 else ()
        return lead + window, (1,) * len(lead) + stride, counts

    def cost(self, x: torch.Tensor) -> int:
        return 1 + math.prod(self._geometry(x)[2])

    def _check_input(self, x: torch.Tensor) -> None:
        self._geometry(x)

    def _explain_one(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        base = make_baseline(self.baseline, x)
        target, scores, raw = self._anchor(x[None], target)
        window, strides, _ = self._geometry(x)
        forward = _Scores(self.blackbox, self.fitness, target, known=(x, raw), progress=self._progress)
        values = (
            _captum()
            .Occlusion(forward)
            .attribute(
                x[None],
                sliding_window_shapes=window,
                strides=strides,
                baselines=base[None],
                perturbations_per_eval=self.batch_size,
            )
        )
        return {"values": values[0].float().cpu(), "target": target, "score": scores[0]}
