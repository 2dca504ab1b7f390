"""Global exemplars by an evolution strategy with momentum (Algorithm 1 of the exemplar paper).

Search the latent space of a generator ``G`` for ``z`` such that the black box ``C`` gives
``C(G(z)) ≈ y``, minimising ``L(z) = Σ_j (C(G(z))_j − y_j)²`` from queries alone:

1. ``t = population`` latents ``z ~ U(−u, u)^l`` with zero momentum; keep the ``k = elite`` fittest.
2. Every generation each elite ``z`` with momentum ``μ`` makes ``m = children`` children
   ``z' = z + v``, ``v = α·μ + (1 − α)·N(0, s²)`` (``v = N(0, s²)`` where ``μ = 0``); a child's
   momentum is its ``v``. Elite and children compete and the ``k`` fittest survive. The elite's
   fitness is cached: only the ``k·m`` children are queried.
3. Stop when the *least* fit elite satisfies the rule (target probability ≥ ``confidence``, or
   ``L ≤ max_loss``), or when the next generation would pass ``max_queries``.

``momentum=0`` is the plain evolution strategy.

Example:
    >>> from evoxplain.exemplars import ExemplarSearch
    >>> search = ExemplarSearch(model, generator, latent_dim=32, seed=0)   # e.g. generator=vae.decode
    >>> res = search.run(3)                       # a typical "3" for the model
    >>> res.converged, res.queries, res.exemplar.shape
    (True, 70, torch.Size([1, 28, 28]))
    >>> len(search.run_many(range(10)))           # ten searches, one batched model call each step
    10
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..constraints import Integer, Real, check_all
from .engine import Latents, LatentSearch, SearchState, keep_elites, record_all
from .objective import Objective
from .settings import SearchSettings

SETTINGS = {
    "children": Integer(low=1),
    "step": Real(low=0, low_open=True),
    "momentum": Real(0, 1, high_open=True, hint="0: the plain evolution strategy"),
}


class ExemplarSearch(LatentSearch):
    """Evolution strategy with momentum in a generator's latent space (the paper's Algorithm 1).

    Args:
        model: the black box: anything :func:`evoxplain.as_blackbox` accepts, or a BlackBox.
        generator: a callable from latents ``(B, latent_dim)`` to model inputs (a torch module
            runs under ``no_grad``).
        latent_dim: ``l``, the generator's latent size.
        children: ``m``, the children of each elite member per generation (paper: 2).
        step: ``s``, the standard deviation of the Gaussian mutation (paper: 0.5).
        momentum: ``α`` in ``[0, 1)``, the weight of a member's last move (paper: 0.3; 0: plain ES).
        settings: the settings every search shares (:class:`~evoxplain.exemplars.SearchSettings`),
            or any of them as keywords: ``population`` ``t`` (paper: 50), ``elite`` ``k`` (paper:
            10), ``init_range`` ``u`` (paper: 5), ``confidence`` (0.95) or ``max_loss``,
            ``max_queries``, ``max_generations``, ``seed``, ``batch_size``, ``device``.

    Example:
        >>> search = ExemplarSearch(model, generator, latent_dim=8, momentum=0.3, seed=0)
        >>> res = search.run(2)
        >>> res.converged, res.queries == 50 + 20 * res.generations
        (True, True)
    """

    method = "ES-momentum"

    def __init__(
        self,
        model: Any,
        generator: Callable[[torch.Tensor], Any],
        latent_dim: int,
        *,
        children: int = 2,
        step: float = 0.5,
        momentum: float = 0.3,
        settings: SearchSettings | None = None,
        **shared: Any,
    ):
        own = check_all(SETTINGS, children=children, step=step, momentum=momentum)
        super().__init__(model, generator, latent_dim, settings=settings, **shared)
        self.children, self.step, self.momentum = own["children"], own["step"], own["momentum"]
        if self.momentum == 0:
            self.method = "ES"

    def params(self) -> dict[str, Any]:
        return {**super().params(), "children": self.children, "step": self.step, "momentum": self.momentum}

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _MomentumState(method=self, objective=objective, seed=seed, stream=stream)


class _MomentumState(SearchState):
    """One ES-with-momentum search: the elite carries each member's momentum as its payload."""

    method: ExemplarSearch

    def next_size(self) -> int:
        m = self.method
        return m.settings.population if self.elite is None else len(self.elite) * m.children

    def propose(self) -> Latents:
        m = self.method
        if self.elite is None:  # the initial population, with zero momentum
            z = self.prior(m.settings.population)
            self._pending = torch.zeros_like(z)
            return z
        return _mutate([self])[0]

    def select(self, latents: Latents, inputs: Any, probs: torch.Tensor, loss: torch.Tensor) -> None:
        self.merge(latents=latents, inputs=inputs, probs=probs, loss=loss, extra=self._pending)

    # Lockstep searches (two or more) ask for batches of one size, the initial populations, then
    # k·m children each: their fitness, selection and stopping rule, and past the first
    # generation their mutation, run as tensor operations over all of them at once, with the
    # numbers each would get alone (each draws from its own stream; a test holds the two ways equal).

    @classmethod
    def ask_all(cls, states: Sequence[SearchState]) -> list[tuple[SearchState, Latents]]:
        going = [state for state in states if state.goes_on()]
        if len(going) < 2 or any(state.elite is None for state in going):
            return [(state, state.propose()) for state in going]
        return list(zip(going, _mutate(going)))

    @classmethod
    def tell_all(cls, asks: Sequence[tuple[SearchState, Latents]], inputs: Any, probs: torch.Tensor) -> None:
        states = [state for state, _ in asks]
        n, first = len(asks[0][1]), states[0].elite is None
        if len(asks) < 2 or any((s.elite is None) != first or len(z) != n for s, z in asks):
            return super().tell_all(asks, inputs, probs)
        probs = probs.detach().float().cpu()
        for state in states:
            state.queries += n
            state.objective.bind(probs.shape[1])
        probs = probs.reshape(len(states), n, -1)
        y = torch.stack([state.objective.y for state in states])
        loss = (probs - y[:, None]).pow(2).sum(dim=2)  # the fitness, as Objective.loss
        candidates = [loss, torch.stack([z for _, z in asks]), probs, torch.stack([s._pending for s in states])]
        old = 0
        if not first:  # the elite first: ties keep it
            old = len(states[0].elite)
            names = ("elite_loss", "elite", "elite_probs", "elite_extra")
            elites = [torch.stack([getattr(s, name) for s in states]) for name in names]
            candidates = [torch.cat([e, c], dim=1) for e, c in zip(elites, candidates)]
        loss, latents, probs, extra = candidates
        kept_loss, kept_probs = keep_elites(
            states, old=old, inputs=inputs, loss=loss, latents=latents, probs=probs, extra=extra
        )
        record_all(states, kept_loss, kept_probs)


def _mutate(states: Sequence[_MomentumState]) -> list[Latents]:
    """Each search's children ``z + v``, ``v = α·μ + (1 − α)·N(0, s²)`` (``N(0, s²)`` where ``μ = 0``).

    Each search draws its noise from its own stream and keeps its children's ``v`` as their momentum
    (child i·m + j is child j of elite member i).
    """
    m = states[0].method
    elite = torch.stack([state.elite for state in states])  # (S, k, l)
    mu = torch.stack([state.elite_extra for state in states]).unsqueeze(2)  # (S, k, 1, l)
    size, k, dim = elite.shape
    noise = torch.stack([torch.randn(k, m.children, dim, generator=state.rng) for state in states]) * m.step
    has_momentum = mu.ne(0).any(dim=3, keepdim=True)
    v = torch.where(has_momentum, m.momentum * mu + (1 - m.momentum) * noise, noise)
    for state, moves in zip(states, v.reshape(size, k * m.children, dim)):
        state._pending = moves
    return list((elite.unsqueeze(2) + v).reshape(size, k * m.children, dim))
