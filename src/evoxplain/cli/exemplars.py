"""``evoxplain exemplars SCENARIO``: typical inputs of each class, from an installed scenario.

The scenarios (``adult``, ``fer``, ``fashion-mnist``, ``imdb``) come with the evoxplain-zoo
plugin (:mod:`evoxplain.plugins`); each writes its tables (and a PNG grid for images) under
``--out`` and prints its Markdown summary.

Example::

    evoxplain exemplars fashion-mnist --target Trouser --runs 2
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvoxplainError, InvalidInputError
from ..plugins import ZOO_HINT, ScenarioOptions, scenarios
from .common import app, fail


def run_exemplars(scenario: str, options: ScenarioOptions | None = None) -> str:
    """What ``evoxplain exemplars SCENARIO`` does; returns the Markdown it wrote.

    Example:
        >>> print(run_exemplars("fashion-mnist", ScenarioOptions(target="Trouser", runs=2, per_class=2)))
        Exemplars (ES-momentum, fashion-mnist-vae (same data) → fashion-mnist classifier)
        ...
        | Trouser | 2 / 2 | ...
    """
    known = scenarios()
    if scenario not in known:
        names = ", ".join(known) if known else f"no scenario is installed ({ZOO_HINT})"
        raise InvalidInputError(f"exemplars are available for {names}, not {scenario!r}")
    return known[scenario].run(options or ScenarioOptions())


@app.command()
def exemplars(
    scenario: Annotated[
        str,
        typer.Argument(
            help="The scenario: 'adult' (a random forest on UCI Adult), 'fer' (the FER2013 classifier), "
            "'fashion-mnist' (the Fashion-MNIST LeNet) or 'imdb' (a BiLSTM sentiment classifier)."
        ),
    ] = "adult",
    target: Annotated[
        str | None,
        typer.Option(help="A class name or index (images: also a list, e.g. happy,surprise); default: every class."),
    ] = None,
    runs: Annotated[
        int | None, typer.Option(help="Independent searches per class (default: adult 10, images 4).")
    ] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Exemplars shown per class (default: adult 5, images 4).")
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Query budget of each search (default: adult 5000, images 2000).")
    ] = None,
    momentum: Annotated[float, typer.Option(help="ES momentum (0: plain ES).")] = 0.3,
    generator: Annotated[
        str | None,
        typer.Option(
            help="Images: vae, dcgan, vae-disjoint, vae-no-surprise or dcgan-no-surprise (the last three: fer only). "
            "Default vae."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="Images: es (black box) or gd (white-box gradient descent).")] = "es",
    fitted_classifier: Annotated[
        bool,
        typer.Option(
            "--fitted-classifier",
            help="fer: explain the classifier trained with light regularisation (surer of real faces) instead of "
            "the default one; with vae-disjoint, the half-data one trained so.",
        ),
    ] = False,
    epochs: Annotated[int, typer.Option(help="Adult: epochs of the generator's training.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data: Annotated[
        str | None, typer.Option(help="Adult: data folder holding adult/ (default $EVOXPLAIN_DATA).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the tables (and the image grid).")] = Path("evoxplain-out"),
) -> None:
    """Typical inputs of each class, searched in a generator's latent space; writes tables (and a PNG grid)."""
    options = ScenarioOptions(
        target=target, runs=runs, per_class=per_class, max_queries=max_queries, momentum=momentum,
        generator=generator, method=method, epochs=epochs, seed=seed, data=data, out=out,
        fitted_classifier=fitted_classifier,
    )  # fmt: skip
    try:
        text = run_exemplars(scenario, options)
    except EvoxplainError as err:
        fail(err)
    typer.echo(text)
