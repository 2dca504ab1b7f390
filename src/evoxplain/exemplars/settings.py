"""What every exemplar search shares, said once: :class:`SearchSettings`.

The population and elite, where latents start, the stopping rule (``confidence`` or
``max_loss``), the limits (``max_queries``, ``max_generations``), the seed, the batch size and the
device are the same for every search method; each method adds only its own knobs (ES: children,
step, momentum; CMA-ES: ``sigma0``; gradient descent: optimiser, learning rate, momentum). A
search takes the shared settings as one object, or as keywords with the same names.

Example:
    >>> SearchSettings(max_queries=2000, seed=0).params()["max_queries"]
    2000
    >>> SearchSettings(population=5, elite=10)
    Traceback (most recent call last):
    ...
    evoxplain.errors.InvalidInputError: elite (10) must be at most population (5): ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from ..constraints import Checked, Instance, Integer, Optional, Real
from ..errors import InvalidInputError

RUNS = {"runs": Integer(low=1), "per_class": Integer(low=1)}
"""The constraints of the exemplar tables' searches per class and exemplars shown per class."""


@dataclass(frozen=True)
class SearchSettings(Checked):
    """The settings every exemplar search shares.

    Attributes:
        population: the size of each evaluated batch (ES: the initial population ``t``).
        elite: ``k``, the members kept; the stopping rule must hold for all of them.
        init_range: ``u``; latents start from ``U(−u, u)^l``.
        confidence: stop when the target-class probability of every elite member is at least this.
        max_loss: stop when the fitness of every elite member is at most this (replaces
            ``confidence``; needed for probability-vector targets).
        max_queries: a per-search limit on queries; a batch that would pass it is not sent and the
            search ends unconverged.
        max_generations: a per-search limit on batches after the first.
        seed: the seed of every call (None: a fresh one per call, recorded in the result).
        batch_size: the most inputs per model call (and per generator call), if given.
        device: where latents go before the generator (default: the generator's device, or CPU).
    """

    population: int = 50
    elite: int = 10
    init_range: float = 5.0
    confidence: float = 0.95
    max_loss: float | None = None
    max_queries: int | None = None
    max_generations: int = 1000
    seed: int | None = None
    batch_size: int | None = None
    device: str | torch.device | None = None
    constraints = {
        "population": Integer(low=1),
        "elite": Integer(low=1),
        "init_range": Real(low=0, low_open=True),
        "confidence": Real(0, 1, low_open=True),
        "max_loss": Optional(Real(low=0)),
        "max_queries": Optional(Integer(low=1)),
        "max_generations": Integer(low=0),
        "seed": Optional(Integer(low=0)),
        "batch_size": Optional(Integer(low=1)),
        "device": Optional(Instance(str, torch.device, what="a device name or a torch.device")),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.elite > self.population:
            raise InvalidInputError(
                f"elite ({self.elite}) must be at most population ({self.population}): the elite is chosen from "
                "the population"
            )
        if self.max_queries is not None and self.max_queries < self.population:
            raise InvalidInputError(
                f"max_queries ({self.max_queries}) cannot pay for the first batch of {self.population} queries; "
                "raise it or lower population"
            )

    @classmethod
    def of(cls, settings: SearchSettings | None, defaults: Mapping[str, Any], changes: Mapping[str, Any]):
        """``settings`` (or the class's ``defaults``) with ``changes`` made; a name that is not a
        setting is refused with the list of those that are."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise InvalidInputError(f"unknown setting {unknown[0]!r}; the shared settings are {', '.join(names)}")
        if settings is not None and not isinstance(settings, cls):
            raise InvalidInputError(f"settings must be a SearchSettings, not {type(settings).__name__}")
        base = settings if settings is not None else cls(**defaults)
        return replace(base, **changes) if changes else base

    def params(self) -> dict[str, Any]:
        """The settings as a dict (for results and reports; the device is not a setting of the result)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "device"}
