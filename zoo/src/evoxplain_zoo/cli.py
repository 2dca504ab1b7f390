"""``evoxplain data``: the datasets of the benchmarks and scenarios, fetched into a cache.

Added to the ``evoxplain`` command by the zoo's plugin. ``evoxplain data list`` shows them and
whether they are cached; ``evoxplain data download NAME...`` fetches the public originals (with
checksums and a progress bar) and builds the subsets the benchmarks use
(:mod:`evoxplain_zoo.data.subsets`); ``evoxplain data verify NAME --root DIR`` checks a copy.

Example::

    evoxplain data download mnist adult
    export EVOXPLAIN_DATA=~/.cache/evoxplain/data     # not needed: loaders look in the cache
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoxplain.errors import EvoxplainError

from .data.catalog import DATASETS, download, verify_folder
from .data.download import cache_root

data = typer.Typer(name="data", help="Download the datasets of the benchmarks and scenarios.", no_args_is_help=True)

Cache = Annotated[
    Path | None, typer.Option(help="The cache folder (default $EVOXPLAIN_CACHE, else ~/.cache/evoxplain/data).")
]


def _fail(err: Exception) -> None:
    typer.echo(f"error: {' '.join(str(err).split())}", err=True)
    raise typer.Exit(code=2)


@data.command("list")
def list_datasets(cache: Cache = None) -> None:
    """The datasets, where each comes from, and whether it is in the cache."""
    for entry in DATASETS.values():
        state = "cached" if entry.cached(cache) else "not downloaded"
        typer.echo(f"{entry.name:<18}{entry.description} [{state}]\n{'':<18}from {entry.origin}")
    typer.echo(f"cache: {cache_root(cache)}")


@data.command("download")
def download_command(
    names: Annotated[list[str], typer.Argument(help=f"Datasets: {', '.join(DATASETS)}, or all.")],
    cache: Cache = None,
    mirror: Annotated[
        str | None,
        typer.Option(help="A base URL laid out as the cache (URL/<name>/<file>), used instead of the originals."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch again even if cached.")] = False,
) -> None:
    """Fetch datasets into the cache, check every file, and list the files (a dataset that fails is
    reported and the others still fetched)."""
    chosen = list(DATASETS) if names == ["all"] else names
    failed = []
    for name in chosen:
        try:
            for path in download(name, cache, mirror=mirror, force=force):
                typer.echo(f"{name}: {path}")
        except EvoxplainError as err:
            typer.echo(f"error: {name}: {' '.join(str(err).split())}", err=True)
            failed.append(name)
    if failed:
        typer.echo(f"not downloaded: {', '.join(failed)}", err=True)
        raise typer.Exit(code=2)


@data.command("verify")
def verify_command(
    name: Annotated[str, typer.Argument(help="The dataset.")],
    root: Annotated[Path, typer.Option(help="A folder that holds the dataset's files (or NAME/ with them).")],
) -> None:
    """Check a copy of a dataset against the checksums; exits 1 if a file is missing or differs."""
    folder = root / name if (root / name).is_dir() else root
    try:
        results = verify_folder(name, folder)
    except EvoxplainError as err:
        _fail(err)
    for file, ok in results.items():
        typer.echo(f"{'ok  ' if ok else 'BAD '} {folder / file}")
    if not all(results.values()):
        raise typer.Exit(code=1)
