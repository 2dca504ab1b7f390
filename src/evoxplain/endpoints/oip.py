"""The Open Inference Protocol (KServe v2 REST): KServe, MLServer, Triton, TorchServe's v2 API.

``InferenceEndpoint("http://host:port/v2/models/NAME")`` reads the model's metadata
(``GET /v2/models/NAME``: its input's name, datatype and shape) and the server's (``GET /v2``:
whether it lists the ``binary_tensor_data`` extension), so the URL alone is enough where the
server publishes them; arguments fill in or override what it does not. Tensors go as JSON or,
where the server lists the binary tensor extension, as raw little-endian bytes after a JSON header
(``Inference-Header-Content-Length``); lists of strings go as ``BYTES``.

Example:
    >>> request, headers = encode_request(np.zeros((2, 3), np.float32), name="x", datatype="FP32", binary=True)
    >>> headers["Inference-Header-Content-Length"], len(request) - int(headers["Inference-Header-Content-Length"])
    ('135', 24)
"""

from __future__ import annotations

import json
import struct
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import InvalidInputError, ModelCallError
from .base import Endpoint, Ledger, as_array
from .http import MalformedAnswer, Response, safe_url

DATATYPES = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
HEADER_LENGTH = "Inference-Header-Content-Length"

try:  # an optional speed-up: float32 arrays as their shortest decimal, numpy-aware
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)

    loads = orjson.loads
except ImportError:  # pragma: no cover - the standard library gives the same values, longer

    def dumps(value: Any) -> bytes:
        return json.dumps(value, default=lambda a: a.tolist(), separators=(",", ":")).encode()

    loads = json.loads


class InferenceEndpoint(Endpoint):
    """A model served over the Open Inference Protocol (v2 REST).

    Args:
        url: ``http(s)://host:port/v2/models/NAME`` (``/versions/V`` may follow).
        input_name, datatype, shape: the model's input: its name, its datatype (``"FP32"``,
            ``"BYTES"`` for text, ...) and the shape of one input; default: the model's metadata.
        output_name: the output to read (and ask for); default: the first the server returns.
        binary: send and receive tensors as raw bytes (the binary tensor extension); None: where
            the server lists ``binary_tensor_data``.
        **options: what every endpoint takes (:class:`~evoxplain.endpoints.Endpoint`):
            ``max_batch``, ``concurrency``, ``token``/``token_env``/``header``, retries, timeouts.

    Example:
        >>> endpoint = InferenceEndpoint("http://127.0.0.1:8080/v2/models/lenet", input_name="x",
        ...                              datatype="FP32", shape=(1, 28, 28), ready=False)
        >>> endpoint.model, endpoint.infer_url
        ('lenet', 'http://127.0.0.1:8080/v2/models/lenet/infer')
    """

    kind = "oip"

    def __init__(
        self,
        url: str,
        *,
        input_name: str | None = None,
        datatype: str | None = None,
        shape: tuple[int, ...] | None = None,
        output_name: str | None = None,
        binary: bool | None = None,
        **options: Any,
    ):
        self.base, self.model, self.version = split_model_url(url)
        if datatype is not None and datatype != "BYTES" and datatype not in DATATYPES:
            raise InvalidInputError(f"datatype must be BYTES or one of {', '.join(DATATYPES)}, not {datatype!r}")
        self.input_name, self.datatype, self.output_name, self.binary = input_name, datatype, output_name, binary
        self.shape = None if shape is None else tuple(int(s) for s in shape)
        self.metadata: dict[str, Any] = {}
        super().__init__(url, **options)

    @property
    def model_url(self) -> str:
        return f"{self.base}/v2/models/{self.model}" + (f"/versions/{self.version}" if self.version else "")

    @property
    def infer_url(self) -> str:
        return f"{self.model_url}/infer"

    def check_ready(self) -> None:
        """``GET .../ready``, then the model's and the server's metadata; a clear error if the
        server is down, the model is not loaded or its input cannot be told."""
        ready = self.http.get(f"{self.model_url}/ready")
        if ready.status != 200:
            raise ModelCallError(
                f"{safe_url(self.model_url)} is not ready (HTTP {ready.status}: {message(ready)}): check that the "
                f"server has loaded a model named {self.model!r}" + (f" version {self.version}" if self.version else "")
            )
        meta = self.http.get(self.model_url)
        self.metadata = parse_json(meta) if meta.status == 200 else {}
        inputs = self.metadata.get("inputs") or []
        if len(inputs) > 1 and self.input_name is None:
            names = ", ".join(repr(i.get("name")) for i in inputs)
            raise InvalidInputError(
                f"{self.model} takes several inputs ({names}); evoxplain sends one: pass input_name= to choose it"
            )
        known = next((i for i in inputs if self.input_name in (None, i.get("name"))), {})
        self.input_name = self.input_name or known.get("name")
        self.datatype = self.datatype or known.get("datatype")
        if self.shape is None and known.get("shape"):
            self.shape = tuple(int(s) for s in known["shape"][1:])
        if self.input_name is None:
            raise InvalidInputError(
                f"{safe_url(self.model_url)} publishes no input name in its metadata: pass input_name= (and "
                "datatype=, shape= if it needs them)"
            )
        if self.binary is None:
            server = self.http.get(f"{self.base}/v2")
            extensions = parse_json(server).get("extensions", []) if server.status == 200 else []
            self.binary = "binary_tensor_data" in extensions
        self._ready = True

    def identity(self) -> str:
        if not self._ready:  # the metadata is part of it
            self.check_ready()
        meta = {k: self.metadata.get(k) for k in ("name", "versions", "platform", "inputs", "outputs")}
        return f"oip {safe_url(self.model_url)} {json.dumps(meta, sort_keys=True)} output={self.output_name}"

    def input_shape(self) -> tuple[int, ...] | None:
        """The shape of one input (``-1`` where any size goes), from the metadata or ``shape=``."""
        return self.shape

    def _request(self, batch: Any, ledger: Ledger) -> np.ndarray:
        data = as_array(batch)
        self._check_shape(data)
        body, headers = encode_request(
            data, name=self.input_name, datatype=self.datatype, binary=bool(self.binary),
            output_name=self.output_name, rank=None if self.shape is None else len(self.shape) + 1,
        )  # fmt: skip
        return self.http.post(
            self.infer_url,
            body,
            headers=headers,
            inputs=len(data),
            charge=ledger,
            decode=lambda response: decode_response(response, self.output_name),
            refused=lambda response: self._refused(response, data),
        )

    def _check_shape(self, data: Any) -> None:
        if self.shape is None or isinstance(data, list) or self.datatype == "BYTES":
            return
        got = tuple(data.shape[1:])
        if len(got) != len(self.shape) or any(want not in (-1, have) for want, have in zip(self.shape, got)):
            raise InvalidInputError(
                f"{self.model} takes inputs of shape {self.shape} (its metadata; -1: any size) but was asked about "
                f"inputs of shape {got}: reshape them, or pass shape= if the metadata is wrong"
            )

    def _refused(self, response: Response, data: Any) -> str:
        sent = f"input {self.input_name!r} ({self.datatype or default_datatype(data)}, shape {shape_of(data)})"
        if response.status in (401, 403):
            return (
                f"{safe_url(self.infer_url)} refused the credentials (HTTP {response.status}: {message(response)}): "
                "check the token (token= or token_env=) and the header it goes in (header=)"
            )
        return (
            f"{safe_url(self.infer_url)} refused the request (HTTP {response.status}): {message(response)}. evoxplain "
            f"sent {sent}; check input_name=, datatype= and shape= against what the model takes"
        )


def split_model_url(url: str) -> tuple[str, str, str | None]:
    """``(base, model, version)`` of ``http(s)://host:port[/prefix]/v2/models/NAME[/versions/V]``."""
    path = urlsplit(url).path.rstrip("/")
    marker = "/v2/models/"
    if marker not in path:
        raise InvalidInputError(
            f"{safe_url(url)} is not an Open Inference Protocol model URL: give http://host:port/v2/models/NAME"
        )
    rest = path.split(marker, 1)[1].split("/")
    for suffix in ("infer", "ready"):
        if rest and rest[-1] == suffix:
            rest = rest[:-1]
    if len(rest) not in (1, 3) or not rest[0] or (len(rest) == 3 and rest[1] != "versions"):
        raise InvalidInputError(f"{safe_url(url)}: expected .../v2/models/NAME or .../v2/models/NAME/versions/V")
    base = url[: url.index(marker)]
    return base.rstrip("/"), rest[0], rest[2] if len(rest) == 3 else None


def default_datatype(data: Any) -> str:
    if isinstance(data, list):
        return "BYTES"
    for name, kind in DATATYPES.items():
        if data.dtype == kind:
            return name
    return "FP32"


def shape_of(data: Any) -> list[int]:
    return [len(data)] if isinstance(data, list) else list(data.shape)


def encode_request(
    data: np.ndarray | list[str],
    *,
    name: str | None,
    datatype: str | None,
    binary: bool,
    output_name: str | None = None,
    rank: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """One inference request: ``(body, headers)``, JSON or with the binary tensor extension."""
    datatype = datatype or default_datatype(data)
    text = isinstance(data, list) or datatype == "BYTES"
    shape = [len(data)] + [1] * ((rank or 1) - 1) if text else list(data.shape)
    tensor: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
    request: dict[str, Any] = {"inputs": [tensor]}
    if output_name is not None:
        request["outputs"] = [{"name": output_name, **({"parameters": {"binary_data": True}} if binary else {})}]
    if binary:
        request["parameters"] = {"binary_data_output": True}
    if not binary:
        tensor["data"] = [str(t) for t in data] if text else data.astype(DATATYPES[datatype], copy=False).reshape(-1)
        return dumps(request), {"Content-Type": "application/json"}
    raw = encode_bytes(data) if text else data.astype(np.dtype(DATATYPES[datatype]).newbyteorder("<")).tobytes()
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = dumps(request)
    return header + raw, {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}


def encode_bytes(texts: list[str]) -> bytes:
    """``BYTES`` elements in binary: each a 4-byte little-endian length, then its UTF-8 bytes."""
    parts = []
    for text in texts:
        raw = str(text).encode("utf-8")
        parts += [struct.pack("<I", len(raw)), raw]
    return b"".join(parts)


def decode_response(response: Response, output_name: str | None = None) -> np.ndarray:
    """The answer of one output (``output_name``, or the first) as an array of its shape."""
    length = response.headers.get(HEADER_LENGTH)
    try:
        header_end = int(length) if length is not None else len(response.body)
        answer = loads(response.body[:header_end])
        outputs = answer["outputs"]
        output = next(o for o in outputs if output_name in (None, o["name"]))
        shape, datatype = [int(s) for s in output["shape"]], output["datatype"]
    except StopIteration:
        names = [o.get("name") for o in answer.get("outputs", [])]
        raise MalformedAnswer(f"the answer has no output {output_name!r} (it has {names})") from None
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise MalformedAnswer(f"not an inference answer ({type(err).__name__}: {str(err)[:100]})") from None
    if datatype not in DATATYPES:
        raise MalformedAnswer(f"output {output['name']!r} is of datatype {datatype}, not a number type")
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    size = (output.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        start = header_end + sum(
            int((o.get("parameters") or {}).get("binary_data_size", 0)) for o in outputs[: outputs.index(output)]
        )
        raw = response.body[start : start + int(size)]
        if len(raw) != int(size) or int(size) != int(np.prod(shape)) * dtype.itemsize:
            raise MalformedAnswer(f"output {output['name']!r} holds {len(raw)} bytes, not {int(size)} for {shape}")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    try:
        return np.asarray(output["data"], dtype=dtype.newbyteorder("=")).reshape(shape)
    except (KeyError, ValueError, TypeError) as err:
        raise MalformedAnswer(f"output {output['name']!r} does not hold {shape} numbers ({err})") from None


def parse_json(response: Response) -> dict[str, Any]:
    try:
        value = loads(response.body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message(response: Response) -> str:
    """The server's own words about a refused request (``error``, FastAPI's ``detail``, or the body)."""
    body = parse_json(response)
    text = body.get("error") or body.get("detail") or body.get("message")
    if text is None:
        text = response.body[:300].decode("utf-8", "replace").strip() or "no message"
    return " ".join(str(text).split())[:500]
