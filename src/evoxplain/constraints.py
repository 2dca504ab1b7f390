"""Settings checked in one place: what each parameter may be, said once, refused in one voice.

A constructor declares its parameters' constraints in a table (in the spirit of scikit-learn's
``_parameter_constraints`` and pycma's options table) and checks them with :func:`check_all`;
a settings dataclass derives from :class:`Checked` and declares the same table as
``constraints``. A value that does not fit raises :class:`~evoxplain.InvalidInputError`
reading ``"<name> must be <what>, not <value>"``, before any query is sent.

Numbers accept numpy scalars (``np.float32(0.2)``, ``np.int64(64)``) and come back as Python
``float`` / ``int``; ``True`` and ``False`` are never numbers; an integer is never a float
(``7.0`` is refused where a count is meant); a real number is always finite.

Example:
    >>> import numpy as np
    >>> table = {"queries": Integer(low=2, even=True), "sigma": Real(low=0, low_open=True)}
    >>> check_all(table, queries=np.int64(100), sigma=np.float32(0.25))
    {'queries': 100, 'sigma': 0.25}
    >>> check_all(table, queries=100, sigma=True)
    Traceback (most recent call last):
    ...
    evoxplain.errors.InvalidInputError: sigma must be a positive number, not True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np

from .errors import InvalidInputError


class _Refused(Exception):
    """A value does not fit a constraint (turned into one message by :meth:`Constraint.check`)."""


class Constraint:
    """What one parameter may be: :meth:`convert` normalises a fitting value, refuses others.

    Args:
        hint: words added to the message in parentheses, e.g. ``"the search radius"``.
    """

    def __init__(self, hint: str = ""):
        self.hint = hint

    @property
    def what(self) -> str:
        """The allowed values in words (``"a positive integer"``)."""
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """The value, normalised; raises ``_Refused`` if it does not fit."""
        raise NotImplementedError

    def check(self, name: str, value: Any) -> Any:
        """``value`` normalised, or an :class:`~evoxplain.InvalidInputError` naming ``name``."""
        try:
            return self.convert(value)
        except _Refused:
            hint = f" ({self.hint})" if self.hint else ""
            raise InvalidInputError(f"{name} must be {self.what}{hint}, not {value!r}") from None


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


class Integer(Constraint):
    """An ``int`` or numpy integer in ``[low, high]``, even or odd if asked; never a bool or float."""

    def __init__(self, low: int | None = None, high: int | None = None, *, even: bool = False, odd: bool = False,
                 hint: str = ""):  # fmt: skip
        super().__init__(hint)
        self.low, self.high, self.even, self.odd = low, high, even, odd

    @property
    def what(self) -> str:
        kind = "an even integer" if self.even else "an odd integer" if self.odd else "an integer"
        if self.high is not None:
            return f"{kind} in [{self.low if self.low is not None else '-inf'}, {self.high}]"
        if self.low == 1 and not (self.even or self.odd):
            return "a positive integer"
        if self.low == 0:
            return "a non-negative integer"
        if self.low == 1:
            return f"a positive {kind.removeprefix('an ')}"
        return kind if self.low is None else f"{kind} >= {self.low}"

    def convert(self, value: Any) -> int:
        if _is_bool(value) or not isinstance(value, (int, np.integer)):
            raise _Refused
        value = int(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise _Refused
        if (self.even and value % 2) or (self.odd and not value % 2):
            raise _Refused
        return value


class Real(Constraint):
    """A finite real number (``int``, ``float`` or numpy scalar, never a bool) in an interval."""

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False, hint: str = ""):  # fmt: skip
        super().__init__(hint)
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    @property
    def what(self) -> str:
        low, high = self.low, self.high
        if high is None:
            if low is None:
                return "a finite number"
            if low == 0:
                return "a positive number" if self.low_open else "a number >= 0"
            return f"a number {'>' if self.low_open else '>='} {low:g}"
        left = "(" if self.low_open or low is None else "["
        right = ")" if self.high_open else "]"
        return f"a number in {left}{'-inf' if low is None else f'{low:g}'}, {high:g}{right}"

    def convert(self, value: Any) -> float:
        if _is_bool(value) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise _Refused
        value = float(value)
        if not math.isfinite(value):
            raise _Refused
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise _Refused
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            raise _Refused
        return value


class OneOf(Constraint):
    """One of a few names (or other hashable values)."""

    def __init__(self, *choices: Any, hint: str = ""):
        super().__init__(hint)
        self.choices = choices

    @property
    def what(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def convert(self, value: Any) -> Any:
        if _is_bool(value) or not any(type(value) is type(c) and value == c for c in self.choices):
            raise _Refused
        return value


class Boolean(Constraint):
    """``True`` or ``False`` (a numpy bool too); not ``"no"``, not 0."""

    what = "True or False"

    def convert(self, value: Any) -> bool:
        if not _is_bool(value):
            raise _Refused
        return bool(value)


class Optional(Constraint):
    """None, or a value of ``inner``."""

    def __init__(self, inner: Constraint, hint: str = ""):
        super().__init__(hint or inner.hint)
        self.inner = inner

    @property
    def what(self) -> str:
        return f"{self.inner.what} or None"

    def convert(self, value: Any) -> Any:
        return None if value is None else self.inner.convert(value)


class Pair(Constraint):
    """A pair ``(h, w)`` of ``inner`` values, or one value used for both."""

    def __init__(self, inner: Constraint, hint: str = ""):
        super().__init__(hint)
        self.inner = inner

    @property
    def what(self) -> str:
        return f"{self.inner.what} or a pair (h, w) of them"

    def convert(self, value: Any) -> tuple[Any, Any]:
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise _Refused
            return self.inner.convert(value[0]), self.inner.convert(value[1])
        one = self.inner.convert(value)
        return one, one


class Tuple(Constraint):
    """A fixed-length tuple whose items have their own constraints, e.g. ``(kernel_size, sigma)``."""

    def __init__(self, *items: Constraint, names: Sequence[str], hint: str = ""):
        super().__init__(hint)
        self.items, self.names = items, tuple(names)

    @property
    def what(self) -> str:
        return "a tuple (" + ", ".join(f"{n}: {c.what}" for n, c in zip(self.names, self.items)) + ")"

    def convert(self, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, (tuple, list)) or len(value) != len(self.items):
            raise _Refused
        return tuple(c.convert(v) for c, v in zip(self.items, value))


class Instance(Constraint):
    """An instance of one of ``types`` (e.g. a ``dict`` of options)."""

    def __init__(self, *types: type, what: str, hint: str = ""):
        super().__init__(hint)
        self.types, self._what = types, what

    @property
    def what(self) -> str:
        return self._what

    def convert(self, value: Any) -> Any:
        if not isinstance(value, self.types):
            raise _Refused
        return value


COUNT = Integer(low=1)
"""A count (epochs, runs, a size): a positive integer."""


def check_all(constraints: Mapping[str, Constraint], **values: Any) -> dict[str, Any]:
    """Each of ``values`` checked against its constraint and normalised (in the table's order).

    Example:
        >>> check_all({"p": Real(0, 1, low_open=True, high_open=True)}, p=0.5)
        {'p': 0.5}
    """
    unknown = set(values) - set(constraints)
    if unknown:
        raise InvalidInputError(f"unknown setting {sorted(unknown)[0]!r}; the settings are {', '.join(constraints)}")
    return {name: constraints[name].check(name, values[name]) for name in constraints if name in values}


class Checked:
    """A dataclass whose fields are checked against the class's ``constraints`` when it is made.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Budget(Checked):
        ...     queries: int = 100
        ...     constraints = {"queries": Integer(low=1)}
        >>> Budget(np.int64(5)).queries, type(Budget(np.int64(5)).queries)
        (5, <class 'int'>)
    """

    constraints: ClassVar[Mapping[str, Constraint]] = {}

    def __post_init__(self) -> None:
        for field in fields(self):  # type: ignore[arg-type]
            if field.name in self.constraints:
                value = self.constraints[field.name].check(field.name, getattr(self, field.name))
                object.__setattr__(self, field.name, value)
