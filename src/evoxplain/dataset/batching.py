"""Several inputs' queries in one model call: explanations side by side in threads, their model
calls gathered into one.

:class:`SharedCalls` stands between explainers running in several threads (one input each) and
the model: a thread that queries the model waits until every thread explaining at the time is
waiting too (or ``max_batch`` inputs are queued), then one of them sends all the queued inputs in
one call and hands each its rows. The explainers are unchanged and each counts its own queries
(:meth:`~evoxplain.BlackBox.meter` is per thread), so any explainer shares calls this way; only
the model sees fewer, larger batches. A call that fails is sent again request by request, so the
input whose queries broke the model fails alone.

Example:
    >>> import threading
    >>> shared = SharedCalls(BlackBox(model), max_batch=1024)
    >>> bb = shared.blackbox()                      # what the explainers query
    >>> both = threading.Barrier(2)
    >>> def explain_one(x):
    ...     with shared.explaining():
    ...         both.wait()                         # both explain before either queries
    ...         bb(x.expand(100, -1, -1, -1))
    >>> threads = [threading.Thread(target=explain_one, args=(d,)) for d in digits]
    >>> _ = [t.start() for t in threads] + [t.join() for t in threads]
    >>> shared.calls, shared.inner.queries          # two inputs' 100 queries, one model call
    (1, 200)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

from ..blackbox import BlackBox


class _Request:
    def __init__(self, batch: Any):
        self.batch = batch
        self.done = threading.Event()
        self.result: torch.Tensor | None = None
        self.error: BaseException | None = None


class SharedCalls:
    """Gathers the model calls of the threads explaining now into one call of ``inner``.

    Args:
        inner: the model, counted (every input it sees is counted there once).
        max_batch: send the queued inputs once this many are waiting, even if a thread is busy.
    """

    def __init__(self, inner: BlackBox, max_batch: int):
        self.inner = inner
        self.max_batch = int(max_batch)
        self.calls = 0
        self._lock = threading.Lock()
        self._active = 0
        self._queue: list[_Request] = []

    def blackbox(self, batch_size: int | None = None) -> BlackBox:
        """A :class:`~evoxplain.BlackBox` for the explainers: it counts their queries (against what is
        left of the model's budget, so a query past it is refused in the thread that asks) and
        sends them here."""
        inner = self.inner
        return BlackBox(
            self, output=inner._declared_output, batch_size=batch_size or inner.batch_size, budget=inner.remaining,
            num_classes=inner.num_classes, precision=inner.precision, device=inner.device,
        )  # fmt: skip

    def join(self, count: int = 1) -> None:
        """``count`` more threads query through here: calls wait for them too (join them all before
        any starts, so the first calls are shared as well)."""
        with self._lock:
            self._active += count

    def leave(self) -> None:
        """The calling thread sends no more queries (the others stop waiting for it)."""
        with self._lock:
            self._active -= 1
            ready = self._take_if_ready()
        self._send(ready)

    @contextlib.contextmanager
    def explaining(self) -> Iterator[None]:
        """The calling thread queries through here inside the block (:meth:`join`, then :meth:`leave`)."""
        self.join()
        try:
            yield
        finally:
            self.leave()

    def __call__(self, batch: Any) -> torch.Tensor:
        request = _Request(batch)
        with self._lock:
            self._queue.append(request)
            ready = self._take_if_ready()
        self._send(ready)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _take_if_ready(self) -> list[_Request]:
        """The queued requests, taken, if every active thread waits or the batch is full (lock held)."""
        queued = sum(len(r.batch) for r in self._queue)
        if self._queue and (len(self._queue) >= self._active or queued >= self.max_batch):
            taken, self._queue = self._queue, []
            self.calls += 1
            return taken
        return []

    def _send(self, requests: list[_Request]) -> None:
        """One model call for ``requests``; on failure, one call each, so only the broken one fails."""
        if not requests:
            return
        try:
            answers = self.inner(_concat([r.batch for r in requests]), batch_size=self.max_batch)
        except Exception as err:
            if len(requests) == 1:
                requests[0].error = err
                requests[0].done.set()
                return
            for request in requests:
                with self._lock:
                    self.calls += 1
                self._send([request])
            return
        start = 0
        for request in requests:
            request.result = answers[start : start + len(request.batch)]
            start += len(request.batch)
            request.done.set()


def _concat(batches: list[Any]) -> Any:
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], torch.Tensor):
        return torch.cat(batches)
    return [item for batch in batches for item in batch]
