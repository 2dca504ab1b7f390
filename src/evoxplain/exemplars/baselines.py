"""Black-box baselines for exemplar search on the same interface: random search and CMA-ES.

Both keep the ``elite`` fittest latents ever evaluated (their fitness cached) and stop by the same
rule as :class:`~evoxplain.exemplars.ExemplarSearch`: when the least fit of them satisfies it.

Example:
    >>> RandomSearch(model, generator, latent_dim=8, seed=0).run(3).queries
    100
    >>> [res.converged for res in CMAESSearch(model, generator, latent_dim=8, seed=0).run_many([0, 1, 2])]
    [True, True, True]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..constraints import Instance, Optional, Real, check_all
from ..errors import require
from .engine import Latents, LatentSearch, SearchState, stream_sequence
from .objective import Objective
from .settings import SearchSettings

SETTINGS = {
    "sigma0": Optional(Real(low=0, low_open=True)),
    "cma_options": Optional(Instance(dict, what="a dict of pycma options")),
}


class RandomSearch(LatentSearch):
    """Sample the prior ``U(−u, u)^l`` in batches of ``population``; keep the ``elite`` best.

    Args: as :class:`~evoxplain.exemplars.ExemplarSearch`, without its own knobs (children, step,
    momentum): only the shared settings (:class:`~evoxplain.exemplars.SearchSettings`).

    Example:
        >>> res = RandomSearch(model, generator, latent_dim=4, max_queries=5000, seed=0).run(1)
        >>> res.method, res.queries <= 5000
        ('random', True)
    """

    method = "random"

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _RandomState(method=self, objective=objective, seed=seed, stream=stream)


class _RandomState(SearchState):
    def propose(self) -> Latents:
        return self.prior(self.method.settings.population)


class CMAESSearch(LatentSearch):
    """CMA-ES (pycma's ask/tell) in the latent space; each generation is one batched model call.

    The mean starts at a draw from the prior ``U(−u, u)^l`` and the step size at ``sigma0``.
    pycma draws its normal samples from this search's own ``numpy.random.Generator`` (its
    ``randn`` option), so no global random state is seeded or read, and searches run in lockstep
    are independent. A search also ends when pycma's own termination criteria fire
    (``stop_reason`` then names them).

    Args:
        population: pycma's ``popsize`` (λ), the latents evaluated per generation.
        elite: how many of the best latents ever evaluated must satisfy the stopping rule.
        sigma0: the initial step size (default ``init_range / 2``).
        cma_options: further pycma options (e.g. ``{"CMA_diagonal": True}``).
        settings: the shared settings, as for :class:`~evoxplain.exemplars.ExemplarSearch`.

    Example:
        >>> res = CMAESSearch(model, generator, latent_dim=16, population=20, seed=0).run(4)
        >>> res.method, res.converged, res.queries % 20       # whole populations
        ('CMA-ES', True, 0)
    """

    method = "CMA-ES"

    def __init__(
        self,
        model: Any,
        generator: Callable[[torch.Tensor], Any],
        latent_dim: int,
        *,
        sigma0: float | None = None,
        cma_options: dict[str, Any] | None = None,
        settings: SearchSettings | None = None,
        **shared: Any,
    ):
        own = check_all(SETTINGS, sigma0=sigma0, cma_options=cma_options)
        super().__init__(model, generator, latent_dim, settings=settings, **shared)
        self.sigma0 = self.settings.init_range / 2 if own["sigma0"] is None else own["sigma0"]
        self.cma_options = dict(own["cma_options"] or {})
        self._cma = require("cma", "exemplars", "CMA-ES search")

    def params(self) -> dict[str, Any]:
        return {**super().params(), "sigma0": self.sigma0, "cma_options": self.cma_options}

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _CMAState(method=self, objective=objective, seed=seed, stream=stream)


class _CMAState(SearchState):
    method: CMAESSearch

    def __init__(self, method: CMAESSearch, objective: Objective, seed: int, stream: int):
        super().__init__(method=method, objective=objective, seed=seed, stream=stream)
        normal = np.random.Generator(np.random.PCG64(stream_sequence(seed, stream).spawn(1)[0]))
        options = {
            "popsize": method.settings.population,
            "seed": float("nan"),  # pycma must not seed numpy's global generator
            "randn": lambda *shape: normal.standard_normal(shape),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "maxiter": float("inf"),
            "maxfevals": float("inf"),
            **method.cma_options,
        }
        x0 = self.prior(1)[0].double().numpy()
        self.es = method._cma.CMAEvolutionStrategy(x0, method.sigma0, options)
        self._asked: list[np.ndarray] = []

    def ask(self) -> Latents | None:
        if not self.done and self.history:
            stop = {k: v for k, v in self.es.stop().items() if k not in ("maxiter", "maxfevals")}
            if stop:
                self.finish("cma:" + ",".join(sorted(stop)))
                return None
        return super().ask()

    def propose(self) -> Latents:
        self._asked = self.es.ask()
        return torch.from_numpy(np.asarray(self._asked)).float()

    def select(self, latents: Latents, inputs: Any, probs: torch.Tensor, loss: torch.Tensor) -> None:
        self.es.tell(self._asked, loss.double().tolist())
        self.merge(latents=latents, inputs=inputs, probs=probs, loss=loss)
