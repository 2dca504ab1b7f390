"""Every error evoxplain raises on purpose derives from :class:`EvoxplainError`.

Each message says what was wrong and how to fix it.

Example:
    >>> from evoxplain import GEEX, EvoxplainError
    >>> try:
    ...     GEEX(model, sigma=-1.0)
    ... except EvoxplainError as err:
    ...     print(err)
    sigma must be a positive number (the search radius), not -1.0
"""

from __future__ import annotations

from typing import Any


class EvoxplainError(Exception):
    """Base class of every error evoxplain raises on purpose.

    ``completed`` holds what finished before the error, where there is something (the
    explanations of the first inputs of a batch, the results of exemplar searches), so no work
    is lost; None otherwise.
    """

    completed: Any = None


class InvalidInputError(EvoxplainError, ValueError):
    """An argument or an input to explain is malformed (shape, value, range)."""


class ModelOutputError(EvoxplainError):
    """The model returned something that is not a finite (batch, classes) array."""


class ModelCallError(EvoxplainError):
    """The model raised an exception while answering a batch of queries."""


class QueryBudgetExceeded(EvoxplainError):
    """A query would take the model past its budget; raised before that query is sent.

    ``completed`` holds whatever finished before the budget ran out (for example the
    explanations of the first inputs of a batch), so no work is lost.
    """

    def __init__(self, message: str, *, used: int, budget: int, completed: Any = None):
        super().__init__(message)
        self.used = used
        self.budget = budget
        self.completed = completed


class MissingDependencyError(EvoxplainError, ImportError):
    """An optional dependency is needed for this feature and is not installed."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency or raise :class:`MissingDependencyError` with the fix.

    Example:
        >>> ort = require("onnxruntime", "onnx", "ONNX models")
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{feature} need the optional package '{module.split('.')[0]}', which is not "
            f"installed. Install it with: pip install 'evoxplain[{extra}]'"
        ) from err
