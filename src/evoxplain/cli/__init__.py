"""The ``evoxplain`` command line: one module per command, over the library's functions.

``explain`` (:mod:`.explain`), ``explain-dataset`` (:mod:`.dataset`), ``exemplars``
(:mod:`.exemplars`), ``models`` (:mod:`.models`), ``report`` (:mod:`.report`), and the sub-commands
installed plugins add.

Example::

    evoxplain explain                                   # EfficientNet-Lite0 on the sample photo
    evoxplain models
    evoxplain report evoxplain-out -o report.html
"""

from __future__ import annotations

from . import dataset, exemplars, explain, models, report  # noqa: F401  (each registers its command)
from .common import app
from .exemplars import run_exemplars
from .explain import (
    ExplainOptions,
    default_mask,
    load_source,
    make_explainer,
    resolve_model,
    run_explain,
    summary_text,
    write_outputs,
)


def _add_plugin_commands() -> None:
    from ..errors import EvoxplainError
    from ..plugins import installed

    try:
        plugins = installed()
    except EvoxplainError:
        return  # `evoxplain models` and `explain --model` say what failed to load
    for plugin in plugins:
        for command in plugin.commands:
            app.add_typer(command)


_add_plugin_commands()


def main() -> None:
    """Entry point of the ``evoxplain`` command."""
    app()


__all__ = [
    "ExplainOptions",
    "app",
    "default_mask",
    "load_source",
    "main",
    "make_explainer",
    "resolve_model",
    "run_exemplars",
    "run_explain",
    "summary_text",
    "write_outputs",
]
