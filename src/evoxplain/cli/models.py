"""``evoxplain models``: the built-in models of the installed plugins and the input each takes."""

from __future__ import annotations

import typer

from ..plugins import ZOO_HINT, builtin_models
from .common import app


@app.command()
def models() -> None:
    """List the built-in models and the input each takes."""
    found = builtin_models()
    if not found:
        typer.echo(f"no built-in models are installed: {ZOO_HINT}")
    for name in sorted(found):
        entry = found[name]
        typer.echo(f"{name:<22}{entry.description}; takes {entry.spec.describe()}")
