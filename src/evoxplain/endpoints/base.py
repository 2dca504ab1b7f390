"""What every endpoint shares: readiness, splitting a batch into requests, requests in flight.

An :class:`Endpoint` answers a batch (a tensor, an array or a list of strings) the way a local
model does, as ``(batch, classes)`` scores. :meth:`Endpoint.query` splits the batch into
requests of at most ``max_batch`` inputs, keeps ``concurrency`` of them in flight over pooled
keep-alive connections (a thread pool: it works inside Jupyter, no event loop is needed), hands
each answer to the BlackBox's ledger as it arrives (so a journal keeps it even if a later request
fails) and reassembles the answers in order. A subclass says how a request is encoded and an
answer decoded (:meth:`Endpoint._request`), how readiness is checked and what names the model.

Example:
    >>> from evoxplain.endpoints import JSONEndpoint
    >>> endpoint = JSONEndpoint("http://127.0.0.1:8000/predict", encode=lambda b: {"rows": b.tolist()},
    ...                         decode=lambda answer: answer["scores"], ready=False)
    >>> endpoint.max_batch, endpoint.concurrency
    (64, 4)
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import InvalidInputError, ModelCallError, ModelOutputError
from .http import Connection, RetriesExhausted, RetryPolicy, Secret, safe_url


class Ledger(Protocol):
    """What the BlackBox gives a query: ``send`` charges an attempt before it goes out,
    ``answered`` takes the answers of the ``size`` inputs from ``start`` on of the batch."""

    def send(self, inputs: int, *, size: int = 0, retry: bool = False) -> None: ...

    def answered(self, start: int, raw: Any, size: int) -> None: ...


class Endpoint:
    """A model behind a URL (base class; see :class:`InferenceEndpoint`, :class:`MLflowEndpoint`,
    :class:`JSONEndpoint`).

    Args:
        url: the endpoint's URL.
        max_batch: the most inputs in one request.
        concurrency: requests in flight at once.
        token: a bearer token (or the value of ``header``); never shown anywhere.
        token_env: the environment variable that holds the token (used when ``token`` is None).
        header: the header that carries the token (default ``Authorization: Bearer <token>``).
        retries, backoff, backoff_max, retry_after_max, connect_timeout, read_timeout, seed: how
            a failed request is retried (:class:`~evoxplain.endpoints.http.RetryPolicy`).
        ready: check the server's readiness route before the first query (at construction).
    """

    kind = "endpoint"

    def __init__(
        self,
        url: str,
        *,
        max_batch: int = 64,
        concurrency: int = 4,
        token: str | None = None,
        token_env: str | None = None,
        header: str | None = None,
        retries: int = 5,
        backoff: float = 0.05,
        backoff_max: float = 2.0,
        retry_after_max: float = 30.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 60.0,
        seed: int = 0,
        ready: bool = True,
    ):
        for name, value in (("max_batch", max_batch), ("concurrency", concurrency)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")
        if token_env is not None and token is None and Secret.from_env(token_env) is None:
            raise InvalidInputError(f"token_env={token_env!r} names an environment variable that is not set or empty")
        secret = Secret(token) if token is not None else Secret.from_env(token_env)
        policy = RetryPolicy(
            retries=retries,
            backoff=backoff,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            seed=seed,
        )
        self.max_batch = int(max_batch)
        self.concurrency = int(concurrency)
        self.http = Connection(url, token=secret, header=header, policy=policy, pool_size=self.concurrency)
        self.url = self.http.url
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._ready = False
        if ready:
            self.check_ready()

    # -- to implement ---------------------------------------------------------------------------

    def check_ready(self) -> None:
        """Ask the server whether the model is ready; a clear error within seconds if not."""
        self._ready = True

    def _request(self, batch: Any, ledger: Ledger) -> np.ndarray:
        """Send one request of ``batch`` and return its ``(len(batch), ...)`` answer."""
        raise NotImplementedError

    def identity(self) -> str:
        """What names the model in a journal (never credentials)."""
        return f"{self.kind} {safe_url(self.url)}"

    # -- public ---------------------------------------------------------------------------------

    def query(self, batch: Any, ledger: Ledger) -> np.ndarray:
        """The answers to ``batch``, in order, from requests of at most ``max_batch`` inputs with up
        to ``concurrency`` in flight; each answer goes to ``ledger.answered`` as it arrives."""
        if not self._ready:
            self.check_ready()
        starts = range(0, len(batch), self.max_batch)

        def one(start: int) -> np.ndarray:
            part = batch[start : start + self.max_batch]
            raw = self._request(part, ledger)
            if len(raw) != len(part):
                raise ModelOutputError(
                    f"{safe_url(self.url)} returned {len(raw)} rows for {len(part)} inputs; it must answer one each"
                )
            ledger.answered(start, raw, len(part))
            return raw

        if len(starts) == 1 or self.concurrency == 1:
            futures = []
            for start in starts:  # one at a time, in the caller's thread
                futures.append(Future())
                try:
                    futures[-1].set_result(one(start))
                except Exception as err:  # reported below, with what was answered
                    futures[-1].set_exception(err)
                    break
        else:
            futures = [self._executor().submit(one, start) for start in starts]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()  # those not started yet; those in flight finish and are journaled
            wait(futures)
        failed = [f for f in futures if not f.cancelled() and f.exception() is not None]
        if failed:
            answered = sum(len(f.result()) for f in futures if not f.cancelled() and f.exception() is None)
            self._raise(failed[0].exception(), answered=answered, total=len(batch))
        return np.concatenate([f.result() for f in futures]) if len(futures) > 1 else futures[0].result()

    def close(self) -> None:
        """Stop the request threads and close the pooled connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.http.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({safe_url(self.url)!r}, max_batch={self.max_batch}, "
            f"concurrency={self.concurrency}{', token=***' if self.http._token else ''})"
        )

    # -- internals ------------------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="evoxplain-endpoint")
            return self._pool

    def _raise(self, error: BaseException, *, answered: int, total: int) -> None:
        """Raise ``error``; retries that ran out as a :class:`ModelCallError` naming the endpoint,
        the last failure and how many inputs were answered before."""
        if isinstance(error, RetriesExhausted):
            raise ModelCallError(
                f"{safe_url(self.url)} failed {error.retries + 1} times in a row (last: {error.last}); {answered} of "
                f"the {total} inputs of this batch were answered (kept in the journal, if the BlackBox has one). "
                "Check the server, or raise retries= for a flaky one"
            ) from None
        raise error


def as_array(batch: Any) -> np.ndarray | list[str]:
    """A batch as a C-contiguous numpy array (tensors and arrays) or a list of strings."""
    if isinstance(batch, torch.Tensor):
        return np.ascontiguousarray(batch.detach().cpu().numpy())
    if isinstance(batch, np.ndarray):
        return np.ascontiguousarray(batch)
    if all(isinstance(item, str) for item in batch):
        return list(batch)
    raise InvalidInputError(f"an endpoint takes tensors, arrays or lists of strings, not {type(batch).__name__}")
