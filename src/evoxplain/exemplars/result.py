"""What an exemplar search returns: the exemplar, what the model says of it, and what it cost.

Example:
    >>> from evoxplain.exemplars import ExemplarSearch
    >>> res = ExemplarSearch(model, generator, latent_dim=8, seed=0).run(3)
    >>> res.converged, res.queries, bool(res.probabilities[3] >= 0.95)
    (True, 70, True)
    >>> res.history[-1]            # the last generation
    Generation(queries=70, best_loss=..., worst_loss=..., best_prob=1.0)
    >>> list(res.history_frame().columns)     # the history as a pandas DataFrame
    ['queries', 'best_loss', 'worst_loss', 'best_prob']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from ..errors import require


class Generation(NamedTuple):
    """One row of a search's history, recorded after each evaluated batch (generation 0 first).

    Attributes:
        queries: inputs sent to the model by this search so far.
        best_loss: the fitness ``L(z) = Σ_j (C(G(z))_j − y_j)²`` of the best elite member.
        worst_loss: the fitness of the least fit elite member.
        best_prob: the target-class probability of the best member (for a probability-vector
            target, of the class ``argmax(y)``).
    """

    queries: int
    best_loss: float
    worst_loss: float
    best_prob: float


@dataclass
class ExemplarResult:
    """The outcome of one exemplar search.

    Attributes:
        method: the search's name, e.g. ``"ES-momentum"``.
        target: the class index, or the target probability vector (a 1-D tensor).
        latent: the best latent vector found, ``(latent_dim,)``.
        exemplar: the generator's output for ``latent`` (one input, no batch dimension): the
            very input whose probabilities are reported, not a second generator call.
        probabilities: the model's class probabilities for ``exemplar``.
        loss: the fitness of ``latent``.
        target_probability: the probability of the target class (``argmax`` of a vector target).
        queries: every input this search sent to the model (cached elite are never re-sent).
        generations: batches evaluated after the first one (ES: rounds of children).
        converged: the stopping rule holds for the *least* fit elite member (the paper's rule).
        converged_best: the looser rule: it holds for the best member.
        queries_to_best: ``queries`` when the best member first satisfied the rule, else None.
        history: one :class:`Generation` per evaluated batch, the initial one first.
        seconds: wall time of this search (in ``run_many``, from the start until it finished).
        elite: the final elite latents, fittest first, ``(elite, latent_dim)``.
        elite_losses: their fitness, ascending.
        seed: the seed of the call; with ``stream`` it reproduces this search exactly.
        stream: the index of this search's random stream (its position in ``run_many``).
        stop_reason: ``"converged"``, ``"max_queries"``, ``"max_generations"``, ``"budget"``,
            ``"failed"`` or the optimiser's own.
        params: every setting of the search.
        error: why the search failed (its generator or the model broke on its latents), else
            empty; a search that failed before its first generation has no latent (NaN) and no
            exemplar.
    """

    method: str
    target: int | torch.Tensor
    latent: torch.Tensor
    exemplar: Any
    probabilities: torch.Tensor
    loss: float
    target_probability: float
    queries: int
    generations: int
    converged: bool
    converged_best: bool
    queries_to_best: int | None
    history: list[Generation]
    seconds: float
    elite: torch.Tensor
    elite_losses: torch.Tensor
    seed: int
    stream: int = 0
    stop_reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def failed(self) -> bool:
        """Whether the search ended because its generator or the model broke."""
        return bool(self.error)

    def history_frame(self):
        """The history as a pandas DataFrame (needs the ``exemplars`` extra)."""
        pandas = require("pandas", "exemplars", "exemplar history tables")
        return pandas.DataFrame(self.history, columns=Generation._fields)

    def _repr_html_(self) -> str:
        """The search as HTML (Jupyter shows it): the exemplar, its class probabilities, its cost."""
        from ..report.exemplar_fragments import exemplar_result_html

        return exemplar_result_html(self)

    def __repr__(self) -> str:
        target = self.target if isinstance(self.target, int) else [round(v, 3) for v in self.target.tolist()]
        return (
            f"ExemplarResult({self.method}, target={target}, converged={self.converged}, "
            f"loss={self.loss:.4g}, p={self.target_probability:.3f}, queries={self.queries}, "
            f"generations={self.generations}, seconds={self.seconds:.3f})"
        )


def summarise_by_class(results: Mapping[str, Sequence[ExemplarResult]]) -> list[dict[str, Any]]:
    """One row per class: runs, converged runs, queries (mean and median over the converged runs,
    mean over all), mean target probability and mean seconds.

    Example:
        >>> from evoxplain.exemplars import ExemplarSearch
        >>> search = ExemplarSearch(model, generator, latent_dim=8, seed=0)
        >>> summarise_by_class({"three": search.run_many([3] * 4)})[0]["converged"]
        4
    """
    rows = []
    for name, runs in results.items():
        queries = np.array([r.queries for r in runs])
        ok = np.array([r.converged for r in runs])
        rows.append(
            {
                "class": name,
                "runs": len(runs),
                "converged": int(ok.sum()),
                "queries_mean": float(queries[ok].mean()) if ok.any() else float("nan"),
                "queries_median": float(np.median(queries[ok])) if ok.any() else float("nan"),
                "queries_mean_all": float(queries.mean()),
                "probability_mean": float(np.mean([r.target_probability for r in runs])),
                "seconds_mean": float(np.mean([r.seconds for r in runs])),
            }
        )
    return rows


def best_runs(results: Sequence[ExemplarResult], count: int, unique: bool = True) -> list[tuple[int, ExemplarResult]]:
    """Up to ``count`` ``(run, result)`` pairs: converged runs in run order, then the rest by
    fitness; with ``unique``, a run whose exemplar equals one already chosen is skipped.

    Example:
        >>> from evoxplain.exemplars import ExemplarSearch
        >>> results = ExemplarSearch(model, generator, latent_dim=8, max_queries=150, seed=0).run_many([0] * 6)
        >>> [res.converged for res in results]
        [True, False, False, False, True, False]
        >>> [run for run, _ in best_runs(results, 3)]      # runs 0 and 4, then the fittest of the rest
        [0, 4, 5]
    """
    order = sorted(
        range(len(results)),
        key=lambda i: (not results[i].converged, 0.0 if results[i].converged else results[i].loss, i),
    )
    chosen, seen = [], set()
    for i in order:
        key = _exemplar_key(results[i].exemplar)
        if unique and key in seen:
            continue
        seen.add(key)
        chosen.append((i, results[i]))
        if len(chosen) == count:
            break
    return chosen


def _exemplar_key(exemplar: Any) -> Any:
    if isinstance(exemplar, str):
        return exemplar
    return np.asarray(exemplar, dtype=np.float32).tobytes()
