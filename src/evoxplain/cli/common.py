"""What the commands share: the Typer app, option parsers, class names and the error exit.

Example:
    >>> parse_pair("14,7", "--mask-size"), class_name(["cat", "dog"], 1)
    ((14, 7), '1 (dog)')
"""

from __future__ import annotations

import re
from typing import NoReturn

import typer

from ..errors import InvalidInputError

app = typer.Typer(
    name="evoxplain",
    help="Explain black-box models from queries alone: attributions (GEEX) and class exemplars (ES with momentum).",
    add_completion=False,
    no_args_is_help=True,
)


def parse_pair(text: str | None, name: str) -> tuple[int, int] | None:
    """``"14"`` → ``(14, 14)``; ``"14,7"`` or ``"14x7"`` → ``(14, 7)``; None stays None.

    Example:
        >>> parse_pair("7", "--mask-size")
        (7, 7)
    """
    if text is None:
        return None
    parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise InvalidInputError(f"{name} must be one positive integer or two as H,W (e.g. 14 or 14,14), not {text!r}")
    return values  # type: ignore[return-value]


def parse_baseline(text: str) -> float | str:
    """``"0"`` → ``0.0``; ``"auto"``, ``"blur"`` and ``"mean"`` stay names.

    Example:
        >>> parse_baseline("0.5"), parse_baseline("blur")
        (0.5, 'blur')
    """
    if text in ("auto", "blur", "mean"):
        return text
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"--baseline must be a number, 'auto', 'blur' or 'mean', not {text!r}") from None


def class_name(classes: list[str] | None, index: int) -> str:
    """``"281 (tabby)"``, or ``"281"`` without class names."""
    return f"{index} ({classes[index]})" if classes and 0 <= index < len(classes) else str(index)


def fail(err: Exception) -> NoReturn:
    """Print ``error: <message>`` on one line of standard error and exit with status 2."""
    message = " ".join(str(err).split()) or type(err).__name__
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)
