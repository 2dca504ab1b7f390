"""Explanation quality: AOPC by deletion and insertion, fidelity to the gradient, axioms.

Scores point the same way everywhere: **higher is better**.

- :func:`aopc_deletion` (MoRF): remove the most important pixels first; a good attribution makes
  the explained probability fall fast. Score ``1 − mean(curve) / curve[0]``.
- :func:`aopc_insertion`: start from the replacement and put the most important pixels back
  first; a good attribution makes the probability rise fast. Score ``mean(curve) / curve[-1]``.
- :func:`gradient_fidelity`: cosine between an estimated and the true gradient, per instance.
- :func:`completeness_error`, :func:`ignored_feature_share`: attribution axioms, numerically.

Example:
    >>> from evoxplain import GEEX
    >>> from evoxplain.metrics import aopc_deletion
    >>> explanation = GEEX(model, queries=1000, seed=0).explain(digits)
    >>> result = aopc_deletion(model, digits, explanation, replacement=0.0, stride=10)
    >>> result.per_instance.shape, result.curves.shape    # 0, 10, ..., 780, 784 pixels removed
    (torch.Size([2]), torch.Size([2, 80]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .baseline import gaussian_blur
from .blackbox import BATCH_SIZE, BlackBox, as_blackbox
from .constraints import Integer
from .errors import InvalidInputError
from .explanation import Explanation

Attributions = torch.Tensor | np.ndarray | Explanation | Sequence[Explanation]
Replacement = float | int | str | torch.Tensor

__all__ = [
    "AOPCResult",
    "aopc_deletion",
    "aopc_insertion",
    "normalised_aopc",
    "completeness_error",
    "gradient_fidelity",
    "ignored_feature_share",
]


@dataclass
class AOPCResult:
    """The outcome of :func:`aopc_deletion` or :func:`aopc_insertion`.

    Attributes:
        kind: ``"deletion"`` or ``"insertion"``.
        score: the normalised AOPC of the instance-averaged curve (higher is better).
        curves: ``(N, S)`` probability of each instance's target class after each step.
        per_instance: ``(N,)`` the same score computed from each instance's own curve.
        steps: ``(S,)`` pixels replaced (deletion) or inserted (insertion) at each step:
            ``0, stride, 2·stride, …, H·W``.
        fractions: ``(S,)`` ``steps / (H·W)``.
        targets: ``(N,)`` the class whose probability was recorded.
        queries: the inputs sent to the model (``N · S``).
    """

    kind: Literal["deletion", "insertion"]
    score: float
    curves: torch.Tensor
    per_instance: torch.Tensor
    steps: torch.Tensor
    fractions: torch.Tensor
    targets: torch.Tensor
    queries: int

    @property
    def mean_curve(self) -> torch.Tensor:
        """The instance-averaged curve ``(S,)`` the score is computed from."""
        return self.curves.mean(dim=0)

    def __repr__(self) -> str:
        n, s = self.curves.shape
        return f"AOPCResult({self.kind}, score={self.score:.4f}, instances={n}, steps={s}, queries={self.queries})"


def aopc_deletion(
    model: Any,
    inputs: torch.Tensor | np.ndarray,
    attributions: Attributions,
    *,
    replacement: Replacement = 0.0,
    stride: int = 10,
    target: int | Sequence[int] | torch.Tensor | None = None,
    batch_size: int | None = None,
) -> AOPCResult:
    """AOPC by deletion (most relevant first), as the GEEX reference evaluation does it. Higher is better.

    Pixels are ranked by the channel-mean attribution, descending and signed (ties: lower
    flat index first). Step ``j`` replaces, in every channel, the ``j·stride`` top-ranked
    pixels by ``replacement`` (the last step replaces all ``H·W``), so the curve runs from
    the unmodified input to the fully replaced one. Each step records the probability of the
    target class (the class the model predicts for the unmodified input, unless ``target``).
    Score: ``1 − mean(c̄) / c̄[0]`` where ``c̄`` is the curve averaged over instances;
    ``per_instance`` applies the same formula to each curve.

    Perturbed inputs are built for many (instance, step) pairs at once from a rank map and
    sent in chunks of the black box's ``batch_size`` (memory stays bounded). Exactly
    ``N · S`` queries are made (``S = len(result.steps)``); a budget too small for them raises
    :class:`~evoxplain.QueryBudgetExceeded` before any query.

    Args:
        model: a :class:`~evoxplain.BlackBox` or anything :func:`~evoxplain.as_blackbox` wraps.
        inputs: images ``(N, C, H, W)`` (or one image ``(C, H, W)``).
        attributions: ``(N, C, H, W)``, ``(N, 1, H, W)`` or ``(N, H, W)`` values, an
            :class:`~evoxplain.Explanation` (one or a batch), or a list of Explanations.
        replacement: what a removed pixel becomes: a number; ``"blur"`` (a Gaussian blur of the
            image, kernel 31 / σ 5 at 224 px, scaled to the image: :func:`evoxplain.baseline.blur_parameters`);
            or a tensor broadcastable to ``(N, C, H, W)``.
        stride: pixels removed between two queries (10 on 28×28, 100 on 224×224).
        target: the class to follow: one int for all, or one per instance.
        batch_size: the most inputs per model call (default: the black box's ``batch_size``).

    Example:
        >>> from evoxplain import GEEX
        >>> exp = GEEX(model, queries=2000, seed=0).explain(digits)        # two 1×28×28 images
        >>> res = aopc_deletion(BlackBox(model, output="logits"), digits, exp, stride=10)
        >>> res.curves.shape           # 0, 10, ..., 780, 784 pixels removed
        torch.Size([2, 80])
    """
    return _aopc(
        kind="deletion",
        model=model,
        inputs=inputs,
        attributions=attributions,
        replacement=replacement,
        stride=stride,
        target=target,
        batch_size=batch_size,
    )


def aopc_insertion(
    model: Any,
    inputs: torch.Tensor | np.ndarray,
    attributions: Attributions,
    *,
    replacement: Replacement = 0.0,
    stride: int = 10,
    target: int | Sequence[int] | torch.Tensor | None = None,
    batch_size: int | None = None,
) -> AOPCResult:
    """AOPC by insertion (most relevant first), the reverse of :func:`aopc_deletion`. Higher is better.

    Starts from the fully replaced input; step ``j`` puts back the ``j·stride`` top-ranked
    pixels of the original (same ranking and ``replacement`` as deletion), ending at the
    unmodified input. Each step records the probability of the target class (the class
    predicted for the *unmodified* input, unless ``target``).
    Score: ``mean(c̄) / c̄[-1]`` — the area under the instance-averaged insertion curve relative
    to the probability at the original input (1 if the probability jumps to its final value at
    once; it may exceed 1 where a partial input scores higher than the whole one).
    ``N · S`` queries, as for deletion.

    Example:
        >>> from evoxplain import GEEX
        >>> exp = GEEX(model, queries=500, seed=0).explain(images)
        >>> res = aopc_insertion(model, images, exp, replacement="blur", stride=100)
        >>> torch.allclose(res.curves[:, -1], model(images).softmax(1).amax(1))   # at the inputs
        True
    """
    return _aopc(
        kind="insertion",
        model=model,
        inputs=inputs,
        attributions=attributions,
        replacement=replacement,
        stride=stride,
        target=target,
        batch_size=batch_size,
    )


def normalised_aopc(curves: torch.Tensor, kind: str) -> torch.Tensor:
    """The normalised AOPC of each curve along the last dimension (of the instance-averaged curve, as the GEEX reference
    evaluation does): deletion
    ``1 − mean(curve) / curve[0]``, insertion ``mean(curve) / curve[-1]``.

    Example:
        >>> normalised_aopc(torch.tensor([1.0, 0.5, 0.0]), "deletion")
        tensor(0.5000)
    """
    if kind == "deletion":
        return 1.0 - curves.mean(dim=-1) / curves[..., 0]
    return curves.mean(dim=-1) / curves[..., -1]


# -- AOPC internals -----------------------------------------------------------------------------


def _aopc(
    kind: Literal["deletion", "insertion"],
    model: Any,
    inputs: Any,
    attributions: Attributions,
    replacement: Replacement,
    stride: int,
    target: Any,
    batch_size: int | None,
) -> AOPCResult:
    stride = Integer(low=1, hint="pixels per step").check("stride", stride)
    x = _as_images(inputs)
    ranking = _as_ranking_scores(attributions, x)
    repl = _as_replacement(replacement, x)
    n, _, h, w = x.shape
    wanted = _as_targets(target, n)
    bb = as_blackbox(model)
    size = bb.batch_size if batch_size is None else BATCH_SIZE.check("batch_size", batch_size)
    if wanted is not None and bb.num_classes is not None:
        _check_target_range(wanted, bb.num_classes)
    pixels = h * w
    counts = torch.cat([torch.arange(0, pixels, stride), torch.tensor([pixels])])
    s = len(counts)
    bb.check_budget(n * s, what=f"aopc_{kind} of {n} inputs with {s} steps each")
    with bb.meter() as meter:
        curves, targets = _curves(
            kind=kind, bb=bb, x=x, ranking=ranking, repl=repl, wanted=wanted, counts=counts, size=size
        )

    c64 = curves.double()
    return AOPCResult(
        kind=kind,
        score=float(normalised_aopc(c64.mean(dim=0), kind)),
        curves=curves,
        per_instance=normalised_aopc(c64, kind).float(),
        steps=counts,
        fractions=counts.double() / pixels,
        targets=targets.cpu(),
        queries=meter.queries,
    )


def _curves(kind, bb, x, ranking, repl, wanted, counts, size) -> tuple[torch.Tensor, torch.Tensor]:
    """The target's probability at every step of every input, in batches of ``size`` queries."""
    n, _, h, w = x.shape
    pixels, s = h * w, len(counts)
    original = bb.probabilities(x, batch_size=size)  # the unmodified inputs: deletion's first, insertion's last step
    targets = original.argmax(dim=1).cpu() if wanted is None else wanted
    _check_target_range(targets, original.shape[1])
    curves = torch.empty(n, s, dtype=torch.float32)
    original_column = 0 if kind == "deletion" else s - 1
    curves[:, original_column] = original.gather(1, targets.to(original.device)[:, None])[:, 0].cpu()
    _check_normaliser(curves[:, original_column], targets)

    # rank[n, p] = position of pixel p in instance n's ordering (0 = most important)
    order = torch.argsort(ranking, dim=1, descending=True, stable=True)
    positions = torch.arange(pixels, dtype=torch.int32, device=order.device).expand(n, pixels)
    rank = torch.empty(n, pixels, dtype=torch.int32, device=order.device).scatter_(1, order, positions)
    rank = rank.view(n, 1, h, w)
    counts_dev = counts.to(device=x.device, dtype=torch.int32)
    steps = torch.arange(1, s) if kind == "deletion" else torch.arange(0, s - 1)
    pair_instance = torch.arange(n).repeat_interleave(len(steps))
    pair_step = steps.repeat(n)
    for start in range(0, len(pair_step), size):
        ni = pair_instance[start : start + size]
        sj = pair_step[start : start + size]
        ni_dev, sj_dev = ni.to(x.device), sj.to(x.device)
        touched = rank[ni_dev] < counts_dev[sj_dev].view(-1, 1, 1, 1)  # (B, 1, H, W), all channels
        if kind == "deletion":
            batch = torch.where(touched, repl[ni_dev], x[ni_dev])
        else:
            batch = torch.where(touched, x[ni_dev], repl[ni_dev])
        probs = bb.probabilities(batch, batch_size=size)
        picked = probs.gather(1, targets.to(probs.device)[ni.to(probs.device)][:, None])[:, 0]
        curves[ni, sj] = picked.cpu()
    return curves, targets


def _check_target_range(targets: torch.Tensor, classes: int) -> None:
    if bool(((targets < 0) | (targets >= classes)).any()):
        raise InvalidInputError(f"target {targets.tolist()} is out of range for a model of {classes} classes")


def _check_normaliser(scores: torch.Tensor, targets: torch.Tensor) -> None:
    """AOPC divides by the target's probability at the unmodified input: it must not be 0."""
    zero = (scores <= 0).nonzero().flatten().tolist()
    if zero:
        raise InvalidInputError(
            f"the model gives the target class probability 0 at the unmodified input {zero[0]} (target "
            f"{int(targets[zero[0]])}), and AOPC divides by that probability: it is undefined there. Follow a "
            "class the model gives some probability (the predicted class, target=None)"
        )


def _as_images(inputs: Any) -> torch.Tensor:
    if isinstance(inputs, np.ndarray):
        if inputs.dtype.kind not in "biuf":
            raise InvalidInputError(f"inputs must be a numeric array of images (N, C, H, W), not {inputs.dtype}")
        inputs = torch.from_numpy(inputs)
    if not isinstance(inputs, torch.Tensor):
        raise InvalidInputError(f"inputs must be an image tensor (N, C, H, W), not {type(inputs).__name__}")
    if inputs.ndim == 3:
        inputs = inputs.unsqueeze(0)
    if inputs.ndim != 4:
        raise InvalidInputError(
            f"inputs must be images (N, C, H, W) or one image (C, H, W), not shape {tuple(inputs.shape)}"
        )
    if not inputs.is_floating_point():
        raise InvalidInputError(
            f"inputs must be floating point (got {inputs.dtype}); convert images to float, e.g. x / 255"
        )
    if not bool(torch.isfinite(inputs).all()):
        raise InvalidInputError("inputs contain NaN or infinite values; clean them before measuring")
    return inputs


def _explanation_values(exp: Explanation) -> torch.Tensor:
    if isinstance(exp.values, list):
        raise InvalidInputError(
            "AOPC works on images; this Explanation holds text attributions (a list of token values)"
        )
    values = torch.as_tensor(exp.values)
    return values if exp.batched else values.unsqueeze(0)


def _as_attribution_tensor(attributions: Attributions) -> torch.Tensor:
    if isinstance(attributions, Explanation):
        return _explanation_values(attributions)
    if isinstance(attributions, (list, tuple)):
        if not attributions or not all(isinstance(a, Explanation) for a in attributions):
            raise InvalidInputError(
                "a list of attributions must hold Explanation objects (one per input); pass "
                "plain values as one tensor (N, C, H, W) or (N, H, W)"
            )
        parts = [_explanation_values(a) for a in attributions]
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) != 1:
            raise InvalidInputError(
                f"the Explanations hold values of different shapes {sorted(shapes)}; explain inputs "
                "of one shape together"
            )
        return torch.cat(parts)
    if isinstance(attributions, np.ndarray):
        return torch.from_numpy(attributions)
    if isinstance(attributions, torch.Tensor):
        return attributions
    raise InvalidInputError(
        f"attributions must be a tensor, an array, an Explanation or a list of Explanations, not "
        f"{type(attributions).__name__}"
    )


def _as_ranking_scores(attributions: Attributions, x: torch.Tensor) -> torch.Tensor:
    """The channel-mean attribution of each pixel, ``(N, H·W)`` float on ``x``'s device."""
    a = _as_attribution_tensor(attributions)
    n, c, h, w = x.shape
    if a.ndim == x.ndim - 1 and n == 1 and a.shape[-2:] == (h, w) and a.shape[0] != 1:
        a = a.unsqueeze(0)  # one image's attribution (C, H, W) given without its batch dimension
    if a.ndim == 2 and n == 1:
        a = a.unsqueeze(0)
    if a.ndim == 3:
        a = a.unsqueeze(1)
    if a.ndim != 4 or a.shape[0] != n or a.shape[-2:] != (h, w) or a.shape[1] not in (1, c):
        raise InvalidInputError(
            f"attributions of shape {tuple(a.shape)} do not match inputs of shape {tuple(x.shape)}; "
            f"give one attribution per input: ({n}, {c}, {h}, {w}), ({n}, 1, {h}, {w}) or ({n}, {h}, {w})"
        )
    a = a.to(device=x.device, dtype=torch.float64 if a.dtype == torch.float64 else torch.float32)
    if not bool(torch.isfinite(a).all()):
        raise InvalidInputError("attributions contain NaN or infinite values; they cannot be ranked")
    return a.mean(dim=1).reshape(n, h * w)


def _as_replacement(replacement: Replacement, x: torch.Tensor) -> torch.Tensor:
    if isinstance(replacement, str):
        if replacement != "blur":
            raise InvalidInputError(f"replacement must be a number, 'blur' or a tensor, not the string {replacement!r}")
        return gaussian_blur(x)
    if isinstance(replacement, (int, float)) and not isinstance(replacement, bool):
        if not math.isfinite(replacement):
            raise InvalidInputError(f"replacement must be finite, not {replacement!r}")
        return torch.full((1,) * x.ndim, float(replacement), dtype=x.dtype, device=x.device).expand_as(x)
    if isinstance(replacement, np.ndarray):
        replacement = torch.from_numpy(replacement)
    if isinstance(replacement, torch.Tensor):
        try:
            out = torch.broadcast_to(replacement.to(device=x.device, dtype=x.dtype), x.shape)
        except RuntimeError as err:
            raise InvalidInputError(
                f"a replacement of shape {tuple(replacement.shape)} does not broadcast to the inputs' "
                f"shape {tuple(x.shape)}; give (C, H, W), (N, C, H, W) or a scalar"
            ) from err
        if not bool(torch.isfinite(out).all()):
            raise InvalidInputError("the replacement contains NaN or infinite values")
        return out
    raise InvalidInputError(f"replacement must be a number, 'blur' or a tensor, not {type(replacement).__name__}")


def _as_targets(target: Any, n: int) -> torch.Tensor | None:
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)):
        raise InvalidInputError(f"target must be a class index, not {target!r}")
    if isinstance(target, (int, np.integer)):
        if target < 0:
            raise InvalidInputError(f"target must be a class index (>= 0), not {target}")
        t = torch.full((n,), int(target), dtype=torch.long)
    else:
        try:
            t = torch.as_tensor(target)
        except (TypeError, ValueError, RuntimeError):
            raise InvalidInputError(f"target must be a class index or one per input, not {target!r}") from None
        if t.ndim == 0:
            t = t.expand(n)
        if t.is_floating_point() or t.dtype == torch.bool or t.ndim != 1 or len(t) != n or bool((t < 0).any()):
            raise InvalidInputError(
                f"target must be one class index (>= 0) or {n} of them (one per input), not {t.tolist()}"
            )
        t = t.long().cpu()
    return t


# -- fidelity and axioms ------------------------------------------------------------------------


def _batched_values(values: Any, name: str) -> torch.Tensor:
    if isinstance(values, Explanation):
        return _explanation_values(values)
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, Explanation) for v in values):
        return torch.cat([_explanation_values(v) for v in values])
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor):
        raise InvalidInputError(f"{name} must be a tensor, an array or an Explanation, not {type(values).__name__}")
    return values.unsqueeze(0) if values.ndim == 1 else values


def gradient_fidelity(estimate: Any, true_gradient: Any) -> torch.Tensor:
    """Cosine similarity between an estimated and the true gradient, one per instance ``(N,)``.

    The leading dimension is the batch (a 1-D tensor or an unbatched Explanation is one
    instance). 1 is perfect; where either vector is all zeros the cosine is reported as 0.

    Example:
        >>> from evoxplain import GEEX
        >>> ge = GEEX(model, integrated=False, sigma=0.05, fitness="logit", queries=4000, seed=0)
        >>> exp = ge.explain(digits)
        >>> x = digits.clone().requires_grad_(True)
        >>> model(x)[[0, 1], exp.target].sum().backward()      # the true gradients, white-box
        >>> gradient_fidelity(exp, x.grad).round(decimals=2)    # one cosine per input, → 1 with queries
        tensor([0.8400, 0.8500])
    """
    est = _batched_values(estimate, "estimate")
    true = _batched_values(true_gradient, "true_gradient")
    if est.shape != true.shape:
        raise InvalidInputError(
            f"the estimate has shape {tuple(est.shape)} and the true gradient {tuple(true.shape)}; "
            "they must match (one gradient per input)"
        )
    a = est.detach().to(torch.float64).flatten(1)
    b = true.detach().to(device=a.device, dtype=torch.float64).flatten(1)
    na, nb = a.norm(dim=1), b.norm(dim=1)
    cos = (a * b).sum(dim=1) / (na * nb)
    cos = torch.where((na == 0) | (nb == 0), torch.zeros_like(cos), cos)
    return cos.clamp(-1.0, 1.0).float()


def completeness_error(
    explanation: Explanation,
    model: Any = None,
    inputs: torch.Tensor | None = None,
    baseline: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Relative completeness error ``|Σξ − (f(x) − f(x̊))| / |f(x) − f(x̊)|`` per instance.

    Uses the ``score`` and ``baseline_score`` the explanation recorded. Where they are missing,
    give ``model``, ``inputs`` and ``baseline``: f is then the target-class probability.
    Returns a scalar tensor for one explanation, ``(N,)`` for a batch; 0 is perfect. Where
    ``f(x) = f(x̊)`` the ratio is undefined (inf, or NaN if Σξ is 0 too).

    Example:
        >>> from evoxplain import GEEX
        >>> exp = GEEX(model, queries=4000, baseline=0.0, fitness="logit", seed=0).explain(digits)
        >>> completeness_error(exp).round(decimals=2)     # 0 is perfect; this is sampling noise
        tensor([0.0000, 0.0500], dtype=torch.float64)
    """
    if not isinstance(explanation, Explanation):
        raise InvalidInputError(f"completeness_error takes an Explanation, not {type(explanation).__name__}")
    score, base = explanation.score, explanation.baseline_score
    if score is None or base is None:
        if model is None or inputs is None or baseline is None:
            raise InvalidInputError(
                "this Explanation did not record score and baseline_score (f(x) and f(baseline)); "
                "pass model=, inputs= and baseline= to measure them, or use an integrated method"
            )
        bb: BlackBox = as_blackbox(model)
        x = inputs if explanation.batched else inputs.unsqueeze(0)
        b = torch.as_tensor(baseline, dtype=x.dtype, device=x.device)
        b = torch.broadcast_to(b, x.shape)
        targets = torch.as_tensor(explanation.target if explanation.batched else [explanation.target])
        probs = bb.probabilities(torch.cat([x, b]))
        picked = probs.gather(1, torch.cat([targets, targets]).to(probs.device)[:, None])[:, 0].cpu()
        score, base = picked[: len(x)], picked[len(x) :]
        if not explanation.batched:
            score, base = score[0], base[0]
    totals = explanation.totals.detach().to(torch.float64).cpu()
    delta = torch.as_tensor(score, dtype=torch.float64).cpu() - torch.as_tensor(base, dtype=torch.float64).cpu()
    return (totals - delta).abs() / delta.abs()


def ignored_feature_share(attributions: Any, ignored: torch.Tensor) -> torch.Tensor:
    """Share of the total |attribution| that falls on features the model ignores, per instance.

    ``ignored`` is a boolean mask of the features f does not depend on, of one instance's shape
    (or the batch's). The axiom ("dummy"/"null player") asks for 0.

    Example:
        >>> from evoxplain import GEEX
        >>> blind = lambda x: model(x * (torch.arange(28) >= 4))     # ignores the 4 left columns
        >>> exp = GEEX(blind, queries=2000, seed=0).explain(digits)
        >>> mask = torch.zeros(1, 28, 28, dtype=torch.bool); mask[..., :, :4] = True
        >>> ignored_feature_share(exp, mask).round(decimals=2)    # 0 is ideal; this is sampling noise
        tensor([0.1000, 0.0900])
    """
    values = _batched_values(attributions, "attributions").detach().to(torch.float64)
    mask = torch.as_tensor(ignored, dtype=torch.bool, device=values.device)
    try:
        mask = torch.broadcast_to(mask, values.shape)
    except RuntimeError as err:
        raise InvalidInputError(
            f"the ignored mask of shape {tuple(mask.shape)} does not match attributions of shape "
            f"{tuple(values.shape)}; give one instance's shape or the batch's"
        ) from err
    magnitude = values.abs().flatten(1)
    total = magnitude.sum(dim=1)
    on_ignored = (magnitude * mask.flatten(1)).sum(dim=1)
    return torch.where(total > 0, on_ignored / total, torch.zeros_like(total)).float()
