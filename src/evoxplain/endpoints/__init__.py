"""Models behind an endpoint: black boxes served over HTTP, as first-class as local models.

* :class:`InferenceEndpoint`: the Open Inference Protocol (KServe v2 REST: KServe, MLServer,
  Triton, TorchServe's v2 API), JSON or binary tensors;
* :class:`MLflowEndpoint`: MLflow's scoring server (``/invocations``);
* :class:`JSONEndpoint`: any JSON API, from two small functions.

Each is accepted wherever a model is (:class:`~evoxplain.BlackBox`, every explainer,
:class:`~evoxplain.ExemplarSearch`, the metrics, the CLI's ``--model``), and a URL alone is
enough where the server describes its model: ``BlackBox("http://host:port/v2/models/NAME")``
(:func:`endpoint_from_url`). Batches are split into requests of ``max_batch`` inputs with
``concurrency`` in flight; faults are retried within bounds; the BlackBox counts what a paid
endpoint bills (``sent``, ``requests``, ``retries``, ``bytes_sent``) and its budget caps the
inputs sent, retries included. HTTP needs ``pip install 'evoxplain[endpoints]'`` (urllib3).

Example:
    >>> from evoxplain.endpoints import InferenceEndpoint
    >>> endpoint = InferenceEndpoint("http://127.0.0.1:8080/v2/models/lenet", max_batch=64, concurrency=4,
    ...                              token_env=None, ready=False)
    >>> endpoint
    InferenceEndpoint('http://127.0.0.1:8080/v2/models/lenet', max_batch=64, concurrency=4)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInputError
from .base import Endpoint, Ledger
from .http import RetryPolicy, Secret, safe_url
from .json_endpoints import JSONEndpoint, MLflowEndpoint
from .oip import InferenceEndpoint


def is_url(model: Any) -> bool:
    """Whether ``model`` is an http(s) URL (a string)."""
    return isinstance(model, str) and model.lower().startswith(("http://", "https://"))


def endpoint_from_url(url: str, **options: Any) -> Endpoint:
    """The endpoint a URL names: ``.../v2/models/NAME`` is the Open Inference Protocol,
    ``.../invocations`` MLflow's scoring server; ``options`` go to its constructor.

    Example:
        >>> endpoint_from_url("http://127.0.0.1:5000/invocations", ready=False).kind
        'mlflow'
    """
    path = urlsplit(url).path.rstrip("/")
    if "/v2/models/" in path:
        return InferenceEndpoint(url, **options)
    if path.endswith("/invocations"):
        return MLflowEndpoint(url, **options)
    raise InvalidInputError(
        f"{safe_url(url)} is neither an Open Inference Protocol model (http://host:port/v2/models/NAME) nor an MLflow "
        "scoring server (http://host:port/invocations); for another API use "
        "evoxplain.endpoints.JSONEndpoint(url, encode=..., decode=...)"
    )


__all__ = [
    "Endpoint",
    "InferenceEndpoint",
    "JSONEndpoint",
    "Ledger",
    "MLflowEndpoint",
    "RetryPolicy",
    "Secret",
    "endpoint_from_url",
    "is_url",
]
