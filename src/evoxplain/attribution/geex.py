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
  masks (G = 1) or groups of features masked together (``groups``: G = the size of each
  feature's group, which shares its group's value evenly), up to the smoothing of the values
  where resized or smoothed masks are correlated
  (G = the sampler's ``bernoulli_gain``, their mean correlation area). A mask shared by the
  channels of a pixel gives the pixel's value, split over its channels in proportion to |x − x̊|.
  Text is always explained this way, one mask entry per token.
* bGEEX with ``estimator="regression"``: the same expectation, from a least-squares fit of the
  pairs' score differences on the masks' cells (crisp cells: nearest-neighbour resizing); exact
  for a model linear in the cells, and far less noisy where many cells matter
  (:mod:`.cell_regression`).
* Every estimate comes with its standard error (``Explanation.stderr``), from the same pairs
  (:mod:`.pair_mean` for the mean estimators, :mod:`.cell_regression` for the regression).
* The variants are built from parts (:mod:`.perturbations`), so an invalid combination of the
  keywords is refused when the explainer is made.

Steps and memory: an explanation is a step generator (:meth:`Explainer.explain_steps
<.base.Explainer.explain_steps>`). Noise is drawn in blocks of 32 mirrored pairs (fewer for
inputs of over 2**19 values: :func:`pairs_per_block`), each block's signs, normals and path
positions in turn from the one generator, so the noise never depends on ``batch_size``; the values
do only through float rounding (the order of the sums, and which queries share a model call): one
seed and one batch size give the same values bit for bit. A step sends the queries of as many
whole blocks as fit in ``batch_size`` and holds about four copies of them (the queries, the
directions, the noise or masks: :meth:`GEEX.step_bytes`). If ``batch_size`` is below one block's
queries (64), a step is one block sent in several model calls, and holds one block: at most
2**24 noise values (64 MiB) in four copies, whatever the batch size. An input whose step does
not fit in the free memory is refused before the first query, with the figure and the fix.

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

import torch

from ..baseline import Baseline, make_baseline
from ..constraints import Boolean, Integer, OneOf, Optional, Real, check_all
from ..errors import InvalidInputError
from ..orthogonal import DESIGNS, OrthogonalSigns
from ..sampling import Groups, NoiseSampler
from .base import Explainer, Steps
from .cell_regression import CellRegression
from .pair_mean import PairMean
from .perturbations import BernoulliMasks, Layout, Perturbation, describe, perturbation_from

BLOCK = 32
"""Mirrored pairs drawn per noise block (fewer for inputs of over 2**19 values: :func:`pairs_per_block`)."""
BLOCK_VALUES = 2**24
"""The most noise values one block draws (64 MiB in float32): what bounds a block of a large input."""

SETTINGS = {
    "queries": Integer(low=2, even=True, hint="queries come in mirrored pairs"),
    "sigma": Real(low=0, low_open=True, hint="the search radius"),
    "integrated": Boolean(),
    "mask_interpolation": Optional(OneOf("bilinear", "nearest")),
    "distribution": OneOf("gaussian", "bernoulli"),
    "estimator": OneOf("mean", "regression"),
    "design": OneOf(*DESIGNS, hint="orthogonal: blocks of orthogonal signs, same distribution per query"),
}
"""What GEEX's own settings may be (the parts check the rest: :mod:`.perturbations`)."""

_TOKEN = re.compile(r"\S+")


def pairs_per_block(values: int) -> int:
    """Mirrored pairs drawn per noise block for an input of ``values`` elements: :data:`BLOCK`
    up to 2**19 values (3×418×418), fewer beyond, so that a block's noise holds at most
    :data:`BLOCK_VALUES`.

    Example:
        >>> pairs_per_block(3 * 224 * 224), pairs_per_block(3 * 4000 * 3000)
        (32, 1)
    """
    return max(1, min(BLOCK, BLOCK_VALUES // values))


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
        groups: features present or absent together (Bernoulli masks): blocks of feature indices,
            such as the one-hot columns of each category (``[[3, 4, 5], [6, 7]]``; every other
            feature alone), or one group id per feature (:func:`~evoxplain.sampling.feature_groups`).
            A group's value is shared evenly by its features, so they sum to it.
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
    stepwise = True

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
        groups: Groups | None = None,
        distribution: Literal["gaussian", "bernoulli"] = "gaussian",
        estimator: Literal["mean", "regression"] = "mean",
        design: Literal["random", "orthogonal"] = "random",
        fitness: str = "prob",
        shared_mask: bool | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool = False,
    ):
        own = check_all(
            SETTINGS, queries=queries, sigma=sigma, integrated=integrated, mask_interpolation=mask_interpolation,
            distribution=distribution, estimator=estimator, design=design,
        )  # fmt: skip
        if groups is not None and own["distribution"] != "bernoulli":
            raise InvalidInputError(
                "groups mask features together, present or absent: use them with distribution='bernoulli' "
                "(Gaussian noise moves each feature on its own; sum its values over a group instead)"
            )
        interpolation = own["mask_interpolation"] or ("nearest" if own["estimator"] == "regression" else "bilinear")
        self.perturbation: Perturbation = perturbation_from(
            distribution=own["distribution"],
            sigma=own["sigma"],
            layout=Layout(mask_size=mask_size, interpolation=interpolation, smoothing=smoothing, groups=groups),
            estimator=own["estimator"],
            shared=shared_mask,
        )
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed, progress=progress)
        self.queries, self.sigma = own["queries"], own["sigma"]
        self.integrated, self.design = own["integrated"], own["design"]
        self._params.update(queries=self.queries, sigma=self.sigma, integrated=self.integrated)
        self._params.update(describe(self.perturbation), design=self.design)
        self._samplers: dict[tuple[int, ...], NoiseSampler] = {}

    # the parts, as the keywords that made them
    distribution = property(lambda self: self.perturbation.distribution)
    estimator = property(lambda self: self.perturbation.estimator)
    mask_size = property(lambda self: self.perturbation.layout.mask_size)
    mask_interpolation = property(lambda self: self.perturbation.layout.interpolation)
    smoothing = property(lambda self: self.perturbation.layout.smoothing)
    shared_mask = property(lambda self: self.perturbation.shared)
    groups = property(lambda self: self.perturbation.layout.groups)

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

    def step_bytes(self, x: torch.Tensor) -> int:
        """A step holds its queries (two per pair), the pairs' directions and their noise or masks."""
        pairs = self._pairs_per_step(x.numel())
        return 4 * pairs * x.numel() * x.element_size()

    # -- one input: steps -------------------------------------------------------------------

    def _steps(self, x: torch.Tensor | str, target: int | None, seed: int) -> Steps:
        if isinstance(x, str):
            return self._text_steps(x, target, seed)
        return self._tensor_steps(x, target, seed)

    def _tensor_steps(self, x: torch.Tensor, target: int | None, seed: int) -> Steps:
        p, device = self.perturbation, self.blackbox.device
        generator = torch.Generator(device=device).manual_seed(seed)
        base = make_baseline(self.baseline, x)
        self._check_sigma(x, base)
        delta = x - base
        sampler = self._sampler(tuple(x.shape), p.shared_for(x))
        estimate = p.estimate(
            sampler=sampler, x=x, delta=delta, integrated=self.integrated
        )  # a regression of too many cells is refused here
        anchors = torch.stack([x, base]) if self.integrated or isinstance(p, BernoulliMasks) else x[None]
        target, scores = self._read_anchor((yield from self._ask(anchors)), target)
        design = OrthogonalSigns(sampler.dimensions, generator) if self.design == "orthogonal" else None
        pairs, values = self.queries // 2, x.numel()
        per_step = self._pairs_per_step(values)
        for first in range(0, pairs, per_step):
            count = min(per_step, pairs - first)
            cells, d, alpha = self._draw(
                sampler=sampler, generator=generator, design=design, pairs=(first, count), keep_cells=p.needs_cells
            )
            alpha = alpha.view(-1, *([1] * x.ndim))
            queries, directions = p.queries(d=d, x=x, base=base, delta=delta, alpha=alpha, integrated=self.integrated)
            del d  # the directions live on in `directions` (Gaussian) or are done with (masks)
            f = self.fitness((yield from self._ask(queries)), target, self.blackbox.output)
            del queries
            estimate.add(cells=cells, directions=directions, alpha=alpha, diff=f[:count] - f[count:])
            del directions
        values, stderr = estimate.result()
        return {
            "values": values.cpu(),
            "stderr": stderr.cpu(),
            "target": target,
            "score": scores[0],
            "baseline_score": scores[1] if len(scores) > 1 else None,
        }

    def _text_steps(self, text: str, target: int | None, seed: int) -> Steps:
        if self.perturbation.layout.groups is not None:
            raise InvalidInputError("groups are for tensors of features; text is masked token by token")
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
        n_tokens, device = len(tokens), self.blackbox.device
        anchors = compose(torch.tensor([[True] * n_tokens, [False] * n_tokens]))
        target, scores = self._read_anchor((yield from self._ask(anchors)), target)
        pairs = self.queries // 2
        fit = CellRegression(n_tokens, device) if self.estimator == "regression" else None
        sums = PairMean(n_tokens, device) if fit is None else None
        design = OrthogonalSigns(n_tokens, generator) if self.design == "orthogonal" else None
        for start in range(0, pairs, BLOCK):
            count = min(BLOCK, pairs - start)
            keep = design.draw(count) > 0 if design else torch.rand((count, n_tokens), generator=generator) < 0.5
            answers = yield from self._ask(compose(keep) + compose(~keep))
            f = self.fitness(answers, target, self.blackbox.output)
            diff = f[: len(keep)] - f[len(keep) :]
            signs = 2 * keep.to(diff) - 1
            if fit is not None:
                fit.add(signs, torch.ones(len(keep)), diff)
            else:
                sums.add(diff, signs, torch.ones_like(diff))
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
            self._samplers[key] = self.perturbation.layout.sampler(shape, shared, self.blackbox.device)
        return self._samplers[key]

    def _pairs_per_step(self, values: int) -> int:
        """Pairs in one step: whole blocks that fit the batch size, at least one block."""
        block = pairs_per_block(values)
        return max(block, self.batch_size // 2 // block * block)

    def _draw(
        self,
        sampler: NoiseSampler,
        generator: torch.Generator,
        design: OrthogonalSigns | None,
        pairs: tuple[int, int],
        keep_cells: bool,
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """The noise of one step, pairs ``first .. first + count``: ``(cells, directions, alphas)``.

        Block after block of :func:`pairs_per_block` pairs, each draws from the one generator, in
        this order, the design's signs, its low-dimensional normals and its pairs' uniforms (their
        path positions, stratified over all the explanation's pairs): the noise does not depend
        on ``batch_size``, which only says how many whole blocks a step takes.
        """
        (first, count), total = pairs, self.queries // 2
        block = pairs_per_block(math.prod(sampler.shape))
        directions = torch.empty((count, *sampler.shape), device=sampler.device)
        cells, alphas = [], []
        for start in range(first, first + count, block):
            size = min(block, total - start)
            z, d = sampler.sample_with_cells(size, generator, design)
            directions[start - first : start - first + size] = d
            del d
            if keep_cells:
                cells.append(z)
            uniform = torch.rand(size, generator=generator, device=sampler.device)
            index = torch.arange(start, start + size, device=sampler.device)
            alphas.append((index + uniform) / total if self.integrated else torch.ones_like(uniform))
        return (torch.cat(cells) if keep_cells else None), directions, torch.cat(alphas)

    def _check_sigma(self, x: torch.Tensor, base: torch.Tensor) -> None:
        """Refuse a Gaussian σ too small to move the input's values in float32 (all-zero values)."""
        if self.distribution != "gaussian":
            return
        scale = torch.maximum(x.abs().amax(), base.abs().amax()).to(torch.float32)
        if bool(scale + self.sigma == scale) and float(scale) > 0:
            raise InvalidInputError(
                f"sigma={self.sigma:g} is below the float32 resolution of the input (values up to {float(scale):.3g} "
                f"do not move by it): every query would equal its centre and the values would all be 0. Raise sigma "
                f"(about 0.1-0.2 of the input's range)"
            )

    def _memory_fix(self, x: torch.Tensor) -> str:
        smallest = 2 * pairs_per_block(x.numel())
        if self.batch_size > smallest:
            return f"lower batch_size (to {smallest} at the least), or explain a smaller input"
        return "explain a smaller input (resize the image)"

    def _nonfinite_cause(self, peak: torch.Tensor) -> str:
        if self.distribution == "gaussian" and self._params.get("fitness") == "prob":
            return f"sigma={self.sigma:g} is too small for the model's scores to be told apart; raise sigma"
        return super()._nonfinite_cause(peak)
