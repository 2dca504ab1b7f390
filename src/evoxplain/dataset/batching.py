"""Several inputs' queries in one model call: their step generators advanced together.

:class:`SharedSteps` explains inputs ``share`` at a time with one explainer's step generators
(:meth:`~evoxplain.attribution.base.Explainer.explain_steps`): each round, every input in flight
yields one batch of queries, the batches go to the model in one call (concatenated, at most
``max_batch`` inputs), and each generator receives exactly its own rows back. The noise and sums
are those of :meth:`~evoxplain.attribution.base.Explainer.explain` with the same seed; only the
model's float rounding may differ where its answer depends on what shares its batch. An input
that finishes makes room for the next one at once. A model call that fails is sent again input by
input, so the input whose queries broke the model fails alone, and an input whose explanation
raises fails alone too; a spent budget stops them all. An explanation's ``seconds`` are its own:
its steps, and of each model call it shared, its part by queries, so a run's seconds add up to
its time.

Methods whose queries Captum makes (``stepwise = False``) cannot share calls: they are
explained one at a time with ``explain``.

Example:
    >>> from evoxplain import GEEX
    >>> bb = BlackBox(model)
    >>> shared = SharedSteps(GEEX(bb, queries=100), share=2, max_batch=1024)
    >>> jobs = [(0, digits[0], None, 7), (1, digits[1], None, 8)]    # (key, input, target, seed)
    >>> done = dict(shared.explain(jobs))
    >>> shared.calls, bb.queries, done[0].queries                   # two inputs' queries, shared calls
    (2, 204, 102)
    >>> torch.equal(done[0].values, GEEX(model, queries=100, seed=7).explain(digits[0]).values)
    True
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..attribution.base import Explainer, Steps, input_seed
from ..blackbox import BlackBox
from ..errors import EvoxplainError, QueryBudgetExceeded
from ..explanation import Explanation

Job = tuple[Hashable, Any, int | None, int]
"""One input to explain: ``(key, x, target, seed)``; ``seed`` is what ``explain`` would be seeded with."""

FAILURES = (EvoxplainError, OSError, ValueError, RuntimeError)
"""What fails one input only (a spent budget excepted): the run goes on without it."""


@dataclass
class _InFlight:
    key: Hashable
    seed: int
    cost: int
    steps: Steps
    batch: Any = None
    queries: int = 0
    seconds: float = 0.0  # its own steps, and its share (by queries) of each model call it was in
    peak: torch.Tensor | None = None  # the largest answer so far, kept on the model's device (no sync)


class SharedSteps:
    """Explains inputs ``share`` at a time, their queries sharing each model call.

    Args:
        explainer: a stepwise explainer; its ``batch_size`` is the most queries one input asks
            for in a step (``max_batch // share`` fills a call with ``share`` inputs).
        share: inputs in flight at once.
        max_batch: the most inputs of one model call.
    """

    def __init__(self, explainer: Explainer, *, share: int, max_batch: int):
        self.explainer = explainer
        self.blackbox: BlackBox = explainer.blackbox
        self.share = max(1, int(share))
        self.max_batch = int(max_batch)
        self.calls = 0

    def explain(self, jobs: Iterable[Job]) -> Iterator[tuple[Hashable, Explanation | BaseException]]:
        """``(key, explanation)`` for each job as it finishes, or ``(key, error)`` for one that failed.

        A spent budget (checked before each input starts, for it and the rest of those in flight)
        or an interrupt is raised; the explanations already yielded are the caller's."""
        pending, flying = iter(jobs), []
        while True:
            while len(flying) < self.share and (job := next(pending, None)) is not None:
                started = self._start(job, flying)
                if isinstance(started, _InFlight):
                    flying.append(started)
                else:
                    yield started
            if not flying:
                return
            for one, answer in self._round(list(flying)):  # a copy: finished ones leave flying
                finished = self._advance(one, answer)
                if finished is not None:
                    flying.remove(one)
                    yield one.key, finished

    def _start(self, job: Job, flying: list[_InFlight]) -> _InFlight | tuple[Hashable, Any]:
        """The job in flight with its first batch, or ``(key, result)`` if it ended at once."""
        key, x, target, seed = job
        explainer = self.explainer
        try:
            cost = explainer.cost(x)
            if self.blackbox.journal is None:  # with a journal, answers known before cost nothing
                owed = sum(f.cost - f.queries for f in flying)
                self.blackbox.check_budget(owed + cost, what=f"{explainer.method} of input {key!r}")
            started = time.perf_counter()
            one = _InFlight(
                key=key, seed=seed, cost=cost, steps=explainer.explain_steps(x, target, input_seed(seed, 0))
            )
            try:
                one.batch = next(one.steps)
            finally:
                one.seconds += time.perf_counter() - started
            return one
        except QueryBudgetExceeded:
            raise
        except StopIteration as done:  # nothing to query (cannot happen for a stepwise method)
            return key, self._assemble(one, done.value)
        except FAILURES as err:
            return key, err

    def _round(self, flying: list[_InFlight]) -> Iterator[tuple[_InFlight, torch.Tensor | BaseException]]:
        """Each input in flight with the answers to its batch (or the error of its own call)."""
        group: list[_InFlight] = []
        for one in flying:
            if group and sum(len(g.batch) for g in group) + len(one.batch) > self.max_batch:
                yield from self._call(group)
                group = []
            group.append(one)
        yield from self._call(group)

    def _call(self, group: list[_InFlight]) -> Iterator[tuple[_InFlight, torch.Tensor | BaseException]]:
        """One model call for ``group``; on failure, one call each, so only the broken one fails."""
        self.calls += 1
        started = time.perf_counter()
        try:
            answers = self.blackbox(_concat([g.batch for g in group]), batch_size=self.max_batch)
        except QueryBudgetExceeded:
            raise
        except FAILURES as err:
            if len(group) == 1:
                yield group[0], err
            else:
                for one in group:
                    yield from self._call([one])
            return
        sizes = [len(g.batch) for g in group]  # before any is answered: answering replaces its batch
        seconds = time.perf_counter() - started
        for one, size in zip(group, sizes, strict=True):
            one.seconds += seconds * size / sum(sizes)
        yield from zip(group, torch.split(answers, sizes), strict=True)

    def _advance(self, one: _InFlight, answer: torch.Tensor | BaseException) -> Explanation | BaseException | None:
        """Send ``one`` its answers: its explanation or error once it is done, else None."""
        if isinstance(answer, BaseException):
            return answer
        one.queries += len(one.batch)
        top = answer.abs().amax()
        one.peak = top if one.peak is None else torch.maximum(one.peak, top)
        started = time.perf_counter()
        try:
            one.batch = one.steps.send(answer)
        except StopIteration as done:
            one.seconds += time.perf_counter() - started
            try:
                return self._assemble(one, done.value)
            except FAILURES as err:
                return err
        except QueryBudgetExceeded:
            raise
        except FAILURES as err:
            return err
        one.seconds += time.perf_counter() - started
        return None

    def _assemble(self, one: _InFlight, part: dict[str, Any]) -> Explanation:
        part = self.explainer._finite(part, one.peak if one.peak is not None else torch.zeros(()))
        return self.explainer.assemble([part], queries=one.queries, seconds=one.seconds, seed=one.seed, batched=False)


def _concat(batches: list[Any]) -> Any:
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], torch.Tensor):
        return torch.cat(batches)
    return [item for batch in batches for item in batch]
