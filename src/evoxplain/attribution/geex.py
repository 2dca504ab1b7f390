"""GE and GEEX: attributions from gradients estimated by natural evolution strategies.

Notation: explicand x, baseline x̊, score f (the target probability by default),
search radius σ, n queries drawn as n/2 mirrored pairs.

* GE (``integrated=False``): η = 1/n Σ_pairs (f(x+σd) − f(x−σd)) · d / σ, the gradient of the
  Gaussian-smoothed score.
* GEEX / iGEEX (``integrated=True``): one α per pair, stratified in [0, 1], queries
  x̊ + α(x − x̊) ± σd; ξ = (x − x̊) ⊙ η̄ with η̄ the estimate averaged along the path: integrated
  gradients with estimated gradients (complete, sensitive, insensitive, implementation
  invariant and linear, in expectation).
* Directions d are plain Gaussian, resized (``mask_size``, "GERS") or smoothed (``smoothing``)
  noise; the estimate is divided by the sampler's gain T Tᵀ 1 so gradients that are smooth at the
  mask's scale keep their size (see :mod:`evoxplain.sampling`).
* bGEEX (``distribution="bernoulli"``): masks b ∈ {0, 1} (noise thresholded at 0), mirror 1 − b,
  queries b ⊙ x(α) + (1 − b) ⊙ x̊ with x(α) = x̊ + α(x − x̊). ξ = Σ f(z)(2b − 1) / (G Σ_pairs α), scaled
  so that a model linear in the features is complete in expectation: exactly with uncorrelated
  masks (G = 1), up to the smoothing of the values where resized or smoothed masks are correlated
  (G = the sampler's ``bernoulli_gain``, their mean correlation area). A mask shared by the
  channels of a pixel gives the pixel's value, split over its channels in proportion to |x − x̊|.
  Text is always explained this way, one mask entry per token.
* bGEEX with ``estimator="regression"``: the same expectation, from a least-squares fit of the
  pairs' score differences on the masks' cells (crisp cells: nearest-neighbour resizing); exact
  for a model linear in the cells, and far less noisy where many cells matter
  (:mod:`.cell_regression`).
* Every estimate comes with its standard error (``Explanation.stderr``), from the same pairs
  (:mod:`.pair_mean` for the mean estimators, :mod:`.cell_regression` for the regression).

Example:
    >>> from evoxplain import GEEX
    >>> explainer = GEEX(model, queries=2000, sigma=0.2, mask_size=(14, 14), seed=0)
    >>> exp = explainer.explain(image)            # (3, 224, 224) -> values (3, 224, 224)
    >>> exp.queries, exp.stderr.shape             # 2000 perturbations, the prediction and f(baseline)
    (2002, torch.Size([3, 224, 224]))
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np
import torch

from ..baseline import Baseline, make_baseline
from ..errors import InvalidInputError
from ..orthogonal import OrthogonalSigns, check_design
from ..sampling import NoiseSampler, _pair, _smoothing, bernoulli, make_sampler
from .base import Explainer
from .cell_regression import CellRegression
from .pair_mean import PairMean

BLOCK = 32
"""Mirrored pairs drawn per noise block: results do not depend on ``batch_size``."""

_TOKEN = re.compile(r"\S+")


class GEEX(Explainer):
    """Gradient-estimation explainer: GE, GEEX/iGEEX, mask resizing and smoothing, bGEEX.

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        queries: perturbed inputs per explanation (an even number: mirrored pairs). Each
            explanation also sends the input (and the baseline, if integrated or text) once.
        sigma: the search radius σ, in input units (Gaussian noise; unused by Bernoulli masks).
        baseline: x̊: a number, ``"mean"``, ``"blur"`` or a tensor; for text, a string that
            replaces absent tokens (any other value drops them).
        integrated: GEEX along the path from the baseline (True) or GE at x (False).
        mask_size: ``(h, w)``: draw noise at this size and upsample it (GERS).
        mask_interpolation: how resized noise is upsampled: ``"bilinear"`` (the default) or
            ``"nearest"`` (crisp square cells; the default with ``estimator="regression"``).
        smoothing: ``(kernel_size, sigma)``: Gaussian-filter full-size noise (unit variance kept).
        distribution: ``"gaussian"`` or ``"bernoulli"`` (present/absent masks).
        estimator: for Bernoulli masks and text, ``"mean"`` (the paper's Σ f(z)(2b − 1) / (G Σ α))
            or ``"regression"`` (least squares on the cells, same expectation, lower variance;
            needs crisp cells and at most 4096 of them).
        design: ``"random"`` (independent directions) or ``"orthogonal"``: the directions' signs
            come in orthogonal blocks (:mod:`evoxplain.orthogonal`), each query drawn from the same
            distribution as before, so the estimate keeps its expectation with less variance.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        shared_mask: one mask for all channels of an image; default True for Bernoulli masks,
            False for Gaussian noise. A shared Gaussian mask moves the channels of a pixel together:
            it estimates the gradient summed over the channels, so integrated values are complete
            only where the channels' gradients agree (a model of colour contrasts gets ≈ 0).
        batch_size: the most inputs per model call (memory is bounded by it); defaults to the
            BlackBox's.
        seed: the seed of the per-call random generator; None draws a fresh one, recorded in
            ``Explanation.params["seed"]``.
        progress: show a progress bar of the queries.
    """

    name = "GEEX"
    text = True

    def __init__(
        self,
        model: Any,
        *,
        queries: int = 2000,
        sigma: float = 0.2,
        baseline: Baseline = 0.0,
        integrated: bool = True,
        mask_size: int | tuple[int, int] | None = None,
        mask_interpolation: Literal["bilinear", "nearest"] | None = None,
        smoothing: tuple[int, float] | None = None,
        distribution: Literal["gaussian", "bernoulli"] = "gaussian",
        estimator: Literal["mean", "regression"] = "mean",
        design: Literal["random", "orthogonal"] = "random",
        fitness: str = "prob",
        shared_mask: bool | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool = False,
    ):
        if isinstance(queries, bool) or not isinstance(queries, (int, np.integer)) or queries < 2 or queries % 2:
            raise InvalidInputError(
                f"queries must be an even integer >= 2 (queries come in mirrored pairs), not {queries!r}"
            )
        if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
            raise InvalidInputError(f"sigma must be a positive number (the search radius), not {sigma!r}")
        if distribution not in ("gaussian", "bernoulli"):
            raise InvalidInputError(f"distribution must be 'gaussian' or 'bernoulli', not {distribution!r}")
        if estimator not in ("mean", "regression"):
            raise InvalidInputError(f"estimator must be 'mean' or 'regression', not {estimator!r}")
        if mask_interpolation not in (None, "bilinear", "nearest"):
            raise InvalidInputError(f"mask_interpolation must be 'bilinear' or 'nearest', not {mask_interpolation!r}")
        if estimator == "regression" and (smoothing is not None or mask_interpolation == "bilinear"):
            raise InvalidInputError(
                "estimator='regression' needs crisp mask cells: leave smoothing unset and use "
                "mask_interpolation='nearest' (its default)"
            )
        check_design(design)
        if mask_size is not None:
            mask_size = _pair(mask_size, "mask_size")
        if smoothing is not None:
            smoothing = _smoothing(smoothing)
        if mask_size is not None and smoothing is not None:
            raise InvalidInputError("choose mask_size (resizing) or smoothing, not both")
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed, progress=progress)
        self.queries = int(queries)
        self.sigma = float(sigma)
        self.integrated = bool(integrated)
        self.mask_size = mask_size
        self.mask_interpolation = mask_interpolation or ("nearest" if estimator == "regression" else "bilinear")
        self.smoothing = smoothing
        self.distribution = distribution
        self.estimator = estimator
        self.design = design
        self.shared_mask = shared_mask
        self._params.update(
            queries=self.queries,
            sigma=self.sigma,
            integrated=self.integrated,
            mask_size=mask_size,
            mask_interpolation=self.mask_interpolation,
            smoothing=smoothing,
            distribution=distribution,
            estimator=estimator,
            design=design,
            shared_mask=shared_mask,
        )
        self._samplers: dict[tuple[int, ...], NoiseSampler] = {}

    @property
    def method(self) -> str:
        kind = "GEEX" if self.integrated else "GE"
        return f"b{kind}" if self.distribution == "bernoulli" else kind

    def cost(self, x: Any = None) -> int:
        """Queries one explanation of ``x`` sends: the perturbations, the input, and the baseline
        (unless GE, whose Gaussian noise never reaches the baseline: its values have no total to
        check)."""
        with_baseline = self.integrated or self.distribution == "bernoulli" or isinstance(x, str)
        return self.queries + (2 if with_baseline else 1)

    # -- one input --------------------------------------------------------------------------

    def _explain_one(self, x: torch.Tensor | str, target: int | None, seed: int) -> dict[str, Any]:
        if isinstance(x, str):
            return self._explain_text(x, target, seed)
        return self._explain_tensor(x, target, seed)

    def _explain_tensor(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        bernoulli_masks = self.distribution == "bernoulli"
        if self.estimator == "regression" and not bernoulli_masks:
            raise InvalidInputError(
                "estimator='regression' fits the cells of Bernoulli masks: use it with distribution='bernoulli' "
                "(text is always explained with them)"
            )
        bb, device = self.blackbox, self.blackbox.device
        generator = torch.Generator(device=device).manual_seed(seed)
        base = make_baseline(self.baseline, x)
        anchors = torch.stack([x, base]) if self.integrated or bernoulli_masks else x[None]
        target, scores, _ = self._anchor(anchors, target)
        delta = x - base
        shared = self.shared_mask if self.shared_mask is not None else (bernoulli_masks and x.ndim >= 3)
        sampler = self._sampler(tuple(x.shape), shared)
        fit = CellRegression(sampler.dimensions, device) if self.estimator == "regression" else None
        sums = PairMean(x.numel(), device) if fit is None else None
        pairs = self.queries // 2
        design = OrthogonalSigns(sampler.dimensions, generator) if self.design == "orthogonal" else None
        for z, d, alpha in self._blocks(sampler, pairs, generator, design):
            alpha = alpha.view(-1, *([1] * x.ndim))
            if bernoulli_masks:
                masks = bernoulli(d)
                step = alpha * delta
                plus, minus = base + masks * step, base + (1 - masks) * step
            else:
                center = base + alpha * delta if self.integrated else x.expand_as(d)
                plus, minus = center + self.sigma * d, center - self.sigma * d
            f = self.fitness(bb(torch.cat([plus, minus]), batch_size=self.batch_size), target, bb.output)
            diff = f[: len(d)] - f[len(d) :]
            if fit is not None:  # the cells' own masks: no full-size sign tensor is built
                fit.add(2 * bernoulli(z).reshape(len(z), -1) - 1, alpha, diff)
            else:  # the mean estimators: Bernoulli pairs weighted by α, Gaussian ones not (α moves the centre)
                directions = 2 * masks - 1 if bernoulli_masks else d
                sums.add(diff, directions.reshape(len(d), -1), alpha if bernoulli_masks else torch.ones_like(alpha))
            self._progress(2 * len(d))
        if fit is not None:
            pixels = sampler.footprint / (x[..., 0, 0].numel() if shared else 1)

            def to_pixels(per_cell: torch.Tensor) -> torch.Tensor:  # spread evenly (then over channels, below)
                return sampler.transform((per_cell.to(x.dtype).view_as(pixels) / pixels)[None])[0]

            cells = fit.solve()
            values, stderr = to_pixels(cells), to_pixels(fit.stderr(cells))
        elif bernoulli_masks:  # divided by the masks' correlation area, as the Gaussian estimate by its gain
            values = sums.total.view_as(x) / sums.alpha_total / sampler.bernoulli_gain
            stderr = sums.stderr().view_as(x) / sampler.bernoulli_gain
        else:
            gradient = sums.total.view_as(x) / (2 * pairs * self.sigma) / sampler.gain
            gradient_stderr = sums.stderr().view_as(x) / (2 * self.sigma) / sampler.gain
            values = delta * gradient if self.integrated else gradient
            stderr = delta.abs() * gradient_stderr if self.integrated else gradient_stderr
        if bernoulli_masks and shared:
            weight = delta.abs().reshape(-1, *x.shape[-2:])
            weight = weight / weight.sum(dim=0, keepdim=True).clamp_min(1e-30)
            values, stderr = values * weight.view_as(x), stderr * weight.view_as(x)
        return {
            "values": values.cpu(),
            "stderr": stderr.cpu(),
            "target": target,
            "score": scores[0],
            "baseline_score": scores[1] if len(scores) > 1 else None,
        }

    def _explain_text(self, text: str, target: int | None, seed: int) -> dict[str, Any]:
        tokens = _TOKEN.findall(text)
        if not tokens:
            raise InvalidInputError("the text to explain has no tokens (it is empty or whitespace)")
        filler = self.baseline if isinstance(self.baseline, str) and self.baseline not in ("mean", "blur") else None

        def compose(keep_rows: torch.Tensor) -> list[str]:
            rows = keep_rows.tolist()
            if filler is None:
                return [" ".join(t for t, keep in zip(tokens, row) if keep) for row in rows]
            return [" ".join(t if keep else filler for t, keep in zip(tokens, row)) for row in rows]

        generator = torch.Generator().manual_seed(seed)
        n_tokens = len(tokens)
        anchors = compose(torch.tensor([[True] * n_tokens, [False] * n_tokens]))
        target, scores, _ = self._anchor(anchors, target)
        pairs = self.queries // 2
        fit = CellRegression(n_tokens, self.blackbox.device) if self.estimator == "regression" else None
        sums = PairMean(n_tokens, self.blackbox.device) if fit is None else None
        design = OrthogonalSigns(n_tokens, generator) if self.design == "orthogonal" else None
        for start in range(0, pairs, BLOCK):
            count = min(BLOCK, pairs - start)
            keep = design.draw(count) > 0 if design else torch.rand((count, n_tokens), generator=generator) < 0.5
            answers = self.blackbox(compose(keep) + compose(~keep), batch_size=self.batch_size)
            f = self.fitness(answers, target, self.blackbox.output)
            diff = f[: len(keep)] - f[len(keep) :]
            signs = 2 * keep.to(diff) - 1
            if fit is not None:
                fit.add(signs, torch.ones(len(keep)), diff)
            else:
                sums.add(diff, signs, torch.ones_like(diff))
            self._progress(2 * len(keep))
        if fit is not None:
            values = fit.solve()
            values, stderr = values.float(), fit.stderr(values).float()
        else:
            values, stderr = sums.total / sums.alpha_total, sums.stderr()
        return {
            "values": values.cpu(),
            "stderr": stderr.cpu(),
            "target": target,
            "score": scores[0],
            "baseline_score": scores[1],
            "tokens": tokens,
        }

    # -- helpers ----------------------------------------------------------------------------

    def _sampler(self, shape: tuple[int, ...], shared: bool) -> NoiseSampler:
        key = (*shape, shared)
        if key not in self._samplers:
            self._samplers[key] = make_sampler(
                shape,
                mask_size=self.mask_size,
                interpolation=self.mask_interpolation,
                smoothing=self.smoothing,
                shared=shared,
                device=self.blackbox.device,
            )
        return self._samplers[key]

    def _blocks(self, sampler: NoiseSampler, pairs: int, generator: torch.Generator, design: OrthogonalSigns | None):
        """Yield ``(cells, directions, alphas)`` steps of whole noise blocks within the batch size."""
        per_step = max(BLOCK, self.batch_size // 2 // BLOCK * BLOCK)
        for first in range(0, pairs, per_step):
            cells, directions, alphas = [], [], []
            for start in range(first, min(first + per_step, pairs), BLOCK):
                count = min(BLOCK, pairs - start)
                z, d = sampler.sample_with_cells(count, generator, design)
                cells.append(z)
                directions.append(d)
                uniform = torch.rand(count, generator=generator, device=sampler.device)
                index = torch.arange(start, start + count, device=sampler.device)
                alphas.append((index + uniform) / pairs if self.integrated else torch.ones_like(uniform))
            yield torch.cat(cells), torch.cat(directions), torch.cat(alphas)
