"""White-box baseline: gradient descent on the latents, through the generator and the model.

The paper's comparison (Nguyen et al.'s approach): minimise the same fitness
``L(z) = Σ_j (C(G(z))_j − y_j)²`` with SGD with momentum or Adam, back-propagating through ``C``
and ``G``. It needs both to be differentiable torch code. The "population" is a batch of
independent starting points from ``U(−u, u)^l``; each step is one forward and one backward of the
batch and counts ``population`` queries (the backward is not counted). The elite is the
``elite`` best members of the current batch and the stopping rules are those of the ES.

Example:
    >>> gd = GradientSearch(model, generator, latent_dim=8, method="adam", lr=0.05, init_range=0.5, seed=0)
    >>> gd.run(3).converged        # from a start where the model is not yet saturated
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..blackbox import BlackBox
from ..constraints import OneOf, Real, check_all
from ..errors import InvalidInputError
from .engine import Latents, LatentSearch, SearchState, _bind
from .objective import Objective
from .settings import SearchSettings

SETTINGS = {
    "method": OneOf("momentum", "adam"),
    "lr": Real(low=0, low_open=True, hint="the learning rate"),
    "beta": Real(0, 1, high_open=True, hint="SGD's momentum coefficient"),
}


class GradientSearch(LatentSearch):
    """Gradient descent (SGD with momentum, or Adam) on latents, for differentiable models.

    Args:
        model: a ``torch.nn.Module`` (or a BlackBox wrapping one) returning logits or
            probabilities.
        generator: a differentiable callable from latents to inputs (a module or torch function).
        method: ``"momentum"`` (SGD with momentum ``beta``) or ``"adam"``.
        lr: the learning rate.
        beta: SGD's momentum coefficient (``method="momentum"`` only).
        settings: the shared settings (:class:`~evoxplain.exemplars.SearchSettings`), or any of
            them as keywords, as for :class:`~evoxplain.exemplars.ExemplarSearch`; here
            ``population`` (independent starting points optimised together) and ``elite`` (how many
            of the current batch must satisfy the stopping rule) default to 1, and
            ``max_generations`` is the most gradient steps.

    Example:
        >>> res = GradientSearch(model, generator, latent_dim=4, lr=0.1, seed=0).run(1)
        >>> res.queries == res.generations + 1          # one forward per step, population 1
        True
    """

    defaults = {"population": 1, "elite": 1}

    def __init__(
        self,
        model: Any,
        generator: Callable[[torch.Tensor], Any],
        latent_dim: int,
        *,
        method: str = "momentum",
        lr: float = 0.1,
        beta: float = 0.9,
        settings: SearchSettings | None = None,
        **shared: Any,
    ):
        own = check_all(SETTINGS, method=method, lr=lr, beta=beta)
        super().__init__(model, generator, latent_dim, settings=settings, **shared)
        module = self.blackbox.model
        if not isinstance(module, torch.nn.Module):
            raise InvalidInputError(
                f"GradientSearch back-propagates through the model, so it needs a torch.nn.Module "
                f"(or a BlackBox of one), not a {type(module).__name__}; use ExemplarSearch for "
                "black-box models"
            )
        self.module = module
        self.optimizer, self.lr, self.beta = own["method"], own["lr"], own["beta"]
        self.method = "GD-momentum" if self.optimizer == "momentum" else "GD-adam"

    def params(self) -> dict[str, Any]:
        return {**super().params(), "optimizer": self.optimizer, "lr": self.lr, "beta": self.beta}

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _GradientState(method=self, objective=objective, seed=seed, stream=stream)

    def _generation(self, kind: type[SearchState], asks: list[tuple[SearchState, Latents]],
                    states: Sequence[SearchState]) -> None:  # fmt: skip
        """Like the black-box searches' generation, but with one backward through the whole batch."""
        bb: BlackBox = self.blackbox
        latents = torch.cat([z for _, z in asks])
        n = len(latents)
        self._check_budget(n, states)
        bb.charge(n)
        inputs = self._generate(latents)
        if not isinstance(inputs, torch.Tensor) or not inputs.requires_grad:
            raise InvalidInputError(
                "the generator's output carries no gradient; GradientSearch needs a differentiable torch generator"
            )
        raw = self.module(inputs.to(bb.device))
        if not isinstance(raw, torch.Tensor) or not raw.requires_grad:
            raise InvalidInputError(
                "the model's output carries no gradient; GradientSearch needs a differentiable "
                "torch model (is it wrapped in no_grad, or does it leave torch?)"
            )
        bb.check_answer(raw.detach(), n)  # shape, finiteness, and whether it returns logits
        probs = raw.float() if bb.output in ("probs", "multilabel") else raw.float().softmax(dim=1)
        _bind([state.objective for state in states], probs.shape[1])
        total = 0.0
        start = 0
        for state, z in asks:
            stop = start + len(z)
            total = total + state.tell_loss(z, inputs[start:stop], probs[start:stop])
            start = stop
        total.backward()
        for state, _ in asks:
            if not state.done:
                state.step()


class _GradientState(SearchState):
    method: GradientSearch

    def __init__(self, method: GradientSearch, objective: Objective, seed: int, stream: int):
        super().__init__(method=method, objective=objective, seed=seed, stream=stream)
        self.z = self.prior(method.settings.population).to(method.device).requires_grad_(True)
        if method.optimizer == "adam":
            self.opt = torch.optim.Adam([self.z], lr=method.lr)
        else:
            self.opt = torch.optim.SGD([self.z], lr=method.lr, momentum=method.beta)

    def propose(self) -> Latents:
        self.opt.zero_grad(set_to_none=True)
        return self.z

    def select(self, latents: Latents, inputs: Any, probs: torch.Tensor, loss: torch.Tensor) -> None:
        self.merge(latents=latents, inputs=inputs, probs=probs, loss=loss, keep_elite=False)  # members move: no archive

    def tell_loss(self, latents: Latents, inputs: Any, probs: torch.Tensor) -> torch.Tensor:
        """Book-keep like :meth:`tell`; return the summed fitness to back-propagate."""
        self.objective.bind(probs.shape[1])
        self.tell(latents, inputs, probs)
        return self.objective.loss(probs).sum()

    def step(self) -> None:
        self.opt.step()
