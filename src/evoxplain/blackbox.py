"""The query engine: one interface to any model that maps a batch of inputs to class scores.

:class:`BlackBox` wraps a ``torch.nn.Module``, a TorchScript or ONNX file, a scikit-learn
estimator (``predict_proba``) or any callable, on tensors, arrays or lists of strings. It splits
queries into batches, runs them without gradients on the model's device, counts every input sent,
enforces a hard query budget and checks every answer. A model behind an endpoint (a URL, or an
:mod:`evoxplain.endpoints` object) is queried the same way, and a query journal
(:mod:`evoxplain.journal`) serves inputs answered before without sending them again.

Example:
    >>> import torch
    >>> bb = BlackBox(torch.nn.Linear(4, 3).eval(), output="logits", batch_size=128, budget=10_000)
    >>> probs = bb.probabilities(torch.rand(8, 4))   # (8, 3), rows sum to 1
    >>> bb.queries
    8
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .constraints import Boolean, Integer, OneOf, Optional, check_all
from .endpoints import Endpoint, endpoint_from_url, is_url
from .errors import (
    EvoxplainError,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
    require,
)
from .fitness import log_probabilities
from .journal import Journal, input_keys, model_identity
from .model_files import fixed_batch_hint, load_export

Output = Literal["auto", "probs", "logits", "multilabel"]
OUTPUTS = ("auto", "probs", "logits", "multilabel")
Inputs = torch.Tensor | np.ndarray | Sequence[str]

_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2, "bf16": 3e-2}
"""How far a probability may stray below 0 or above 1, and a row's sum from 1, at each precision."""
BATCH_SIZE = Integer(low=1)
"""What a batch size may be: a positive integer."""
SETTINGS = {
    "output": OneOf(*OUTPUTS),
    "batch_size": BATCH_SIZE,
    "budget": Optional(Integer(low=0)),
    "num_classes": Optional(Integer(low=1)),
    "input_type": OneOf("torch", "numpy"),
    "precision": OneOf(*_PRECISIONS),
    "allow_pickle": Boolean(),
}


class BlackBox:
    """A model that can only be queried, with batching, counting, a budget and checks.

    Args:
        model: a ``torch.nn.Module``; a path to a TorchScript (``.pt``/``.pth``/``.ts``),
            ``torch.export`` (``.pt2``, exported with a dynamic batch dimension) or ONNX
            (``.onnx``) file; an ``onnxruntime.InferenceSession``; a scikit-learn estimator with
            ``predict_proba``; any callable from a batch to a ``(batch, classes)`` array; a model
            behind an endpoint: an :mod:`evoxplain.endpoints` object, or a URL
            (``"http://host:port/v2/models/NAME"``, ``".../invocations"``).
            A model of strings (a text pipeline, a function of a list of strings) is queried
            with lists of strings.
        output: what the model returns: ``"probs"`` (rows sum to 1), ``"logits"``,
            ``"multilabel"`` (one independent probability per class, e.g. sigmoid outputs), or
            ``"auto"``: decided from the first answer (see :func:`read_output`). A model that
            returns one score per input (``(N,)`` or ``(N, 1)``: a sigmoid head,
            ``predict_proba[:, 1]``) is a binary classifier of two classes: ``[1 − p, p]`` for a
            probability, ``[0, s]`` for a logit (whose softmax is ``[1 − σ(s), σ(s)]``).
        batch_size: the most inputs sent to the model in one call (each call may give its own).
        budget: a hard limit on the inputs ever sent; the query that would pass it raises
            :class:`~evoxplain.QueryBudgetExceeded` before the model sees it.
        num_classes: the expected number of classes; learned from the first answer if None.
        input_type: what a plain callable receives: ``"torch"`` tensors (default) or
            ``"numpy"`` arrays. Estimators and ONNX models always get numpy arrays.
        precision: ``"fp32"``, or ``"bf16"``/``"fp16"`` to run torch models under autocast.
        device: where queries are built; defaults to the model's device (CPU for non-torch).
        allow_pickle: open a ``torch.export`` file even if parts of it are pickles (which run
            code when loaded); only for files you trust (:mod:`evoxplain.model_files`).
        journal: an SQLite file (:class:`~evoxplain.journal.Journal`) that keeps every answer of
            this model: inputs answered before are served from it, neither sent nor billed.
        model_id: what names the model in the journal; needed where evoxplain cannot tell one
            model from another (a plain function, an estimator, an ONNX session).

    ``queries`` counts the inputs whose answers were used, from every thread; :meth:`meter`
    counts those of one piece of work (an explanation reports them). What a paid endpoint bills
    is counted too: ``sent`` (inputs sent, retries included), ``requests``, ``retries`` and
    ``bytes_sent``; ``journal_hits`` counts answers served by the journal. The budget caps
    ``sent``, so no fault can make a run cost more than it. Counters and budget are safe to
    share between threads.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.ensemble import RandomForestClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> forest = RandomForestClassifier(random_state=0).fit(X, y)
        >>> bb = BlackBox(forest, budget=5000)           # output "probs" from predict_proba
        >>> bb.predict(X[[0, 50, 100]]), bb.queries
        (tensor([0, 1, 2]), 3)
    """

    def __init__(
        self,
        model: Any,
        *,
        output: Output = "auto",
        batch_size: int = 256,
        budget: int | None = None,
        num_classes: int | None = None,
        input_type: Literal["torch", "numpy"] = "torch",
        precision: Literal["fp32", "bf16", "fp16"] = "fp32",
        device: str | torch.device | None = None,
        allow_pickle: bool = False,
        journal: str | Path | None = None,
        model_id: str | None = None,
    ):
        if isinstance(model, BlackBox):
            raise InvalidInputError("model is already a BlackBox; pass it directly, or wrap the underlying model")
        checked = check_all(SETTINGS, output=output, batch_size=batch_size, budget=budget, num_classes=num_classes,
                            input_type=input_type, precision=precision, allow_pickle=allow_pickle)  # fmt: skip
        self.batch_size, self.budget, self.num_classes = (
            checked["batch_size"],
            checked["budget"],
            checked["num_classes"],
        )
        self.precision = precision
        self.queries = self.sent = self.requests = self.retries = self.bytes_sent = self.journal_hits = 0
        self._lock = threading.Lock()
        self._meters = threading.local()
        self._declared_output = output
        self._output: Output = output
        self._binary = False
        self._answered = False
        if is_url(model):
            model = endpoint_from_url(model)
        self._call, self.kind, model_device = _backend(model, input_type, allow_pickle)
        if self.kind == "sklearn" and output == "auto":
            self._output = "probs"
        self.device = _device(device, model_device)
        self.model = model
        self.journal = (
            None if journal is None else _open_journal(journal, model, model_id=model_id, precision=precision)
        )

    # -- queries ---------------------------------------------------------------------------

    @property
    def remaining(self) -> int | None:
        """Inputs that may still be sent within the budget, or None when there is no budget."""
        return None if self.budget is None else self.budget - self.sent

    @property
    def usage(self) -> dict[str, int]:
        """Every counter: ``queries`` (answers used), ``sent`` (inputs sent, retries included),
        ``requests``, ``retries``, ``bytes_sent`` and ``journal_hits``."""
        names = ("queries", "sent", "requests", "retries", "bytes_sent", "journal_hits")
        return {name: getattr(self, name) for name in names}

    @property
    def output(self) -> Output:
        """``"probs"``, ``"logits"`` or ``"multilabel"`` once known (``"auto"`` until the first answer)."""
        return self._output

    def check_budget(self, needed: int, what: str = "this request", completed: Any = None) -> None:
        """Raise :class:`QueryBudgetExceeded` now if sending ``needed`` more inputs would pass the budget."""
        used = self.sent
        if self.budget is not None and used + needed > self.budget:
            raise QueryBudgetExceeded(
                f"{what} needs {needed} queries but only {self.budget - used} of the budget of "
                f"{self.budget} are left ({used} used). Raise BlackBox(budget=...) or ask "
                "for fewer queries.",
                used=used,
                budget=self.budget,
                completed=completed,
            )

    @contextlib.contextmanager
    def meter(self) -> Iterator[QueryMeter]:
        """Count the inputs this thread sends inside the block (nested meters all count them).

        Example:
            >>> bb = BlackBox(torch.nn.Linear(4, 3).eval())
            >>> with bb.meter() as meter:
            ...     _ = bb(torch.rand(5, 4))
            >>> meter.queries, bb.queries
            (5, 5)
        """
        meter = QueryMeter()
        stack = self._meter_stack()
        stack.append(meter)
        try:
            yield meter
        finally:
            stack.remove(meter)

    def __call__(self, inputs: Inputs, *, batch_size: int | None = None) -> torch.Tensor:
        """Query the model: raw outputs, a float32 ``(len(inputs), classes)`` tensor on ``device``
        (two columns for a model of one score per input), in batches of ``batch_size`` (default:
        the BlackBox's)."""
        n = _check_inputs(inputs)
        size = self.batch_size if batch_size is None else BATCH_SIZE.check("batch_size", batch_size)
        chunks = []
        for start in range(0, n, size):
            batch = inputs[start : start + size]
            raw = self._ask(batch) if self.journal is None else self._ask_journal(batch)
            chunks.append(self.check_answer(raw, len(batch)))
            self._use(len(batch))
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def probabilities(self, inputs: Inputs, *, batch_size: int | None = None) -> torch.Tensor:
        """Class probabilities ``(N, classes)``, whatever the model returns (independent ones
        for ``"multilabel"``)."""
        out = self(inputs, batch_size=batch_size)
        return out if self._output in ("probs", "multilabel") else out.softmax(dim=1)

    def log_probabilities(self, inputs: Inputs, *, batch_size: int | None = None) -> torch.Tensor:
        """Log class probabilities ``(N, classes)``, exact also for a class the model is sure of."""
        return log_probabilities(self(inputs, batch_size=batch_size), self._output)

    def predict(self, inputs: Inputs, *, batch_size: int | None = None) -> torch.Tensor:
        """The predicted class of each input, a ``(N,)`` long tensor."""
        return self(inputs, batch_size=batch_size).argmax(dim=1)

    def __repr__(self) -> str:
        return (
            f"BlackBox({self.kind}, output={self._output!r}, batch_size={self.batch_size}, "
            f"queries={self.queries}, budget={self.budget}, device={self.device})"
        )

    # -- internals ---------------------------------------------------------------------------

    def _meter_stack(self) -> list[QueryMeter]:
        if not hasattr(self._meters, "stack"):
            self._meters.stack = []
        return self._meters.stack

    def charge(self, size: int, what: str | None = None) -> None:
        """Check the budget for ``size`` inputs and count them as sent and used (in ``queries``
        and the open meters), safe under threads: for work that runs the model itself, as the
        white-box methods do, before it does."""
        self.spend(size, what=what)
        self._use(size)

    def spend(self, inputs: int, *, size: int = 0, retry: bool = False, what: str | None = None) -> None:
        """Check the budget and count one request of ``inputs`` inputs (``size`` bytes) before it
        is sent, as one step under the lock: sending it would pass the budget, and
        :class:`QueryBudgetExceeded` is raised instead."""
        with self._lock:
            self.check_budget(inputs, what=what or f"{'a retry of ' if retry else ''}a batch of {inputs} inputs")
            self.sent += inputs
            self.requests += 1
            self.retries += int(retry)
            self.bytes_sent += size

    def _use(self, size: int) -> None:
        with self._lock:
            self.queries += size
        for meter in self._meter_stack():
            meter.queries += size

    def _ask(self, batch: Any, keys: list[bytes] | None = None) -> Any:
        """The backend's raw answer to ``batch``, charged before it is sent; with ``keys``, each
        answer is journaled as it arrives."""
        ledger = _Ledger(self, keys)
        try:
            with self._autocast():
                return self._call(batch, ledger)
        except EvoxplainError:
            raise
        except Exception as err:  # the model's own failure, shown with what was sent
            shape = tuple(batch.shape) if hasattr(batch, "shape") else (len(batch),)
            raise ModelCallError(
                f"the model raised {type(err).__name__} on a batch of shape {shape}: {err}. "
                "Check that inputs have the shape, dtype and type the model expects "
                "(BlackBox(input_type='numpy') for a function of numpy arrays)."
            ) from err

    def _ask_journal(self, batch: Any) -> np.ndarray:
        """The answers to ``batch``: from the journal where known, the others (each distinct input
        once) from the model, journaled as they arrive."""
        keys = input_keys(batch)
        known = self.journal.lookup(keys)
        first = {key: i for i, key in reversed(list(enumerate(keys)))}
        order = [first[key] for key in dict.fromkeys(keys) if key not in known]
        if order:
            picked = batch[order] if isinstance(batch, (torch.Tensor, np.ndarray)) else [batch[i] for i in order]
            raw = self._ask(picked, [keys[i] for i in order])
            rows = _rows(raw, len(order))
            known.update({keys[i]: row for i, row in zip(order, rows)})
        with self._lock:
            self.journal_hits += len(keys) - len(order)
        return np.stack([known[key] for key in keys])

    def _autocast(self):
        dtype = _PRECISIONS[self.precision]
        if dtype is None or self.kind not in ("torch", "torchscript"):
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def check_answer(self, raw: Any, size: int) -> torch.Tensor:
        """The answer as ``(size, classes)`` float32 scores; the first answer decides what the
        model returns (and is checked for it), every answer is checked for shape and finiteness."""
        out = _as_scores(raw, size, self.device)
        with self._lock:
            if not self._answered:
                self._output, self._binary = read_output(out, self._output, self.precision)
                columns = 2 if self._binary else out.shape[1]
                if self.num_classes is not None and columns != self.num_classes:
                    raise ModelOutputError(
                        f"the model returned {columns} classes where {self.num_classes} were expected; "
                        "check num_classes= or that the model's output layer is the one you meant"
                    )
                self.num_classes, self._answered = columns, True
        expected = 1 if self._binary else self.num_classes
        if out.shape[1] != expected:
            raise ModelOutputError(
                f"the model returned {out.shape[1]} columns where its first answer had {expected}; it must "
                "answer the same number of classes every time"
            )
        if self._binary:
            out = torch.cat([1 - out, out] if self._output == "probs" else [torch.zeros_like(out), out], dim=1)
        return out


class _Ledger:
    """What one query to the backend spends and gets: ``send`` charges each request (retries too)
    to the BlackBox before it goes out; ``answered`` journals answers as they arrive."""

    def __init__(self, blackbox: BlackBox, keys: list[bytes] | None):
        self.blackbox, self.keys = blackbox, keys

    def send(self, inputs: int, *, size: int = 0, retry: bool = False) -> None:
        self.blackbox.spend(inputs, size=size, retry=retry)

    def answered(self, start: int, raw: Any, size: int) -> None:
        if self.keys is not None:
            self.blackbox.journal.store(self.keys[start : start + size], _rows(raw, size))


def _rows(raw: Any, size: int) -> np.ndarray:
    """A raw answer as ``size`` float32 rows (what a journal keeps), or a clear error."""
    if isinstance(raw, torch.Tensor):
        raw = raw.detach().float().cpu().numpy()
    try:
        array = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ModelOutputError(f"the model returned a {type(raw).__name__}, not an array of class scores") from err
    if array.ndim == 0 or len(array) != size:
        raise ModelOutputError(
            f"the model returned shape {array.shape} for {size} inputs; it must answer one row per input"
        )
    return array.reshape(size, -1)


def _open_journal(path: str | Path, model: Any, *, model_id: str | None, precision: str) -> Journal:
    identity = model_id if model_id is not None else model_identity(model, precision)
    if identity is None:
        raise InvalidInputError(
            f"a journal keeps one model's answers, and evoxplain cannot tell one {type(model).__name__} from another: "
            "pass BlackBox(..., model_id='a name that changes whenever the model does')"
        )
    return Journal(path, str(identity))


class QueryMeter:
    """The inputs sent inside one :meth:`BlackBox.meter` block, by the thread that opened it."""

    def __init__(self) -> None:
        self.queries = 0


def read_output(scores: torch.Tensor, declared: str, precision: str = "fp32") -> tuple[str, bool]:
    """What a model's first answer says it returns: ``(output, binary)``.

    ``scores`` is ``(N, k)``; ``k == 1`` is a binary classifier's one score per input. Rows that
    are non-negative and sum to 1 (within the precision's tolerance) are probabilities; anything
    else is logits, with a warning naming ``output=`` when the scores are fractions in [0, 1] that do
    not sum to 1 (independent probabilities, or logits?). A declared ``output`` is checked instead.

    Example:
        >>> read_output(torch.tensor([[0.2, 0.8]]), "auto"), read_output(torch.tensor([[2.0, -1.0]]), "auto")
        (('probs', False), ('logits', False))
    """
    tol = _TOLERANCE[precision]
    in_unit = bool(((scores >= -tol) & (scores <= 1 + tol)).all())
    if scores.shape[1] == 1:
        return _read_binary(in_unit, declared), True
    sums = scores.sum(dim=1)
    probs_like = in_unit and bool(((sums - 1).abs() <= tol).all())
    if declared == "probs" and not probs_like:
        raise ModelOutputError(
            "output='probs' was declared but the model's rows are not probabilities (negative or not summing "
            "to 1); declare output='logits', or output='multilabel' for independent probabilities per class"
        )
    if declared == "multilabel" and not in_unit:
        raise ModelOutputError("output='multilabel' was declared but the model's scores are not all in [0, 1]")
    if declared != "auto":
        return declared, False
    if probs_like:
        return "probs", False
    if in_unit and bool(((scores > tol) & (scores < 1 - tol)).any()):  # fractions in [0, 1]: probabilities?
        warnings.warn(
            "the model's scores all lie in [0, 1] but its rows do not sum to 1: read as logits. If they are "
            "independent probabilities (sigmoid outputs, multi-label), pass BlackBox(output='multilabel'); "
            "pass output='logits' to say they are logits",
            stacklevel=5,
        )
    return "logits", False


def _read_binary(in_unit: bool, declared: str) -> str:
    if declared in ("probs", "multilabel"):
        if not in_unit:
            raise ModelOutputError(
                f"output={declared!r} was declared but the model's one score per input is not in [0, 1]; "
                "declare output='logits' if it is a logit"
            )
        return "probs"
    if declared == "logits" or not in_unit:
        return "logits"
    warnings.warn(
        "the model returns one score per input, in [0, 1]: read as the probability of class 1 (two "
        "classes, [1 - p, p]). Pass BlackBox(output='probs') to say so, or output='logits' if it is a logit",
        stacklevel=5,
    )
    return "probs"


def _as_scores(raw: Any, size: int, device: torch.device) -> torch.Tensor:
    """A model's answer as finite float32 ``(size, k)`` scores on ``device``, or a clear error."""
    try:
        out = torch.as_tensor(np.asarray(raw) if isinstance(raw, list) else raw)
    except Exception as err:
        raise ModelOutputError(
            f"the model returned a {type(raw).__name__}, which is not an array of class scores; "
            "return a (batch, classes) tensor or array"
        ) from err
    if out.is_complex():
        raise ModelOutputError("the model returned complex scores; explain their real part or magnitude instead")
    out = out.detach().to(device=device, dtype=torch.float32)
    if out.ndim == 1:
        out = out[:, None]  # one score per input: a binary classifier
    if out.ndim != 2 or out.shape[1] == 0:
        raise ModelOutputError(
            f"the model returned shape {tuple(out.shape)} for {size} inputs; expected (batch, classes), "
            "(batch, 1) or (batch,) scores"
        )
    if out.shape[0] != size:
        raise ModelOutputError(
            f"the model returned {out.shape[0]} rows for {size} inputs; it must answer one row per input"
        )
    if not torch.isfinite(out).all():
        bad = int((~torch.isfinite(out)).any(dim=1).sum())
        raise ModelOutputError(
            f"the model returned NaN or infinite scores for {bad} of {size} inputs; a model "
            "that breaks on perturbed inputs needs a smaller sigma or inputs in its valid range"
        )
    return out


def _device(device: str | torch.device | None, model_device: torch.device) -> torch.device:
    """Where queries are built: ``device`` if given (and present), else the model's."""
    if model_device.type == "meta":
        raise InvalidInputError("the model's weights are on the meta device (not loaded); load them before explaining")
    if device is None:
        return model_device
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise InvalidInputError(f"device {device!r} is not a torch device: {err}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} was asked for but CUDA is not available here; use device='cpu'")
    return chosen


def as_blackbox(model: Any, **options: Any) -> BlackBox:
    """Return ``model`` if it is a :class:`BlackBox` (unchanged: ``options`` are for wrapping
    anything else), else wrap it with ``options``.

    Example:
        >>> bb = as_blackbox(torch.nn.Linear(4, 3).eval(), batch_size=512)
        >>> as_blackbox(bb) is bb, bb.batch_size
        (True, 512)
    """
    if isinstance(model, BlackBox):
        return model
    return BlackBox(model, **{k: v for k, v in options.items() if v is not None})


def _check_inputs(inputs: Inputs) -> int:
    if isinstance(inputs, str):
        raise InvalidInputError("inputs must be a batch: pass a list of strings, not one string")
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        if inputs.ndim == 0:
            raise InvalidInputError("inputs must be a batch with a leading batch dimension, not a scalar")
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind not in "biufc":
            raise InvalidInputError(
                f"inputs are a numpy array of {inputs.dtype} (ragged rows?); give a numeric array of equal rows"
            )
        values = torch.as_tensor(inputs)
        if values.is_complex():
            raise InvalidInputError("inputs are complex numbers; give the model real-valued inputs")
        if values.is_floating_point() and not bool(torch.isfinite(values).all()):
            raise InvalidInputError("inputs contain NaN or infinite values; clean or impute them before explaining")
    elif not isinstance(inputs, Sequence):
        raise InvalidInputError(
            f"inputs must be a tensor, a numpy array or a list of strings, not {type(inputs).__name__}"
        )
    return len(inputs)


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _backend(model: Any, input_type: str, allow_pickle: bool = False) -> tuple[Callable[..., Any], str, torch.device]:
    """Pick how to call ``model``: returns (call, kind, device); ``call(batch, ledger)`` charges
    what it sends to the ledger before sending it and hands it the answers."""
    if isinstance(model, Endpoint):
        return model.query, model.kind, torch.device("cpu")
    call, kind, device = _local_backend(model, input_type, allow_pickle)

    def charged(batch: Any, ledger: _Ledger) -> Any:
        ledger.send(len(batch))
        raw = call(batch)
        ledger.answered(0, raw, len(batch))
        return raw

    return charged, kind, device


def _file_backend(
    model: str | Path, input_type: str, allow_pickle: bool
) -> tuple[Callable[[Any], Any], str, torch.device]:
    """How to call a model file (ONNX, torch.export or TorchScript): returns (call, kind, device)."""
    path = Path(model)
    if not path.exists():
        raise InvalidInputError(
            f"no model file at {path}; give the path to an ONNX (.onnx), torch.export (.pt2) or TorchScript "
            "(.pt, .pth, .ts) file"
        )
    if path.suffix.lower() == ".onnx":
        ort = require("onnxruntime", "onnx", "ONNX models")
        try:
            session = ort.InferenceSession(str(path))
        except Exception as err:
            raise InvalidInputError(f"{path} is not an ONNX model ONNX Runtime can open: {err}") from None
        return _local_backend(session, input_type)
    if path.suffix.lower() == ".pt2":
        module = load_export(path, allow_pickle)
        device = _module_device(module)
        return _torch_call(module, device), "torch", device
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:
        raise InvalidInputError(
            f"{path} is neither an ONNX file (.onnx) nor a TorchScript file torch.jit.load can read: "
            f"{err}. Save a model with torch.jit.script(model).save(path) or export it to ONNX."
        ) from err
    module.eval()
    device = _module_device(module)
    return _torch_call(module, device), "torchscript", device


def _local_backend(
    model: Any, input_type: str, allow_pickle: bool = False
) -> tuple[Callable[[Any], Any], str, torch.device]:
    """Pick how to call a local ``model``: returns (call, kind, device)."""
    if isinstance(model, (str, Path)):
        return _file_backend(model, input_type, allow_pickle)
    if isinstance(model, torch.nn.Module):
        if model.training:
            warnings.warn(
                "the model is in training mode (dropout and batch norm make its answers random); "
                "call model.eval() before explaining it",
                stacklevel=3,
            )
        device = _module_device(model)
        return _torch_call(model, device), "torch", device
    if type(model).__name__ == "InferenceSession" and hasattr(model, "get_inputs"):
        name, fixed = model.get_inputs()[0].name, (model.get_inputs()[0].shape or [None])[0]

        def onnx_call(batch):
            if isinstance(fixed, int) and len(batch) != fixed:
                raise InvalidInputError(fixed_batch_hint(fixed))
            array = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
            return model.run(None, {name: array.astype(np.float32, copy=False)})[0]

        return onnx_call, "onnx", torch.device("cpu")
    if hasattr(model, "predict_proba"):

        def sklearn_call(batch):
            if isinstance(batch, torch.Tensor):
                batch = batch.detach().cpu().numpy()
            return model.predict_proba(batch)

        return sklearn_call, "sklearn", torch.device("cpu")
    if callable(model):
        if input_type == "numpy":

            def numpy_call(batch):
                return model(batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else batch)

            return numpy_call, "callable", torch.device("cpu")

        def torch_call(batch):
            return model(torch.from_numpy(batch) if isinstance(batch, np.ndarray) else batch)

        return torch_call, "callable", torch.device("cpu")
    raise InvalidInputError(
        f"cannot query a {type(model).__name__}: give a torch.nn.Module, a TorchScript or ONNX file, "
        "a scikit-learn estimator with predict_proba, or a callable returning (batch, classes) scores"
    )


def _torch_call(module: Callable[[torch.Tensor], torch.Tensor], device: torch.device) -> Callable[[Any], torch.Tensor]:
    def call(batch):
        if isinstance(batch, np.ndarray):
            batch = torch.from_numpy(batch)
        if not isinstance(batch, torch.Tensor):
            raise TypeError("a torch model takes tensors; text needs a model of strings")
        with torch.no_grad():
            return module(batch.to(device))

    return call
