"""Text global exemplars: sentences a sentiment classifier finds typical (exemplar paper, Table 3).

The generator is a sentence decoder: anything with ``latent_dim`` and ``decode(z) -> list[str]``
(latents ``(B, l)`` → ``B`` sentences); the black box is any *model of strings* (``list[str]`` →
``(N, classes)`` scores). :func:`text_exemplars` runs :class:`ExemplarSearch` (all ``runs × classes``
searches in lockstep) and keeps each class's best sentences.

Example:
    >>> import torch
    >>> class Decoder:                                # a toy decoder: the sign of z[0] picks a word
    ...     latent_dim = 2
    ...     def decode(self, z): return ["good film" if v > 0 else "bad film" for v in z[:, 0].tolist()]
    >>> def text_model(texts): return torch.tensor([[5.0, -5.0] if "bad" in t else [-5.0, 5.0] for t in texts])
    >>> ex = text_exemplars(text_model, Decoder(), ["negative", "positive"], runs=2, per_class=1, seed=0)
    >>> print(ex.markdown())
    | class | run | exemplar | p(class) | queries | converged |
    |---|---|---|---|---|---|
    | negative | 0 | “bad film” | 1.000 | 50 | yes |
    | positive | 0 | “good film” | 1.000 | 50 | yes |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..blackbox import BlackBox
from ..constraints import check_all
from ..errors import InvalidInputError, require
from .result import ExemplarResult, best_runs
from .run_folder import prepare, search_records, write_exemplar_run
from .search import ExemplarSearch
from .settings import RUNS
from .tabular import TabularExemplars, markdown_table, shown_runs


@dataclass
class TextExemplars:
    """Exemplar searches of several classes and their exemplar sentences.

    Attributes:
        frame: one row per exemplar: ``class``, ``run`` (the search's stream), ``sentence``,
            ``probability`` (of its class), ``queries``, ``converged``.
        results: every search's :class:`ExemplarResult`, by class name.
        method: the search's name (``"ES-momentum"`` or ``"ES"``).
        blackbox: the :class:`~evoxplain.BlackBox` that was queried (``.queries`` counts all).
    """

    frame: Any
    results: dict[str, list[ExemplarResult]]
    method: str
    blackbox: BlackBox

    def summary(self):
        """Per class: runs, converged runs, queries (mean, median over converged runs, mean over
        all), mean best target probability and seconds (as :meth:`TabularExemplars.summary`)."""
        return TabularExemplars.summary(self)

    def markdown(self, digits: int = 3) -> str:
        """A Table-3-style Markdown table: one row per exemplar sentence."""
        rows = [
            [r["class"], r["run"], f"“{r['sentence']}”", f"{r['probability']:.{digits}f}", r["queries"],
             "yes" if r["converged"] else "no"]
            for r in self.frame.to_dict("records")
        ]  # fmt: skip
        return markdown_table(["class", "run", "exemplar", "p(class)", "queries", "converged"], rows)

    def text(self, digits: int = 3) -> str:
        """Plain text: one line per exemplar, ``class<TAB>p(class)<TAB>queries<TAB>sentence``."""
        return "\n".join(
            f"{r['class']}\t{r['probability']:.{digits}f}\t{r['queries']}\t{r['sentence']}"
            for r in self.frame.to_dict("records")
        )

    def save(self, path: str | Path) -> Path:
        """Write the exemplars: Markdown for ``.md``, CSV for ``.csv``, else plain text (``.txt``);
        missing folders are made.

        Example:
            >>> ex = text_exemplars(text_model, decoder, ["negative", "positive"], runs=2)
            >>> ex.save("out/exemplars.md")
            PosixPath('out/exemplars.md')
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            self.frame.to_csv(path, index=False)
        else:
            path.write_text((self.markdown() if path.suffix.lower() == ".md" else self.text()) + "\n")
        return path

    def records(self, class_names: Any = None) -> list[dict[str, Any]]:
        """One record per search (:func:`~evoxplain.exemplars.run_folder.search_records`)."""
        return search_records(self.results, shown_runs(self.frame), class_names)

    def save_run(
        self, folder: str | Path, *, stem: str = "exemplars", model: str = "", settings: dict[str, Any] | None = None,
        class_names: Any = None,
    ) -> Path:  # fmt: skip
        """Write ``<stem>.md``, ``<stem>.csv``, ``exemplar_runs.json`` and ``manifest.json`` into
        ``folder`` (made if missing), for ``evoxplain report``; returns the manifest's path."""
        folder = prepare(folder)
        self.save(folder / f"{stem}.md")
        self.save(folder / f"{stem}.csv")
        return write_exemplar_run(
            folder, modality="text", method=self.method, title="", records=self.records(class_names),
            files={"table": f"{stem}.csv", "summary": f"{stem}.md"}, model=model, settings=settings,
        )  # fmt: skip

    def _repr_html_(self) -> str:
        from ..report.exemplar_fragments import exemplars_html

        return exemplars_html(self.records(), modality="text", method=self.method)


def text_exemplars(
    classifier: Any,
    vae: Any,
    classes: Sequence[str] | Mapping[int, str],
    *,
    runs: int = 10,
    per_class: int = 5,
    seed: int | None = 0,
    momentum: float = 0.3,
    max_queries: int | None = 5000,
    confidence: float = 0.95,
    init_range: float = 1.0,
    unique: bool = True,
    **options: Any,
) -> TextExemplars:
    """Search exemplar sentences of each class with :class:`ExemplarSearch` in the VAE's latent space.

    Each class shows the best sentence of up to ``per_class`` of its ``runs`` searches:
    converged runs first (in run order), then the others by fitness; with ``unique`` a sentence
    already shown for that class is skipped.

    Args:
        classifier: a model of strings (``list[str]`` → ``(N, classes)`` scores), an object with
            ``model_of_strings()`` returning one (queried as logits), or a
            :class:`~evoxplain.BlackBox` of one.
        vae: the generator: has ``latent_dim`` and ``decode(z) -> list[str]``
            (a sentence VAE, for example).
        classes: class names by index (a list), or ``{index: name}`` for some classes only.
        runs: independent searches per class (streams of ``seed``).
        per_class: exemplars shown per class.
        init_range: ``u``, the initial population is ``U(−u, u)^l``. 1 here, not the paper's 5:
            the VAE's prior is N(0, I), and in 32 dimensions ``U(−5, 5)`` draws lie about three
            times farther out than prior samples, where the decoder writes degenerate strings
            (``"* * * *"``, ``"what??????"``) that the classifier still scores with over 99 %
            confidence (see ``benchmarks/results/text_exemplars/imdb/README.md``).
        seed, momentum, max_queries, confidence, options: :class:`ExemplarSearch` settings
            (paper defaults otherwise: population 50, elite 10, children 2, step 0.5).

    Example:
        >>> ex = text_exemplars(text_model, decoder, ["negative", "positive"], runs=10, seed=0)
        >>> ex.summary()[["class", "converged"]].values.tolist()
        [['negative', 10], ['positive', 10]]
    """
    require("pandas", "exemplars", "exemplar tables")
    decode, latent_dim = getattr(vae, "decode", None), getattr(vae, "latent_dim", None)
    if not callable(decode) or not isinstance(latent_dim, int):
        raise InvalidInputError(
            f"vae must have latent_dim and decode(z) -> list[str] (a SentenceVAE), not {type(vae).__name__}"
        )
    blackbox = _as_text_blackbox(classifier)
    named = dict(classes) if isinstance(classes, Mapping) else dict(enumerate(classes))
    if not named:
        raise InvalidInputError("classes must name at least one class")
    runs, per_class = check_all(RUNS, runs=runs, per_class=per_class).values()
    search = ExemplarSearch(
        blackbox, decode, latent_dim, momentum=momentum, max_queries=max_queries, confidence=confidence,
        init_range=init_range, seed=seed, **options,
    )  # fmt: skip
    results = search.run_many([index for index in named for _ in range(runs)])
    by_class = {name: results[k * runs : (k + 1) * runs] for k, name in enumerate(named.values())}
    rows = [
        {"class": name, "run": run, "sentence": r.exemplar, "probability": r.target_probability,
         "queries": r.queries, "converged": r.converged}
        for name, group in by_class.items()
        for run, r in best_runs(group, per_class, unique)
    ]  # fmt: skip
    columns = ["class", "run", "sentence", "probability", "queries", "converged"]
    frame = require("pandas", "exemplars", "exemplar tables").DataFrame(rows, columns=columns)
    return TextExemplars(frame=frame, results=by_class, method=search.method, blackbox=blackbox)


def _as_text_blackbox(classifier: Any) -> BlackBox:
    """A model of strings as a :class:`BlackBox` (its scores read as logits unless they are
    probabilities); an object with ``model_of_strings()`` is queried through it."""
    if isinstance(classifier, BlackBox):
        return classifier
    if callable(getattr(classifier, "model_of_strings", None)):
        return BlackBox(classifier.model_of_strings(), output="logits")
    if not callable(classifier):
        raise InvalidInputError(
            f"classifier must be a model of strings (list[str] -> (N, classes) scores), an object with "
            f"model_of_strings(), or a BlackBox, not {type(classifier).__name__}"
        )
    return BlackBox(classifier, output="auto")
