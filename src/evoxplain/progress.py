"""Progress bars for long work, switched on for a block of code (the command line does).

Explainers show a bar of their queries when made with ``progress=True``; exemplar searches show
one of the searches finished. Inside ``with progress_bars():`` every one of them shows its bar,
however deep in other code it was made, so a command turns them on once.

Example:
    >>> with progress_bars():
    ...     shown()
    True
    >>> shown(), shown(True)
    (False, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SHOW: ContextVar[bool] = ContextVar("evoxplain_progress_bars", default=False)


@contextmanager
def progress_bars(show: bool = True) -> Iterator[None]:
    """Show (or, with ``show=False``, hide) the progress bars of the work done inside."""
    token = _SHOW.set(show)
    try:
        yield
    finally:
        _SHOW.reset(token)


def shown(requested: bool = False) -> bool:
    """Whether a bar is shown: ``requested`` by its owner, or inside :func:`progress_bars`."""
    return bool(requested) or _SHOW.get()
