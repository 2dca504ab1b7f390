"""The target of an exemplar search: its fitness and its stopping rule.

A target is a class index ``c`` (the probability vector ``y = one_hot(c)``) or a probability
vector ``y``. The fitness is the paper's ``L(z) = Σ_j (C(G(z))_j − y_j)²`` (lower is better). The
rule that a member must satisfy: ``max_loss`` given → ``L ≤ max_loss`` (for either kind of target);
otherwise a class index needs ``p_c ≥ confidence`` and a probability vector needs ``max_loss``.

Example:
    >>> obj = Objective.parse(2, confidence=0.9, max_loss=None)
    >>> obj.bind(3)
    >>> p = torch.tensor([[0.05, 0.05, 0.9]])
    >>> obj.loss(p), obj.satisfied(obj.loss(p), p)
    (tensor([0.0150]), tensor([True]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError


@dataclass
class Objective:
    """A parsed target (``index`` or ``vector``) with the rule that ends a search."""

    index: int | None
    vector: torch.Tensor | None
    confidence: float
    max_loss: float | None
    y: torch.Tensor | None = None

    @classmethod
    def parse(cls, target: Any, confidence: float, max_loss: float | None) -> Objective:
        """Check ``target`` (a class index or a probability vector) and build its objective."""
        if isinstance(target, (bool, np.bool_)):
            raise InvalidInputError("target must be a class index or a probability vector, not a bool")
        if isinstance(target, (torch.Tensor, np.ndarray)) and target.ndim == 0:
            if (
                isinstance(target, torch.Tensor)
                and target.is_floating_point()
                or (isinstance(target, np.ndarray) and not np.issubdtype(target.dtype, np.integer))
            ):
                raise InvalidInputError(f"a class-index target must be an integer, not {target!r}")
            target = int(target)
        if isinstance(target, (int, np.integer)):
            if target < 0:
                raise InvalidInputError(f"the target class index must be >= 0, not {target}")
            return cls(index=int(target), vector=None, confidence=confidence, max_loss=max_loss)
        if isinstance(target, (float, np.floating)):
            raise InvalidInputError(
                f"a class-index target must be an integer, not {target!r}; for a probability "
                "target pass the whole vector"
            )
        try:
            vector = torch.as_tensor(np.asarray(target, dtype=np.float64)).float()
        except (TypeError, ValueError) as err:
            raise InvalidInputError(
                f"target must be a class index or a probability vector, not {type(target).__name__}"
            ) from err
        if vector.ndim != 1 or len(vector) < 2:
            raise InvalidInputError(
                f"a probability-vector target must be 1-D with one entry per class, not shape {tuple(vector.shape)}"
            )
        if not bool(torch.isfinite(vector).all()) or bool((vector < 0).any()):
            raise InvalidInputError("a probability-vector target must be finite and non-negative")
        if abs(float(vector.sum()) - 1.0) > 1e-3:
            raise InvalidInputError(f"a probability-vector target must sum to 1, not {float(vector.sum()):.4f}")
        if max_loss is None:
            raise InvalidInputError(
                "a probability-vector target needs max_loss= (stop when Σ_j (p_j − y_j)² ≤ max_loss); "
                "confidence= only applies to a class index"
            )
        return cls(index=None, vector=vector, confidence=confidence, max_loss=max_loss)

    @property
    def kind(self) -> str:
        return "index" if self.index is not None else "vector"

    @property
    def target(self) -> int | torch.Tensor:
        """The target as given: the class index or the probability vector."""
        return self.index if self.index is not None else self.vector

    @property
    def target_class(self) -> int:
        """The class whose probability is reported: the index, or ``argmax(y)``."""
        return self.index if self.index is not None else int(self.vector.argmax())

    def bind(self, num_classes: int) -> None:
        """Check the target against the model's number of classes and build ``y``."""
        if self.y is not None and len(self.y) == num_classes:
            return
        if self.index is not None:
            if self.index >= num_classes:
                raise InvalidInputError(
                    f"target class {self.index} is out of range for a model of {num_classes} classes"
                )
            self.y = torch.zeros(num_classes)
            self.y[self.index] = 1.0
        else:
            if len(self.vector) != num_classes:
                raise InvalidInputError(
                    f"the target vector has {len(self.vector)} entries but the model has {num_classes} classes"
                )
            self.y = self.vector

    def loss(self, probs: torch.Tensor) -> torch.Tensor:
        """``Σ_j (p_j − y_j)²`` per row of ``probs`` (keeps gradients)."""
        return (probs - self.y.to(probs.device, probs.dtype)).pow(2).sum(dim=1)

    def satisfied(self, loss: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """Whether each member satisfies the stopping rule (a bool tensor)."""
        return stopping_rule([self], loss[None], probs[None])[0][0]


def stopping_rule(
    objectives: Sequence[Objective], loss: torch.Tensor, probs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Several searches' members at once: whether each satisfies the rule, and its target probability.

    ``loss`` is ``(S, k)`` and ``probs`` ``(S, k, C)`` for S searches of k members, one objective
    each, all with the same rule (one search method's ``max_loss`` and ``confidence``); both results
    are ``(S, k)``.

    Example:
        >>> obj = Objective.parse(1, confidence=0.9, max_loss=None)
        >>> obj.bind(2)
        >>> ok, p = stopping_rule([obj], torch.tensor([[0.02, 0.5]]), torch.tensor([[[0.05, 0.95], [0.5, 0.5]]]))
        >>> ok.tolist(), p.tolist()
        ([[True, False]], [[0.949999988079071, 0.5]])
    """
    rule = objectives[0]
    if any(o.max_loss != rule.max_loss or o.confidence != rule.confidence for o in objectives):
        raise InvalidInputError("the searches checked together must share one stopping rule")
    if len(objectives) == 1:
        target_probs = probs[:, :, rule.target_class]
    else:
        classes = torch.tensor([o.target_class for o in objectives], device=probs.device)
        target_probs = probs.gather(2, classes.view(-1, 1, 1).expand(-1, probs.shape[1], 1)).squeeze(2)
    ok = loss <= rule.max_loss if rule.max_loss is not None else target_probs >= rule.confidence
    return ok, target_probs
