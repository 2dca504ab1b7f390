"""HTTP for endpoints: pooled keep-alive connections, bounded retries, credentials kept secret.

:class:`Connection` wraps one ``urllib3.PoolManager``. :meth:`Connection.post` sends one request
and retries it, a bounded number of times, on what a healthy server recovers from: connection
errors and resets, read timeouts, bodies cut short, and 429, 502, 503 and 504 answers, waiting
``Retry-After`` when the server gives it and otherwise an exponential backoff with jitter drawn
from a generator seeded per request. Any other 4xx or 5xx fails at once with the server's own
message. A complete body that is not a valid answer is retried once (the caller decides, see
:class:`MalformedAnswer`). Every attempt is charged before it is sent (:class:`Charge`), so a
budget caps retries too.

Credentials (a bearer token, or a header of your own) come from an argument or an environment
variable and are kept in a :class:`Secret`: they never appear in a repr, an error or a log line
(any text from the server is scrubbed of them too).

Example:
    >>> Secret.from_env("NO_SUCH_VARIABLE") is None, repr(Secret("s3cret"))
    (True, 'Secret(***)')
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from ..errors import InvalidInputError, ModelCallError, ModelOutputError, require

RETRY_STATUS = (429, 502, 503, 504)


class Secret:
    """A credential: its value is only ever put in a request header."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value:
            raise InvalidInputError("a token must be a non-empty string")
        self._value = value

    @classmethod
    def from_env(cls, name: str | None) -> Secret | None:
        """The value of environment variable ``name`` (None if unset or empty)."""
        value = os.environ.get(name) if name else None
        return cls(value) if value else None

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a Secret is not pickled or copied to files")


class Charge(Protocol):
    """What a request costs, checked and counted before it is sent (the BlackBox's ledger)."""

    def send(self, inputs: int, *, size: int = 0, retry: bool = False) -> None: ...


class MalformedAnswer(Exception):
    """Raised by a decoder for a complete body that is not a valid answer (retried once)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a request is retried.

    Attributes:
        retries: retries after the first attempt, at most (connection errors, 429/502/503/504).
        backoff: the first wait, in seconds; each further wait doubles, up to ``backoff_max``,
            with equal jitter (half fixed, half drawn from a generator seeded per request).
        backoff_max: the longest backoff wait.
        retry_after_max: the longest ``Retry-After`` honoured; a server asking for longer fails
            the request at once (waiting would look like a hang).
        connect_timeout, read_timeout: seconds to connect, and to wait for an answer.
        seed: seeds the jitter (with the request's number).
    """

    retries: int = 5
    backoff: float = 0.05
    backoff_max: float = 2.0
    retry_after_max: float = 30.0
    connect_timeout: float = 3.0
    read_timeout: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidInputError(f"retries must be a non-negative integer, not {self.retries!r}")
        for name in ("backoff", "backoff_max", "retry_after_max", "connect_timeout", "read_timeout"):
            value = getattr(self, name)
            least = 0.0 if name == "backoff" else 1e-3
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= least:
                raise InvalidInputError(f"{name} must be a positive number of seconds, not {value!r}")

    def wait(self, attempt: int, request: int) -> float:
        """The backoff before retry ``attempt`` (1, 2, ...) of request number ``request``."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        jitter = np.random.default_rng([self.seed, request, attempt]).random()
        return ceiling * (0.5 + 0.5 * jitter)


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes


class Connection:
    """Pooled HTTP to one server, with credentials and a :class:`RetryPolicy`.

    Args:
        url: the endpoint's URL (http or https; no credentials in it).
        token: a bearer token (a :class:`Secret`), sent as ``Authorization: Bearer ...`` or as
            ``header`` when given.
        header: the header that carries the token instead (e.g. ``"X-API-Key"``).
        policy: retries and timeouts.
        pool_size: connections kept alive (one per request in flight).
    """

    def __init__(
        self,
        url: str,
        *,
        token: Secret | None = None,
        header: str | None = None,
        policy: RetryPolicy | None = None,
        pool_size: int = 1,
    ):
        self.url = check_url(url)
        self.policy = policy or RetryPolicy()
        self._token = token
        self._header = header or "Authorization"
        self._prefix = "" if header else "Bearer "
        self._pool: Any = None
        self._pool_size = pool_size
        self._pool_lock = threading.Lock()
        self._requests = 0

    def __repr__(self) -> str:
        return f"Connection({self.url!r}, token={'***' if self._token else None})"

    def scrub(self, text: str) -> str:
        """``text`` with the token replaced by ``***`` (server messages may echo a request)."""
        return text.replace(self._token.reveal(), "***") if self._token else text

    def _manager(self):
        with self._pool_lock:
            if self._pool is None:
                urllib3 = require("urllib3", "endpoints", "Models behind an endpoint")
                self._pool = urllib3.PoolManager(maxsize=self._pool_size, block=False, retries=False)
            return self._pool

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self._token is not None:
            out[self._header] = self._prefix + self._token.reveal()
        return out

    def get(self, url: str, *, timeout: float = 5.0, attempts: int = 2) -> Response:
        """One GET (readiness, metadata), retried once on a connection error; a server that cannot
        be reached, or that refuses the credentials, is a :class:`ModelCallError` saying which URL
        and what to check, in seconds."""
        urllib3 = require("urllib3", "endpoints", "Models behind an endpoint")
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                raw = self._manager().request(
                    "GET",
                    url,
                    headers=self._headers(None),
                    timeout=urllib3.Timeout(connect=min(timeout, self.policy.connect_timeout), read=timeout),
                )
                response = Response(raw.status, raw.headers, raw.data)
            except urllib3.exceptions.HTTPError as err:
                last = err
                if attempt + 1 < attempts:
                    time.sleep(0.2)
                continue
            if response.status in (401, 403):
                raise ModelCallError(
                    f"{safe_url(url)} refused the credentials (HTTP {response.status}): check the token (token= or "
                    "token_env=, --token-env) and the header it goes in (header=)"
                )
            return response
        raise ModelCallError(
            f"cannot reach {safe_url(url)} ({describe(last)}): check that the server is running and listening "
            "at that host and port, and that the URL is right"
        )

    def post(
        self,
        url: str,
        body: bytes,
        *,
        headers: dict[str, str],
        inputs: int,
        charge: Charge,
        decode: Callable[[Response], Any],
        refused: Callable[[Response], str],
    ) -> Any:
        """Send ``body`` (``inputs`` inputs) and return ``decode(response)``, retrying as the module
        says; ``refused`` words a 4xx/5xx that is not retried. Each attempt is charged first."""
        urllib3 = require("urllib3", "endpoints", "Models behind an endpoint")
        policy, manager = self.policy, self._manager()
        request = self._next_request()
        timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
        sent_headers = self._headers(headers)
        last, malformed_retried = "no answer", False
        for attempt in range(policy.retries + 1):
            charge.send(inputs, size=len(body), retry=attempt > 0)
            wait = None
            try:
                raw = manager.request("POST", url, body=body, headers=sent_headers, timeout=timeout)
                response = Response(raw.status, raw.headers, raw.data)
            except urllib3.exceptions.HTTPError as err:  # resets, refused, timeouts, bodies cut short
                last = describe(err)
            else:
                if response.status in RETRY_STATUS:
                    last = f"HTTP {response.status}"
                    wait = self._retry_after(response, url)
                elif response.status >= 400:
                    raise ModelCallError(self.scrub(refused(response)))
                else:
                    try:
                        return decode(response)
                    except MalformedAnswer as err:
                        if malformed_retried:
                            raise ModelOutputError(
                                f"{safe_url(url)} answered twice with a body that is not a valid answer: "
                                f"{self.scrub(str(err))}"
                            ) from None
                        malformed_retried, last = True, f"malformed answer ({self.scrub(str(err))})"
                        continue
            if attempt < policy.retries:
                time.sleep(max(wait or 0.0, policy.wait(attempt + 1, request)))
        raise RetriesExhausted(last, policy.retries)

    def _next_request(self) -> int:
        self._requests += 1  # only seeds the jitter: a race merely reuses a jitter stream
        return self._requests

    def _retry_after(self, response: Response, url: str) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value) if value else None
            seconds = when.timestamp() - time.time() if when is not None else 0.0
        seconds = max(0.0, seconds)
        if seconds > self.policy.retry_after_max:
            raise ModelCallError(
                f"{safe_url(url)} answered HTTP {response.status} and asks to wait {seconds:.0f} s before retrying, "
                f"longer than retry_after_max={self.policy.retry_after_max:g} s: try again later, or raise it"
            )
        return seconds

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()


class RetriesExhausted(Exception):
    """Every attempt of one request failed (the endpoint words the :class:`ModelCallError`)."""

    def __init__(self, last: str, retries: int):
        super().__init__(last)
        self.last = last
        self.retries = retries


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL without credentials in it, else a clear error."""
    if not isinstance(url, str):
        raise InvalidInputError(f"an endpoint URL must be a string, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidInputError(
            "the endpoint URL holds credentials (user:password@): pass them as token= or token_env= instead, "
            "so they never reach a log or a results file"
        )
    return url.rstrip("/")


def safe_url(url: str) -> str:
    """``url`` without its query string (where keys sometimes hide)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def describe(err: Exception | None) -> str:
    """A connection error in a few words (urllib3 nests the cause)."""
    if err is None:
        return "no answer"
    reason = getattr(err, "reason", None) or err
    text = str(reason)
    for words, short in (
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset"),
        ("timed out", "timed out"),
        ("IncompleteRead", "body cut short"),
        ("Connection aborted", "connection dropped"),
        ("RemoteDisconnected", "connection dropped"),
    ):
        if words in text or words in type(reason).__name__:
            return short
    return f"{type(reason).__name__}: {text.split(': ', 1)[-1][:200]}"
