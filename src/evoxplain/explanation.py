"""The result of every attribution method: values, what was explained, and what it cost.

Example:
    >>> from evoxplain import GEEX
    >>> exp = GEEX(model, queries=2000, seed=0).explain(image)
    >>> exp.values.shape == image.shape, exp.queries
    (True, 2002)
    >>> gap = exp.completeness_gap    # |sum(values) - (f(x) - f(baseline))|, ~0 for integrated methods
    >>> exp.save("cat.evx")               # a safetensors file: data only, never code
    >>> torch.equal(Explanation.load("cat.evx").values, exp.values)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .constraints import COUNT
from .errors import InvalidInputError
from .files import FileFormatError, load_tensors, save_tensors

FILE_KIND = "evoxplain.Explanation"
FILE_VERSION = 1
_TENSORS = ("values", "stderr", "score", "baseline_score", "input")


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
        input: the input explained (a detached copy on the CPU; stacked for a batch), for
            pictures and reports; None for text (``tokens`` hold it) and where it was not kept.
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
    input: Any = None

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
            input=pick(self.input),
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
        if self.tokens is None:
            raise InvalidInputError(
                f"top_tokens lists the tokens of a text's explanation; this {self.method} explanation is of a "
                "tensor: rank its values instead (e.g. values.flatten().topk(k))"
            )
        if self.batched:
            raise InvalidInputError("top_tokens needs the explanation of one text: index the batch (exp[i])")
        k = COUNT.check("k", k)
        order = torch.as_tensor(self.values).argsort(descending=True)[:k]
        return [(self.tokens[i], float(self.values[i])) for i in order.tolist()]

    def numpy(self):
        """The values as a numpy array (a list of arrays for a batch of texts)."""
        if isinstance(self.values, list):
            return [v.numpy() for v in self.values]
        return self.values.numpy()

    def save(self, path: str | Path) -> None:
        """Save everything to one safetensors file (tensors, and the rest as a JSON header),
        atomically; the folder must exist."""
        tensors: dict[str, torch.Tensor] = {}
        lists: dict[str, int] = {}
        for name in _TENSORS:
            value = getattr(self, name)
            if isinstance(value, list):
                lists[name] = len(value)
                tensors.update({f"{name}.{i}": torch.as_tensor(v) for i, v in enumerate(value)})
            elif value is not None:
                tensors[name] = torch.as_tensor(value)
        meta = {
            "version": FILE_VERSION,
            "lists": lists,
            "target": self.target,
            "queries": self.queries,
            "seconds": self.seconds,
            "method": self.method,
            "params": _to_json(self.params),
            "tokens": self.tokens,
        }
        save_tensors(path, tensors, kind=FILE_KIND, meta=meta)

    @classmethod
    def load(cls, path: str | Path) -> Explanation:
        """Load an explanation written by :meth:`save`; any other file is a
        :class:`~evoxplain.files.FileFormatError` (nothing in it is run)."""
        tensors, meta = load_tensors(path, kind=FILE_KIND)
        try:
            if meta["version"] != FILE_VERSION:
                raise FileFormatError(
                    f"{path} is an Explanation file of version {meta['version']}; "
                    f"this evoxplain reads version {FILE_VERSION}"
                )
            fields = {name: _gather(tensors, name, meta["lists"].get(name)) for name in _TENSORS}
            return cls(
                target=meta["target"], queries=int(meta["queries"]), seconds=float(meta["seconds"]),
                method=str(meta["method"]), params=_from_json(meta["params"]), tokens=meta["tokens"], **fields,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise FileFormatError(f"{path} is an Explanation file with missing or malformed fields ({err!r})") from None

    def _repr_html_(self) -> str:
        """The explanation as HTML (Jupyter shows it): the same fragment as ``evoxplain report``'s."""
        from .report.fragments import explanation_html

        return explanation_html(self)

    def __repr__(self) -> str:
        shape = f"{len(self.values)} texts" if isinstance(self.values, list) else tuple(self.values.shape)
        return (
            f"Explanation({self.method}, values={shape}, target={self.target}, "
            f"queries={self.queries}, seconds={self.seconds:.3f})"
        )


def _gather(tensors: dict[str, torch.Tensor], name: str, count: int | None) -> Any:
    if count is not None:
        return [tensors[f"{name}.{i}"] for i in range(count)]
    return tensors.get(name)


def _to_json(value: Any) -> Any:
    """Settings as JSON: tuples kept apart from lists, tensors and arrays as lists."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value
