"""The result of every attribution method: values, what was explained, and what it cost.

Example:
    >>> from evoxplain import GEEX
    >>> exp = GEEX(model, queries=2000, seed=0).explain(image)
    >>> exp.values.shape == image.shape, exp.queries
    (True, 2002)
    >>> gap = exp.completeness_gap    # |sum(values) - (f(x) - f(baseline))|, ~0 for integrated methods
    >>> exp.save("cat.evx")
    >>> torch.equal(Explanation.load("cat.evx").values, exp.values)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch


@dataclass
class Explanation:
    """Attributions for one input or a batch of inputs.

    Attributes:
        values: the attributions, a tensor of the input's shape (``(N, ...)`` for a batch of N;
            for text, one value per token: a list of 1-D tensors for a batch).
        target: the class explained (an int; a list of ints for a batch).
        queries: inputs sent to the model to make this explanation, all of them.
        seconds: wall time to make it.
        method: the method's name, e.g. ``"GEEX"``.
        params: every setting that produced it (enough to reproduce it, the seed included).
        score: the explained score f(x) at the input (per input for a batch), if measured.
        baseline_score: f at the baseline (integrated methods), if measured.
        tokens: for text, the tokens the values belong to (a list of lists for a batch).
        stderr: the standard error of each value, where the method estimates it (GEEX: its
            values are averages over random pairs, and ``stderr`` is how far another seed
            would move them at this budget; with ``design="orthogonal"`` the mean estimators'
            errors are computed as for independent draws, upper bounds); the shape of ``values``,
            or None.
    """

    values: Any
    target: int | list[int]
    queries: int
    seconds: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    score: torch.Tensor | None = None
    baseline_score: torch.Tensor | None = None
    tokens: list[str] | list[list[str]] | None = None
    stderr: Any = None

    @property
    def batched(self) -> bool:
        """Whether this holds the explanations of a batch of inputs."""
        return isinstance(self.target, list)

    def __len__(self) -> int:
        return len(self.target) if isinstance(self.target, list) else 1

    def __getitem__(self, index: int) -> Explanation:
        """The explanation of input ``index`` of a batch."""
        if not self.batched:
            raise IndexError("this Explanation holds one input; index a batched one")
        n = len(self)

        def pick(value: Any) -> Any:
            return None if value is None else value[index]

        return replace(
            self,
            values=self.values[index],
            target=self.target[index],
            queries=self.queries // n,
            seconds=self.seconds / n,
            score=pick(self.score),
            baseline_score=pick(self.baseline_score),
            tokens=pick(self.tokens),
            stderr=pick(self.stderr),
        )

    @property
    def totals(self) -> torch.Tensor:
        """Sum of the values of each input (a scalar tensor, or ``(N,)`` for a batch)."""
        if isinstance(self.values, list):
            return torch.stack([v.sum() for v in self.values])
        if self.batched:
            return self.values.flatten(1).sum(dim=1)
        return self.values.sum()

    @property
    def completeness_gap(self) -> torch.Tensor | None:
        """``|Σ values − (f(x) − f(baseline))|`` per input; None where f(baseline) was not measured."""
        if self.score is None or self.baseline_score is None:
            return None
        return (self.totals - (self.score - self.baseline_score)).abs()

    def top_tokens(self, k: int = 10) -> list[tuple[str, float]]:
        """For text: the ``k`` tokens with the largest attributions, most positive first."""
        if self.tokens is None or self.batched:
            raise ValueError("top_tokens needs the explanation of one text")
        order = torch.as_tensor(self.values).argsort(descending=True)[:k]
        return [(self.tokens[i], float(self.values[i])) for i in order.tolist()]

    def numpy(self):
        """The values as a numpy array (a list of arrays for a batch of texts)."""
        if isinstance(self.values, list):
            return [v.numpy() for v in self.values]
        return self.values.numpy()

    def save(self, path: str | Path) -> None:
        """Save everything to one file (``torch.save`` of plain tensors and Python values)."""
        torch.save(self.__dict__, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> Explanation:
        """Load an explanation written by :meth:`save`."""
        return cls(**torch.load(Path(path), weights_only=False))

    def __repr__(self) -> str:
        shape = f"{len(self.values)} texts" if isinstance(self.values, list) else tuple(self.values.shape)
        return (
            f"Explanation({self.method}, values={shape}, target={self.target}, "
            f"queries={self.queries}, seconds={self.seconds:.3f})"
        )
