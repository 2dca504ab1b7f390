"""The query engine: one interface to any model that maps a batch of inputs to class scores.

:class:`BlackBox` wraps a ``torch.nn.Module``, a TorchScript or ONNX file, a scikit-learn
estimator (``predict_proba``) or any callable, on tensors, arrays or lists of strings. It splits
queries into batches, runs them without gradients on the model's device, counts every input sent,
enforces a hard query budget and checks every answer.

Example:
    >>> import torch
    >>> bb = BlackBox(torch.nn.Linear(4, 3).eval(), output="logits", batch_size=128, budget=10_000)
    >>> probs = bb.probabilities(torch.rand(8, 4))   # (8, 3), rows sum to 1
    >>> bb.queries
    8
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .errors import (
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
    require,
)
from .fitness import log_probabilities
from .model_files import fixed_batch_hint, load_export

Output = Literal["auto", "probs", "logits"]
Inputs = torch.Tensor | np.ndarray | Sequence[str]

_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class BlackBox:
    """A model that can only be queried, with batching, counting, a budget and checks.

    Args:
        model: a ``torch.nn.Module``; a path to a TorchScript (``.pt``/``.pth``/``.ts``),
            ``torch.export`` (``.pt2``, exported with a dynamic batch dimension) or ONNX
            (``.onnx``) file; an ``onnxruntime.InferenceSession``; a scikit-learn estimator with
            ``predict_proba``; or any callable from a batch to a ``(batch, classes)`` array.
            A model of strings (a text pipeline, a function of a list of strings) is queried
            with lists of strings.
        output: what the model returns: ``"probs"`` (rows sum to 1), ``"logits"``, or
            ``"auto"`` (decided from the first answer: probabilities if every row is
            non-negative and sums to 1).
        batch_size: the most inputs sent to the model in one call.
        budget: a hard limit on the inputs ever sent; the query that would pass it raises
            :class:`~evoxplain.QueryBudgetExceeded` before the model sees it.
        num_classes: the expected number of classes; learned from the first answer if None.
        input_type: what a plain callable receives: ``"torch"`` tensors (default) or
            ``"numpy"`` arrays. Estimators and ONNX models always get numpy arrays.
        precision: ``"fp32"``, or ``"bf16"``/``"fp16"`` to run torch models under autocast.
        device: where queries are built; defaults to the model's device (CPU for non-torch).
        allow_pickle: open a ``torch.export`` file even if parts of it are pickles (which run
            code when loaded); only for files you trust (:mod:`evoxplain.model_files`).

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
    ):
        if isinstance(model, BlackBox):
            raise InvalidInputError("model is already a BlackBox; pass it directly, or wrap the underlying model")
        if output not in ("auto", "probs", "logits"):
            raise InvalidInputError(f"output must be 'auto', 'probs' or 'logits', not {output!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, not {batch_size!r}")
        if budget is not None and (not isinstance(budget, int) or budget < 0):
            raise InvalidInputError(f"budget must be a non-negative integer or None, not {budget!r}")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise InvalidInputError(f"num_classes must be a positive integer, not {num_classes!r}")
        if input_type not in ("torch", "numpy"):
            raise InvalidInputError(f"input_type must be 'torch' or 'numpy', not {input_type!r}")
        if precision not in _PRECISIONS:
            raise InvalidInputError(f"precision must be one of {sorted(_PRECISIONS)}, not {precision!r}")

        self.batch_size = batch_size
        self.budget = budget
        self.num_classes = num_classes
        self.precision = precision
        self.queries = 0
        self._declared_output = output
        self._output: Output = output
        self._call, self.kind, model_device = _backend(model, input_type, allow_pickle is True)
        if self.kind == "sklearn" and output == "auto":
            self._output = "probs"
        self.device = torch.device(device) if device is not None else model_device
        self.model = model

    # -- queries ---------------------------------------------------------------------------

    @property
    def remaining(self) -> int | None:
        """Queries left in the budget, or None when there is no budget."""
        return None if self.budget is None else self.budget - self.queries

    @property
    def output(self) -> Output:
        """``"probs"`` or ``"logits"`` once known (``"auto"`` until the first answer)."""
        return self._output

    def check_budget(self, needed: int, what: str = "this request", completed: Any = None) -> None:
        """Raise :class:`QueryBudgetExceeded` now if ``needed`` more queries would pass the budget."""
        if self.budget is not None and self.queries + needed > self.budget:
            raise QueryBudgetExceeded(
                f"{what} needs {needed} queries but only {self.budget - self.queries} of the budget of "
                f"{self.budget} are left ({self.queries} used). Raise BlackBox(budget=...) or ask "
                "for fewer queries.",
                used=self.queries,
                budget=self.budget,
                completed=completed,
            )

    def __call__(self, inputs: Inputs) -> torch.Tensor:
        """Query the model: raw outputs, a float32 ``(len(inputs), classes)`` tensor on ``device``."""
        n = _check_inputs(inputs)
        chunks = []
        for start in range(0, n, self.batch_size):
            batch = inputs[start : start + self.batch_size]
            size = len(batch)
            self.check_budget(size, what=f"a batch of {size} inputs")
            self.queries += size
            try:
                with self._autocast():
                    raw = self._call(batch)
            except Exception as err:  # the model's own failure, shown with what was sent
                shape = tuple(batch.shape) if hasattr(batch, "shape") else (size,)
                raise ModelCallError(
                    f"the model raised {type(err).__name__} on a batch of shape {shape}: {err}. "
                    "Check that inputs have the shape, dtype and type the model expects "
                    "(BlackBox(input_type='numpy') for a function of numpy arrays)."
                ) from err
            chunks.append(self._validate(raw, size))
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def probabilities(self, inputs: Inputs) -> torch.Tensor:
        """Class probabilities ``(N, classes)``, whatever the model returns."""
        out = self(inputs)
        return out if self._output == "probs" else out.softmax(dim=1)

    def log_probabilities(self, inputs: Inputs) -> torch.Tensor:
        """Log class probabilities ``(N, classes)``, exact also for a class the model is sure of."""
        return log_probabilities(self(inputs), self._output)

    def predict(self, inputs: Inputs) -> torch.Tensor:
        """The predicted class of each input, a ``(N,)`` long tensor."""
        return self(inputs).argmax(dim=1)

    def __repr__(self) -> str:
        return (
            f"BlackBox({self.kind}, output={self._output!r}, batch_size={self.batch_size}, "
            f"queries={self.queries}, budget={self.budget}, device={self.device})"
        )

    # -- internals ---------------------------------------------------------------------------

    def _autocast(self):
        dtype = _PRECISIONS[self.precision]
        if dtype is None or self.kind not in ("torch", "torchscript"):
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _validate(self, raw: Any, size: int) -> torch.Tensor:
        try:
            out = torch.as_tensor(np.asarray(raw) if isinstance(raw, list) else raw)
        except Exception as err:
            raise ModelOutputError(
                f"the model returned a {type(raw).__name__}, which is not an array of class scores; "
                "return a (batch, classes) tensor or array"
            ) from err
        out = out.detach().to(device=self.device, dtype=torch.float32)
        if out.ndim != 2:
            hint = (
                " A 1-D output (labels from predict(), or one score per input) cannot be explained: "
                "return one score per class, e.g. predict_proba, or stack [1 - p, p] for a binary scorer."
                if out.ndim == 1
                else ""
            )
            raise ModelOutputError(
                f"the model returned shape {tuple(out.shape)} for {size} inputs; expected (batch, classes).{hint}"
            )
        if out.shape[0] != size:
            raise ModelOutputError(
                f"the model returned {out.shape[0]} rows for {size} inputs; it must answer one row per input"
            )
        if self.num_classes is None:
            self.num_classes = out.shape[1]
        elif out.shape[1] != self.num_classes:
            raise ModelOutputError(
                f"the model returned {out.shape[1]} classes where {self.num_classes} were expected; "
                "check num_classes= or that the model's output layer is the one you meant"
            )
        if not torch.isfinite(out).all():
            bad = int((~torch.isfinite(out)).any(dim=1).sum())
            raise ModelOutputError(
                f"the model returned NaN or infinite scores for {bad} of {size} inputs; a model "
                "that breaks on perturbed inputs needs a smaller sigma or inputs in its valid range"
            )
        looks_like_probs = bool((out >= -1e-6).all()) and bool(
            torch.allclose(out.sum(dim=1), torch.ones(size, device=out.device), atol=1e-3)
        )
        if self._output == "auto":
            self._output = "probs" if looks_like_probs else "logits"
        elif self._output == "probs" and not looks_like_probs:
            raise ModelOutputError(
                "output='probs' was declared but the model's rows are not probabilities (negative or "
                "not summing to 1); declare output='logits' instead"
            )
        return out


def as_blackbox(model: Any, **options: Any) -> BlackBox:
    """Return ``model`` if it is a :class:`BlackBox`, else wrap it with ``options``.

    Example:
        >>> bb = as_blackbox(torch.nn.Linear(4, 3).eval(), batch_size=512)
        >>> as_blackbox(bb) is bb
        True
    """
    if isinstance(model, BlackBox):
        for key, value in options.items():
            if value is not None and key == "batch_size":
                model.batch_size = value
        return model
    return BlackBox(model, **{k: v for k, v in options.items() if v is not None})


def _check_inputs(inputs: Inputs) -> int:
    if isinstance(inputs, str):
        raise InvalidInputError("inputs must be a batch: pass a list of strings, not one string")
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        if inputs.ndim == 0:
            raise InvalidInputError("inputs must be a batch with a leading batch dimension, not a scalar")
        values = torch.as_tensor(inputs)
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


def _backend(model: Any, input_type: str, allow_pickle: bool = False) -> tuple[Callable[[Any], Any], str, torch.device]:
    """Pick how to call ``model``: returns (call, kind, device)."""
    if isinstance(model, (str, Path)):
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
            return _backend(session, input_type)
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
