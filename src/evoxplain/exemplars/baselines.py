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

from ..errors import require
from .engine import Latents, LatentSearch, SearchState, positive_float, stream_sequence
from .objective import Objective


class RandomSearch(LatentSearch):
    """Sample the prior ``U(−u, u)^l`` in batches of ``population``; keep the ``elite`` best.

    Args: as :class:`~evoxplain.exemplars.ExemplarSearch` (no children, step or momentum).

    Example:
        >>> res = RandomSearch(model, generator, latent_dim=4, max_queries=5000, seed=0).run(1)
        >>> res.method, res.queries <= 5000
        ('random', True)
    """

    method = "random"

    def __init__(
        self,
        model: Any,
        generator: Callable[[torch.Tensor], Any],
        latent_dim: int,
        population: int = 50,
        elite: int = 10,
        init_range: float = 5.0,
        confidence: float = 0.95,
        max_loss: float | None = None,
        max_queries: int | None = None,
        seed: int | None = None,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        *,
        max_generations: int = 1000,
    ):
        super().__init__(
            model,
            generator,
            latent_dim,
            population=population,
            elite=elite,
            init_range=init_range,
            confidence=confidence,
            max_loss=max_loss,
            max_queries=max_queries,
            max_generations=max_generations,
            seed=seed,
            batch_size=batch_size,
            device=device,
        )

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _RandomState(self, objective, seed, stream)


class _RandomState(SearchState):
    def propose(self) -> Latents:
        return self.prior(self.method.population)


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
        others: as :class:`~evoxplain.exemplars.ExemplarSearch`.

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
        population: int = 50,
        elite: int = 10,
        sigma0: float | None = None,
        init_range: float = 5.0,
        confidence: float = 0.95,
        max_loss: float | None = None,
        max_queries: int | None = None,
        seed: int | None = None,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        *,
        max_generations: int = 1000,
        cma_options: dict[str, Any] | None = None,
    ):
        super().__init__(
            model,
            generator,
            latent_dim,
            population=population,
            elite=elite,
            init_range=init_range,
            confidence=confidence,
            max_loss=max_loss,
            max_queries=max_queries,
            max_generations=max_generations,
            seed=seed,
            batch_size=batch_size,
            device=device,
        )
        self.sigma0 = self.init_range / 2 if sigma0 is None else positive_float("sigma0", sigma0)
        self.cma_options = dict(cma_options or {})
        self._cma = require("cma", "exemplars", "CMA-ES search")

    def params(self) -> dict[str, Any]:
        return {**super().params(), "sigma0": self.sigma0, "cma_options": self.cma_options}

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        return _CMAState(self, objective, seed, stream)


class _CMAState(SearchState):
    method: CMAESSearch

    def __init__(self, method: CMAESSearch, objective: Objective, seed: int, stream: int):
        super().__init__(method, objective, seed, stream)
        normal = np.random.Generator(np.random.PCG64(stream_sequence(seed, stream).spawn(1)[0]))
        options = {
            "popsize": method.population,
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
        self.merge(latents, inputs, probs, loss)
