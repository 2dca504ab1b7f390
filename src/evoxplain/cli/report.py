"""``evoxplain report RESULTS -o report.html``: one self-contained HTML page of what evoxplain wrote.

RESULTS is an output folder (read by its ``manifest.json``: one explanation, a dataset run,
exemplar searches, a benchmark run) or a benchmark's results JSON. The page has its pictures
inline and loads nothing from the network; it prints with the run's metadata on every page.

Example::

    evoxplain explain --out cat/            # writes cat/report.html too
    evoxplain report cat/ -o cat.html
    evoxplain report benchmarks/results/aopc_mnist.json -o aopc.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvoxplainError
from ..report.build import write_report
from .common import app, fail


@app.command()
def report(
    results: Annotated[
        Path, typer.Argument(help="An output folder evoxplain wrote (with manifest.json), or a benchmark's JSON.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one self-contained HTML report (pictures inline, no network, printable) of RESULTS."""
    try:
        path = write_report(results, output)
    except EvoxplainError as err:
        fail(err)
    typer.echo(f"wrote {path}")
