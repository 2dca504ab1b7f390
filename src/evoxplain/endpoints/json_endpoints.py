"""Endpoints that speak plain JSON: MLflow's scoring server, and any in-house API.

* :class:`MLflowEndpoint`: ``POST /invocations`` with ``{"inputs": ...}`` (tensors, lists of
  strings) or ``{"dataframe_split": {"columns": ..., "data": ...}}`` (tables), ``predictions``
  back; readiness from ``GET /ping``.
* :class:`JSONEndpoint`: the URL and two small functions, ``encode(batch) -> JSON value`` and
  ``decode(JSON value) -> (batch, classes) scores``, so any API fits.

Example:
    >>> endpoint = MLflowEndpoint("http://127.0.0.1:5000/invocations", ready=False)
    >>> loads(mlflow_body(np.ones((1, 2), np.float32), "inputs", None))
    {'inputs': [[1.0, 1.0]]}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import InvalidInputError, ModelCallError
from .base import Endpoint, Ledger, as_array
from .http import MalformedAnswer, Response, safe_url
from .oip import dumps, loads, message

FORMATS = ("inputs", "dataframe_split")


class MLflowEndpoint(Endpoint):
    """A model served by ``mlflow models serve`` (its scoring server).

    Args:
        url: ``http(s)://host:port/invocations`` (or the server's root).
        format: ``"inputs"`` (tensors and lists of strings, the default) or ``"dataframe_split"``
            (tables: ``columns`` names them).
        columns: the column names for ``dataframe_split`` (default ``"0", "1", ...``).
        **options: what every endpoint takes (:class:`~evoxplain.endpoints.Endpoint`).

    Example:
        >>> MLflowEndpoint("http://127.0.0.1:5000", format="dataframe_split", ready=False).url
        'http://127.0.0.1:5000/invocations'
    """

    kind = "mlflow"

    def __init__(self, url: str, *, format: str = "inputs", columns: list[str] | None = None, **options: Any):
        if format not in FORMATS:
            raise InvalidInputError(f"format must be one of {FORMATS}, not {format!r}")
        self.format, self.columns = format, None if columns is None else [str(c) for c in columns]
        parts = urlsplit(url)
        if not parts.path.rstrip("/").endswith("/invocations"):
            url = url.rstrip("/") + "/invocations"
        super().__init__(url, **options)

    def check_ready(self) -> None:
        """``GET /ping`` on the scoring server: 200 once the model is loaded."""
        ping = self.url[: -len("/invocations")] + "/ping"
        answer = self.http.get(ping)
        if answer.status != 200:
            raise ModelCallError(
                f"{safe_url(ping)} answered HTTP {answer.status} ({message(answer)}): the MLflow scoring server is up "
                "but its model is not loaded; check the server's log"
            )
        self._ready = True

    def identity(self) -> str:
        return f"mlflow {safe_url(self.url)} format={self.format} columns={self.columns}"

    def _request(self, batch: Any, ledger: Ledger) -> np.ndarray:
        data = as_array(batch)
        body = mlflow_body(data, self.format, self.columns)
        return post_json(self, body, inputs=len(data), ledger=ledger, read=mlflow_predictions)


class JSONEndpoint(Endpoint):
    """Any JSON API: ``encode`` turns a batch into the request's JSON value, ``decode`` the
    answer's JSON value into ``(batch, classes)`` scores (or one score per input).

    Args:
        url: where the batch is POSTed.
        encode: a batch (a numpy array, or a list of strings) → a JSON value.
        decode: the parsed answer → scores, one row per input.
        health: a URL that answers 200 when the model is ready (checked before the first query);
            None: no check.
        name: what names the model in a journal (default: the URL).
        **options: what every endpoint takes (:class:`~evoxplain.endpoints.Endpoint`).

    Example:
        >>> endpoint = JSONEndpoint("http://127.0.0.1:8000/score", encode=lambda rows: {"rows": rows.tolist()},
        ...                         decode=lambda answer: answer["probabilities"], ready=False)
        >>> endpoint.identity()
        'json http://127.0.0.1:8000/score'
    """

    kind = "json"

    def __init__(
        self,
        url: str,
        *,
        encode: Callable[[Any], Any],
        decode: Callable[[Any], Any],
        health: str | None = None,
        name: str | None = None,
        **options: Any,
    ):
        if not callable(encode) or not callable(decode):
            raise InvalidInputError("encode and decode must be functions (batch -> JSON value, JSON value -> scores)")
        self.encode, self.decode, self.health, self.name = encode, decode, health, name
        super().__init__(url, **options)

    def check_ready(self) -> None:
        if self.health is not None:
            answer = self.http.get(self.health)
            if answer.status != 200:
                raise ModelCallError(f"{safe_url(self.health)} answered HTTP {answer.status} ({message(answer)})")
        self._ready = True

    def identity(self) -> str:
        return self.name or f"json {safe_url(self.url)}"

    def _request(self, batch: Any, ledger: Ledger) -> np.ndarray:
        data = as_array(batch)

        def decode(answer: Any) -> np.ndarray:
            try:
                return np.asarray(self.decode(answer), dtype=np.float32)
            except MalformedAnswer:
                raise
            except Exception as err:  # the user's decoder could not read it
                raise MalformedAnswer(f"decode raised {type(err).__name__}: {err}") from None

        try:
            body = dumps(self.encode(data))
        except Exception as err:
            raise InvalidInputError(f"encode raised {type(err).__name__} on a batch of {len(data)}: {err}") from err
        return post_json(self, body, inputs=len(data), ledger=ledger, read=decode)


def post_json(
    endpoint: Endpoint, body: bytes, *, inputs: int, ledger: Ledger, read: Callable[[Any], Any]
) -> np.ndarray:
    """POST a JSON body to the endpoint and ``read`` its parsed answer (a body that is not JSON
    is malformed: retried once)."""

    def decode(response: Response) -> np.ndarray:
        try:
            value = loads(response.body)
        except ValueError as err:
            raise MalformedAnswer(f"not JSON ({err})") from None
        return read(value)

    def refused(response: Response) -> str:
        if response.status in (401, 403):
            return (
                f"{safe_url(endpoint.url)} refused the credentials (HTTP {response.status}: {message(response)}): "
                "check the token (token= or token_env=) and the header it goes in (header=)"
            )
        return f"{safe_url(endpoint.url)} refused the request (HTTP {response.status}): {message(response)}"

    return endpoint.http.post(
        endpoint.url,
        body,
        headers={"Content-Type": "application/json"},
        inputs=inputs,
        charge=ledger,
        decode=decode,
        refused=refused,
    )


def mlflow_body(data: np.ndarray | list[str], format: str, columns: list[str] | None) -> bytes:
    """The body of one ``/invocations`` request."""
    if format == "inputs":
        return dumps({"inputs": data})
    if isinstance(data, list):
        return dumps({"dataframe_split": {"columns": columns or ["text"], "data": [[t] for t in data]}})
    rows = data.reshape(len(data), -1)
    names = columns or [str(i) for i in range(rows.shape[1])]
    if len(names) != rows.shape[1]:
        raise InvalidInputError(f"columns names {len(names)} columns but each input has {rows.shape[1]} features")
    return dumps({"dataframe_split": {"columns": names, "data": rows}})


def mlflow_predictions(value: Any) -> np.ndarray:
    """The scores in an MLflow answer: ``predictions`` as lists, numbers, or records of columns."""
    if not isinstance(value, dict) or "predictions" not in value:
        raise MalformedAnswer("an MLflow answer holds 'predictions'")
    rows = value["predictions"]
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        rows = [list(row.values()) for row in rows]
    try:
        return np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise MalformedAnswer(f"the predictions are not numbers ({err})") from None
