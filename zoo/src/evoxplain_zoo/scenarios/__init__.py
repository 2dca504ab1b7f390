"""The exemplar scenarios of the exemplar paper, for ``evoxplain exemplars NAME``.

``adult`` (a random forest on UCI Adult, a table VAE), ``fer`` (the FER2013 classifier, a VAE or
DCGAN of faces), ``fashion-mnist`` (the Fashion-MNIST LeNet) and ``imdb`` (a BiLSTM sentiment
classifier, a sentence VAE). Each is a :class:`evoxplain.plugins.Scenario` whose ``run`` takes
the command's :class:`evoxplain.plugins.ScenarioOptions`.

Example:
    >>> from evoxplain.plugins import ScenarioOptions
    >>> print(SCENARIOS[2].run(ScenarioOptions(target="Trouser", runs=2, per_class=2)))
    Exemplars (ES-momentum, fashion-mnist-vae (same data) → fashion-mnist classifier)
    ...
    | Trouser | 2 / 2 | ...
"""

from __future__ import annotations

from evoxplain.errors import InvalidInputError
from evoxplain.plugins import Scenario, ScenarioOptions

TABULAR = {"runs": 10, "per_class": 5, "max_queries": 5000, "generator": "vae"}
IMAGE = {"runs": 4, "per_class": 4, "max_queries": 2000, "generator": "vae"}
TEXT = {"runs": 10, "per_class": 5, "max_queries": 5000, "generator": "vae"}


def _only_fer_is_fitted(dataset: str, options: ScenarioOptions) -> None:
    if options.fitted_classifier and dataset != "fer":
        raise InvalidInputError(f"--fitted-classifier applies to fer only: leave it out for {dataset}")


def adult(options: ScenarioOptions) -> str:
    """The Adult scenario: a table VAE, a random forest, ES with momentum."""
    from .tabular import run_tabular_exemplars

    _only_fer_is_fitted("adult", options)
    if options.value("generator", "vae") != "vae" or options.method != "es":
        raise InvalidInputError("adult exemplars use the tabular VAE and ES: leave --generator and --method out")
    return run_tabular_exemplars(
        target=options.target,
        runs=options.value("runs", TABULAR["runs"]),
        per_class=options.value("per_class", TABULAR["per_class"]),
        max_queries=options.value("max_queries", TABULAR["max_queries"]),
        momentum=options.momentum,
        epochs=options.epochs,
        seed=options.seed,
        data=options.data,
        out=options.out,
    )


def _images(dataset: str):
    def run(options: ScenarioOptions) -> str:
        from .images import run_image_exemplars

        _only_fer_is_fitted(dataset, options)
        return run_image_exemplars(
            dataset,
            generator=options.value("generator", IMAGE["generator"]),
            target=options.target,
            runs=options.value("runs", IMAGE["runs"]),
            per_class=options.value("per_class", IMAGE["per_class"]),
            max_queries=options.value("max_queries", IMAGE["max_queries"]),
            momentum=options.momentum,
            seed=options.seed,
            out=options.out,
            method=options.method,
            fitted=options.fitted_classifier,
        )

    return run


def imdb(options: ScenarioOptions) -> str:
    """The IMDB scenario: a sentence VAE and a BiLSTM sentiment classifier."""
    from .text import run_text_exemplars

    _only_fer_is_fitted("imdb", options)
    if options.value("generator", "vae") != "vae" or options.method != "es":
        raise InvalidInputError("imdb exemplars use the sentence VAE and ES: leave --generator and --method out")
    return run_text_exemplars(
        target=options.target,
        runs=options.value("runs", TEXT["runs"]),
        per_class=options.value("per_class", TEXT["per_class"]),
        max_queries=options.value("max_queries", TEXT["max_queries"]),
        momentum=options.momentum,
        seed=options.seed,
        out=options.out,
    )


SCENARIOS = [
    Scenario("adult", "a random forest on UCI Adult, a table VAE (tables)", adult),
    Scenario("fer", "the FER2013 classifier, a VAE or DCGAN of faces (images)", _images("fer")),
    Scenario("fashion-mnist", "the Fashion-MNIST LeNet, a VAE or DCGAN (images)", _images("fashion-mnist")),
    Scenario("imdb", "a BiLSTM sentiment classifier, a sentence VAE (text)", imdb),
]
