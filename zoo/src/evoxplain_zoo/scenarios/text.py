"""The text exemplar scenario of the exemplar paper (Table 3): IMDB sentences.

What ``evoxplain exemplars imdb`` does: the shipped IMDB sentiment classifier (the black box,
queried as a model of strings) and sentence VAE (trained on disjoint reviews), searched with
:func:`evoxplain.exemplars.text_exemplars`.

Example:
    >>> from evoxplain.exemplars import text_exemplars
    >>> from evoxplain_zoo.models.text import load_sentiment_classifier, load_sentence_vae
    >>> ex = text_exemplars(load_sentiment_classifier(), load_sentence_vae(),
    ...                     ["negative", "positive"], runs=10, per_class=5, seed=0)
    >>> print(ex.markdown())
    | class | run | exemplar | p(class) | queries | converged |
    |---|---|---|---|---|---|
    | negative | 0 | “the movie was so bad, but it was so bad.” | 1.000 | 70 | yes |
    ...
    | positive | 6 | “the film is also a great job, but the film is also a great job.” | 1.000 | 50 | yes |
"""

from __future__ import annotations

from pathlib import Path

from evoxplain.errors import InvalidInputError
from evoxplain.exemplars.text import text_exemplars


def run_text_exemplars(
    target: str | None = None,
    runs: int = 10,
    per_class: int = 5,
    max_queries: int = 5000,
    momentum: float = 0.3,
    seed: int = 0,
    out: str | Path = "evoxplain-out",
    init_range: float = 1.0,
) -> str:
    """What ``evoxplain exemplars imdb`` does; returns the Markdown table it wrote.

    Loads the shipped IMDB sentiment classifier (the black box, queried as a model of strings)
    and sentence VAE (trained on disjoint reviews), searches exemplar sentences of each class
    (or of ``target``: ``"negative"``, ``"positive"``, ``"0"`` or ``"1"``) and writes
    ``imdb_exemplars.md`` and ``imdb_exemplars.csv`` under ``out``, with ``exemplar_runs.json`` and
    ``manifest.json`` for ``evoxplain report``. ``init_range`` is ``u``
    (see :func:`text_exemplars`).

    Example:
        >>> print(run_text_exemplars(target="positive", runs=5))
        | class | run | exemplar | p(class) | queries | converged |
        |---|---|---|---|---|---|
        | positive | 0 | “and, it is a great film, but it is a great film.” | 1.000 | 50 | yes |
        ...
    """
    from ..data.imdb import IMDB_CLASSES
    from ..models.text import load_sentence_vae, load_sentiment_classifier

    classes = dict(enumerate(IMDB_CLASSES))
    if target is not None:
        chosen = [i for i, name in classes.items() if str(target) in (name, str(i))]
        if not chosen:
            raise InvalidInputError(f"target {target!r} is not a class: choose one of {IMDB_CLASSES} or its index")
        classes = {chosen[0]: classes[chosen[0]]}
    found = text_exemplars(
        load_sentiment_classifier(), load_sentence_vae(), classes, runs=runs, per_class=per_class, seed=seed,
        momentum=momentum, max_queries=max_queries, init_range=init_range,
    )  # fmt: skip
    settings = {"runs": runs, "per_class": per_class, "max_queries": max_queries, "momentum": momentum,
                "seed": seed, "init_range": init_range, "target": target}  # fmt: skip
    found.save_run(out, stem="imdb_exemplars", model="imdb sentiment classifier", settings=settings,
                   class_names=IMDB_CLASSES)  # fmt: skip
    return found.markdown()
