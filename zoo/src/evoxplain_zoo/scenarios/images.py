"""The image exemplar scenarios of the exemplar paper: FER2013 and Fashion-MNIST.

What ``evoxplain exemplars fer|fashion-mnist`` does with the shipped classifiers and generators
(:mod:`evoxplain_zoo.models.generators`): searches with :func:`evoxplain.exemplars.image_exemplars`
and writes a grid and a Markdown summary.

Example:
    >>> from evoxplain.exemplars import image_exemplars
    >>> from evoxplain_zoo.models.generators import load_exemplar_classifier, load_generator
    >>> model, classes = load_exemplar_classifier("fer")
    >>> ex = image_exemplars(model, load_generator("fer-vae"), {3: "happy", 5: "surprise"},
    ...                      runs=2, per_class=2, max_queries=1000, seed=0)
    >>> ex.grid("fer_exemplars.png").size          # two rows of two faces, captioned
    (346, 352)
    >>> print(ex.markdown())
    Exemplars (ES-momentum)
    <BLANKLINE>
    | class | converged / runs | queries mean (median), converged | queries mean, all | p(class) mean | seconds mean |
    |---|---|---|---|---|---|
    | happy | ...
"""

from __future__ import annotations

from pathlib import Path

from evoxplain.errors import InvalidInputError
from evoxplain.exemplars.images import image_exemplars

GENERATOR_KINDS = ("vae", "dcgan", "vae-disjoint", "vae-no-surprise", "dcgan-no-surprise")


def _generator_name(dataset: str, generator: str) -> str:
    """``("fer", "vae-disjoint")`` → ``"fer-vae-disjoint"``, checked against the registry."""
    from ..models.generators import available_generators

    if generator not in GENERATOR_KINDS:
        raise InvalidInputError(f"--generator must be one of {', '.join(GENERATOR_KINDS)}, not {generator!r}")
    name = f"{dataset}-{generator}"
    if name not in available_generators():
        valid = [g[len(dataset) + 1 :] for g in available_generators() if g.startswith(dataset + "-")]
        raise InvalidInputError(f"there is no {generator} generator for {dataset}; choose one of {', '.join(valid)}")
    return name


def _targets(target: str | None, classes: list[str]) -> dict[int, str]:
    """``None`` → every class; ``"happy,surprise"`` or ``"3,5"`` → those classes."""
    from ..models.fer import class_index

    if target is None:
        return dict(enumerate(classes))
    chosen = [class_index(part, classes) for part in str(target).split(",") if part.strip()]
    if not chosen:
        raise InvalidInputError(f"--target {target!r} names no class; choose from {classes}")
    return {i: classes[i] for i in dict.fromkeys(chosen)}


def run_image_exemplars(
    dataset: str,
    generator: str = "vae",
    target: str | None = None,
    runs: int = 6,
    per_class: int = 4,
    max_queries: int = 5000,
    momentum: float = 0.3,
    seed: int = 0,
    out: str | Path = "evoxplain-out",
    method: str = "es",
    fitted: bool = False,
) -> str:
    """What ``evoxplain exemplars fer|fashion-mnist`` does; returns the Markdown it wrote.

    Loads the dataset's black box and the shipped generator (``vae``, ``dcgan``, and for FER
    ``vae-disjoint`` — paired with the classifier trained on the other half — and
    ``vae-no-surprise`` / ``dcgan-no-surprise``), searches ``runs`` exemplars per class (``target``: one class or a
    comma-separated list, by name or index; default every class), and writes
    ``<dataset>_<generator>_<method>_exemplars.png`` and ``.md`` under ``out``, with
    ``exemplar_runs.json`` and ``manifest.json`` for ``evoxplain report``. ``fitted``: the
    FER black box is the lightly regularised classifier (files ``..._fitted_exemplars.*``).

    Example:
        >>> print(run_image_exemplars("fer", "vae-no-surprise", target="happy,surprise", runs=2, max_queries=1000))
        Exemplars (ES-momentum, fer-vae-no-surprise (unseen class (surprise)) → fer classifier)
        ...
    """
    from ..models.generators import generator_info, load_exemplar_classifier, load_generator

    if dataset not in ("fer", "fashion-mnist"):
        raise InvalidInputError(f"image exemplars are available for 'fer' and 'fashion-mnist', not {dataset!r}")
    name = _generator_name(dataset, generator)
    info = generator_info(name)
    classifier, classes = load_exemplar_classifier(dataset, half=info.classifier_half, fitted=fitted)
    gen = load_generator(name)
    black_box = "fitted classifier" if fitted else "classifier"
    black_box += "" if info.classifier_half is None else f" (half {info.classifier_half})"
    found = image_exemplars(
        classifier, gen, _targets(target, classes), runs=runs, per_class=min(per_class, runs),
        seed=seed, momentum=momentum, max_queries=max_queries, method=method,
        title=f"{name} ({info.scenario}) → {dataset} {black_box}",
    )  # fmt: skip
    stem = f"{dataset}_{generator}_{method}{'_fitted' if fitted else ''}_exemplars"
    settings = {"generator": name, "runs": runs, "per_class": per_class, "max_queries": max_queries,
                "momentum": momentum, "seed": seed, "method": method, "target": target}  # fmt: skip
    found.save_run(out, stem=stem, model=f"{dataset} {black_box}", settings=settings, class_names=classes)
    return found.markdown()
