"""White-box references: Saliency, IntegratedGradients and SmoothGrad with Captum.

These need what evoxplain's own methods do without: a differentiable ``torch.nn.Module`` to
backpropagate through. Given the path of a TorchScript or ONNX file, a scikit-learn estimator or a
plain callable (or a :class:`~evoxplain.BlackBox` of one) they raise
:class:`~evoxplain.InvalidInputError`; a TorchScript file opened with ``torch.jit.load`` is a module
and works (the command line opens it so).

They explain the same score as GEEX (``fitness``: the target probability by default) and count
their cost the same way: every input the model is run on, forward and backward, is counted in
the BlackBox's ``queries`` (and against its budget), the prediction query included:

* ``Saliency``: 2 (the prediction, then one gradient).
* ``IntegratedGradients``: ``steps + 2`` (the input and the baseline, for the prediction,
  f(x) and f(x̊), then one gradient per step).
* ``SmoothGrad``: ``samples + 1``.

``Explanation.params["access"]`` is ``"white-box"``.

Example:
    >>> from evoxplain.attribution.whitebox import IntegratedGradients
    >>> exp = IntegratedGradients(model, steps=50, fitness="logit").explain(digit)
    >>> exp.queries, abs(float(exp.completeness_gap)) < 1e-3     # ~0 up to the quadrature error
    (52, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..baseline import Baseline, make_baseline
from ..constraints import Boolean, Integer, OneOf, Real, check_all
from ..errors import InvalidInputError, require
from .base import Explainer, seeded_global_rng

_KINDS = {
    "torchscript": "a TorchScript model",
    "onnx": "an ONNX model",
    "sklearn": "a scikit-learn estimator",
    "callable": "a plain callable",
}

_IG_METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
SETTINGS = {
    "steps": Integer(low=1),
    "samples": Integer(low=1),
    "stdev": Real(low=0, low_open=True, hint="input units"),
    "method": OneOf(*_IG_METHODS),
    "absolute": Boolean(),
}


def _captum():
    return require("captum.attr", "baselines", "Saliency, IntegratedGradients and SmoothGrad")


class _WhiteBox(Explainer):
    """A gradient method on a ``torch.nn.Module``, its forward passes counted by the BlackBox."""

    access = "white-box"

    def __init__(self, model: Any, *, baseline: Baseline, fitness: str, batch_size: int | None, seed: int | None):
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed)
        kind = self.blackbox.kind
        if kind != "torch":
            raise InvalidInputError(
                f"{self.name} needs white-box access to a torch.nn.Module (it backpropagates through "
                f"the model), but this model is {_KINDS.get(kind, kind)}. Explain it with a black-box "
                "method (GEEX, LIME, KernelSHAP, Occlusion, RISE), or pass the torch.nn.Module itself."
            )
        self.module: torch.nn.Module = self.blackbox.model

    def _forward(self, target: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The differentiable score of ``target``; each input counted as a query of the BlackBox."""
        bb = self.blackbox

        def forward(batch: torch.Tensor) -> torch.Tensor:
            bb.charge(len(batch), what=f"{self.name}: a batch of {len(batch)} forward/backward passes")
            self._progress(len(batch))
            with bb._autocast():
                raw = self.module(batch)
            if batch.requires_grad and not (isinstance(raw, torch.Tensor) and raw.requires_grad):
                raise InvalidInputError(
                    f"{self.name} back-propagates through the model, but the model's output carries no gradient "
                    "(does it detach, run under no_grad, or leave torch through numpy?): explain it with a "
                    "black-box method (GEEX, LIME, KernelSHAP, Occlusion, RISE)"
                )
            return self.fitness(raw.float(), target, bb.output)

        return forward


class Saliency(_WhiteBox):
    """The gradient of the score at the input (Simonyan et al. 2014), Captum's ``Saliency``.

    Args:
        model: a ``torch.nn.Module`` (or a BlackBox of one).
        absolute: return |∇f| (Captum's default, the classic saliency map); False: the signed
            gradient ∇f, what GE estimates from queries.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: unused beyond the BlackBox's setting (one gradient per input).
        seed: unused (deterministic).

    Example:
        >>> Saliency(model, absolute=False).explain(digits).values.shape
        torch.Size([2, 1, 28, 28])
    """

    name = "Saliency"

    def __init__(
        self,
        model: Any,
        *,
        absolute: bool = True,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        self.absolute = check_all(SETTINGS, absolute=absolute)["absolute"]
        super().__init__(model, baseline=0.0, fitness=fitness, batch_size=batch_size, seed=seed)
        del self._params["baseline"]
        self._params["absolute"] = self.absolute

    def cost(self, x: torch.Tensor) -> int:
        return 2

    def _explain_one(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        target, scores, _ = self._anchor(x[None], target)
        values = (
            _captum().Saliency(self._forward(target)).attribute(x[None].clone().requires_grad_(), abs=self.absolute)
        )
        return {"values": values[0].detach().float().cpu(), "target": target, "score": scores[0]}


class IntegratedGradients(_WhiteBox):
    """Integrated gradients (Sundararajan et al. 2017), Captum's ``IntegratedGradients``.

    ξ = (x − x̊) ⊙ ∫₀¹ ∇f(x̊ + α(x − x̊)) dα by ``steps``-point quadrature; Σξ = f(x) − f(x̊) up to
    the quadrature error (``Explanation.completeness_gap``).

    Args:
        model: a ``torch.nn.Module`` (or a BlackBox of one).
        steps: quadrature points (gradients); one explanation costs ``steps + 2``.
        baseline: x̊: a number, ``"mean"``, ``"blur"`` or a tensor.
        method: Captum's rule: ``"gausslegendre"`` (default) or ``"riemann_left"``,
            ``"riemann_right"``, ``"riemann_middle"``, ``"riemann_trapezoid"``.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most inputs per forward/backward pass; defaults to the BlackBox's.
        seed: unused (deterministic).

    Example:
        >>> exp = IntegratedGradients(model, steps=50, baseline=0.0).explain(digits)
        >>> (exp.totals - (exp.score - exp.baseline_score)).abs().max() < 1e-3   # completeness
        tensor(True)
    """

    name = "IntegratedGradients"

    def __init__(
        self,
        model: Any,
        *,
        steps: int = 50,
        baseline: Baseline = 0.0,
        method: str = "gausslegendre",
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        own = check_all(SETTINGS, steps=steps, method=method)
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed)
        self.steps, self.integration = own["steps"], own["method"]
        self._params.update(steps=self.steps, integration=method)

    def cost(self, x: torch.Tensor) -> int:
        return self.steps + 2

    def _explain_one(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        base = make_baseline(self.baseline, x)
        target, scores, _ = self._anchor(torch.stack([x, base]), target)
        values = (
            _captum()
            .IntegratedGradients(self._forward(target))
            .attribute(
                x[None].clone(),
                baselines=base[None],
                n_steps=self.steps,
                method=self.integration,
                internal_batch_size=self.batch_size,
            )
        )
        return {
            "values": values[0].detach().float().cpu(),
            "target": target,
            "score": scores[0],
            "baseline_score": scores[1],
        }


class SmoothGrad(_WhiteBox):
    """SmoothGrad (Smilkov et al. 2017): Captum's ``NoiseTunnel`` over ``Saliency``.

    The mean gradient (absolute, by default, as Captum's Saliency) over ``samples`` copies of
    the input with Gaussian noise of standard deviation ``stdev``.

    Args:
        model: a ``torch.nn.Module`` (or a BlackBox of one).
        samples: noisy copies (``nt_samples``); one explanation costs ``samples + 1``.
        stdev: the noise's standard deviation in input units (0.15: 15 % of a [0, 1] range, the
            paper's advice of 10–20 %; Captum's default 1.0 drowns [0, 1] images).
        absolute: average |∇f| (Captum's Saliency default) or the signed gradient.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most noisy copies per pass; defaults to the BlackBox's.
        seed: seeds the noise (Captum draws it from torch's global RNG: the call runs forked and
            seeded, the global state is restored); None draws one, recorded in ``params["seed"]``.

    Example:
        >>> SmoothGrad(model, samples=50, stdev=0.15, seed=0).explain(image)
        Explanation(SmoothGrad, values=(3, 224, 224), target=..., queries=51, seconds=...)
    """

    name = "SmoothGrad"

    def __init__(
        self,
        model: Any,
        *,
        samples: int = 50,
        stdev: float = 0.15,
        absolute: bool = True,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        own = check_all(SETTINGS, samples=samples, stdev=stdev, absolute=absolute)
        super().__init__(model, baseline=0.0, fitness=fitness, batch_size=batch_size, seed=seed)
        self.samples, self.stdev, self.absolute = own["samples"], own["stdev"], own["absolute"]
        del self._params["baseline"]
        self._params.update(samples=self.samples, stdev=self.stdev, absolute=self.absolute)

    def cost(self, x: torch.Tensor) -> int:
        return self.samples + 1

    def _explain_one(self, x: torch.Tensor, target: int | None, seed: int) -> dict[str, Any]:
        captum = _captum()
        target, scores, _ = self._anchor(x[None], target)
        tunnel = captum.NoiseTunnel(captum.Saliency(self._forward(target)))
        with seeded_global_rng(seed, x.device):
            values = tunnel.attribute(
                x[None].clone(),
                nt_type="smoothgrad",
                nt_samples=self.samples,
                nt_samples_batch_size=self.batch_size,
                stdevs=self.stdev,
                abs=self.absolute,
            )
        return {"values": values[0].detach().float().cpu(), "target": target, "score": scores[0]}
