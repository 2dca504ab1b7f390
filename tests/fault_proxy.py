"""A seeded fault-injecting reverse proxy for the endpoint tests and the remote benchmark.

It listens on 127.0.0.1, forwards every request to one upstream server, and faults a share of the
POSTs (inference requests; readiness and metadata GETs always pass), each decision drawn from a
generator seeded with ``seed`` and the request's number:

* ``503``: answers 503 without forwarding; ``429``: answers 429 with ``Retry-After``;
* ``reset``: reads the request, then resets the connection (no answer);
* ``latency``: waits ``delay`` seconds, then forwards (a slow server, not an error);
* ``truncate``: forwards, then sends the answer's headers and half its body and closes;
* ``garbage`` (only when asked for): answers 200 with a body that is not an answer.

``script`` gives the faults of the first POSTs in order (None: pass), before the seeded draws.

With ``token``, it is also the gateway that checks credentials: a request without
``Authorization: Bearer <token>`` gets 401 (as an API gateway in front of a model server would).

Every POST is logged: its number, the fault, whether it reached the server and how many inputs
it carried (read from an Open Inference Protocol or MLflow body), so tests can add up the
client's counters. Loopback only; it stops with :meth:`FaultProxy.stop` (or ``with``).

Example::

    with FaultProxy("http://127.0.0.1:8080", rate=0.3, seed=0) as proxy:
        BlackBox(proxy.url + "/v2/models/lenet")
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np

FAULTS = ("503", "429", "reset", "latency", "truncate")
KINDS = (*FAULTS, "garbage")


class FaultProxy:
    """A reverse proxy to ``upstream`` that faults ``rate`` of the POSTs (see the module)."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.2,
        seed: int = 0,
        faults: tuple[str, ...] = FAULTS,
        retry_after: str = "1",
        delay: float = 0.2,
        max_requests: int = 100_000,
        token: str | None = None,
        script: tuple[str | None, ...] = (),
    ):
        unknown = (set(faults) | set(script)) - set(KINDS) - {None}
        if unknown or not 0 <= rate <= 1:
            raise ValueError(f"faults must be among {KINDS} and rate in [0, 1]; got {sorted(unknown)}, {rate}")
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rate, self.seed, self.faults, self.script = rate, seed, faults, script
        self.retry_after, self.delay, self.max_requests, self.token = retry_after, delay, max_requests, token
        self.refused = 0
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def decide(self) -> tuple[int, str | None]:
        """The next POST's number and fault (None: forwarded untouched)."""
        with self._lock:
            index = len(self.log)
            if index >= self.max_requests:
                raise RuntimeError(f"the fault proxy stops after {self.max_requests} requests")
            self.log.append({})
        if index < len(self.script):
            return index, self.script[index]
        draw = np.random.default_rng([self.seed, index])
        fault = self.faults[int(draw.integers(len(self.faults)))] if draw.random() < self.rate else None
        return index, fault

    def faulted(self) -> int:
        """POSTs that were faulted so far (latency included)."""
        return sum(1 for entry in self.log if entry.get("fault"))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def inputs_in(body: bytes, headers) -> int:
    """How many inputs an inference body carries (0 if it cannot tell)."""
    try:
        length = headers.get("Inference-Header-Content-Length")
        request = json.loads(body[: int(length)] if length else body)
        if "inputs" in request and isinstance(request["inputs"], list) and request["inputs"]:
            first = request["inputs"][0]
            return int(first["shape"][0]) if isinstance(first, dict) else len(request["inputs"])
        if "dataframe_split" in request:
            return len(request["dataframe_split"]["data"])
    except (ValueError, KeyError, TypeError, IndexError):
        pass
    return 0


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self._authorised():
                self._forward(b"")

        def _authorised(self) -> bool:
            if proxy.token is None or self.headers.get("Authorization") == f"Bearer {proxy.token}":
                return True
            proxy.refused += 1
            self._reply(401, b'{"error": "invalid or missing bearer token"}', {})
            return False

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self._authorised():
                return
            index, fault = proxy.decide()
            entry = {"index": index, "fault": fault, "inputs": inputs_in(body, self.headers), "forwarded": False}
            proxy.log[index] = entry
            if fault == "garbage":
                self._reply(200, b"<html>502 upstream hiccup</html>", {"Content-Type": "text/html"})
            elif fault in ("503", "429"):
                extra = {"Retry-After": proxy.retry_after} if fault == "429" else {}
                self._reply(int(fault), b'{"error": "injected fault"}', extra)
            elif fault == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
            else:
                if fault == "latency":
                    time.sleep(proxy.delay)
                entry["forwarded"] = True
                self._forward(body, truncate=fault == "truncate")

        def _forward(self, body: bytes, truncate: bool = False) -> None:
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in ("transfer-encoding", "connection")}
            finally:
                upstream.close()
            kept["Content-Length"] = str(len(data))
            if truncate:
                self.send_response(answer.status)
                for key, value in kept.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._reply(answer.status, data, {k: v for k, v in kept.items() if k.lower() != "content-length"})

        def _reply(self, status: int, data: bytes, headers: dict) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
