"""Image global exemplars: searches for several classes, a grid of the exemplars, a summary.

The image half of the exemplar paper (§4.2, §4.4, Figure 2): a black-box image classifier, an
image generator (VAE or GAN), and for each class a few independent searches of the generator's
latent space; the exemplars are shown as a grid, one row per class.

* :func:`image_exemplars` — the searches (ES with momentum, or the white-box gradient descent
  with momentum), run in lockstep, and the exemplars chosen per class;
* :class:`ImageExemplars` — the result: ``.grid(path)`` (PNG), ``.markdown()``, ``.summary()``.

Example:
    >>> ex = image_exemplars(model, generator, {6: "six", 7: "seven"}, latent_dim=8,
    ...                      runs=2, per_class=2, max_queries=1000, seed=0)
    >>> ex.grid("exemplars.png").size          # two rows of two digits, captioned
    (216, 232)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..blackbox import BlackBox
from ..constraints import check_all
from ..errors import InvalidInputError
from .gradient import GradientSearch
from .result import ExemplarResult, best_runs, summarise_by_class
from .run_folder import prepare, search_records, write_exemplar_run
from .search import ExemplarSearch
from .settings import RUNS
from .tabular import markdown_table

METHODS = ("es", "gd")


@dataclass
class ImageExemplars:
    """Exemplar searches of several classes and the exemplars chosen to show.

    Attributes:
        results: every search's :class:`ExemplarResult`, by class name (run order).
        shown: per class, the runs shown (indices into ``results[name]``): converged runs first
            (in run order), then the others by fitness, at most ``per_class``.
        method: the search's name (``"ES-momentum"``, ``"ES"`` or ``"GD-momentum"``).
        title: what the searches explained (e.g. ``"fer-vae → FER classifier"``).

    Example:
        >>> ex = image_exemplars(model, generator, {3: "three", 7: "seven"}, latent_dim=8, runs=4, per_class=2)
        >>> ex.exemplars("three").shape
        torch.Size([2, 1, 28, 28])
        >>> ex.summary()[0]["converged"]
        4
        >>> print(ex.markdown())
        Exemplars (ES-momentum)
        <BLANKLINE>
        | class | converged / runs | queries mean (median), converged | ...
        |---|---|---|---|---|---|
        | three | 4 / 4 | 70 (70) | 70 | 1.000 | ... |
        | seven | 4 / 4 | 85 (90) | 85 | 1.000 | ... |
        ...
        >>> ex.grid("exemplars.png").size
        (216, 232)
    """

    results: dict[str, list[ExemplarResult]]
    shown: dict[str, list[int]]
    method: str
    title: str = ""

    def exemplars(self, name: str) -> torch.Tensor:
        """The shown exemplars of class ``name``, stacked ``(n, C, H, W)``."""
        if name not in self.results:
            raise InvalidInputError(f"no class {name!r}; the classes are {list(self.results)}")
        return torch.stack([torch.as_tensor(self.results[name][i].exemplar) for i in self.shown[name]])

    def summary(self) -> list[dict[str, Any]]:
        """Per class: runs, converged runs (the paper's rule: every elite member), queries
        (mean and median over converged runs, mean over all), mean target probability, seconds."""
        return summarise_by_class(self.results)

    def markdown(self, digits: int = 3) -> str:
        """Two Markdown tables: per class (converged runs, queries, probabilities) and per shown
        exemplar (run, target probability, queries, converged)."""

        def number(value: float) -> str:
            return "–" if not np.isfinite(value) else f"{value:.0f}"

        per_class = markdown_table(
            ["class", "converged / runs", "queries mean (median), converged",
             "queries mean, all", "p(class) mean", "seconds mean"],
            [[row["class"], f"{row['converged']} / {row['runs']}",
              f"{number(row['queries_mean'])} ({number(row['queries_median'])})",
              number(row["queries_mean_all"]), f"{row['probability_mean']:.{digits}f}",
              f"{row['seconds_mean']:.2f}"] for row in self.summary()],
        )  # fmt: skip
        shown = markdown_table(
            ["class", "exemplar", "run", "p(class)", "queries", "converged"],
            [
                [name, k + 1, i, f"{self.results[name][i].target_probability:.{digits}f}",
                 self.results[name][i].queries, "yes" if self.results[name][i].converged else "no"]
                for name, runs in self.shown.items() for k, i in enumerate(runs)
            ],
        )  # fmt: skip
        head = f"Exemplars ({self.method}{', ' + self.title if self.title else ''})"
        return f"{head}\n\n{per_class}\n\nShown in the grid (row by row):\n\n{shown}"

    def grid(self, path: str | Path | None = None, *, scale: int = 3):
        """A PNG grid, one row per class, one column per shown exemplar; each caption gives
        the class probability and the queries (``*``: the search did not converge)."""
        from ..viz import image_grid

        cols = max(len(runs) for runs in self.shown.values())
        cells: list[Any] = []
        labels: list[str] = []
        for name, runs in self.shown.items():
            for i in range(cols):
                if i < len(runs):
                    result = self.results[name][runs[i]]
                    cells.append(torch.as_tensor(result.exemplar))
                    mark = "" if result.converged else "*"
                    labels.append(f"p={result.target_probability:.3f}{mark}\nq={result.queries}")
                else:
                    cells.append(None)
                    labels.append("")
        return image_grid(cells, path, cols=cols, labels=labels, row_labels=list(self.shown), scale=scale)

    def save(self, png: str | Path | None = None, markdown: str | Path | None = None) -> None:
        """Write the grid (PNG) and/or the Markdown summary."""
        if png is not None:
            self.grid(png)
        if markdown is not None:
            Path(markdown).write_text(self.markdown() + "\n", encoding="utf-8")

    def records(self, class_names: Any = None) -> list[dict[str, Any]]:
        """One record per search (:func:`~evoxplain.exemplars.run_folder.search_records`)."""
        return search_records(self.results, self.shown, class_names)

    def save_run(
        self, folder: str | Path, *, stem: str = "exemplars", model: str = "", settings: dict[str, Any] | None = None,
        class_names: Any = None,
    ) -> Path:  # fmt: skip
        """Write ``<stem>.png`` (the grid), ``<stem>.md``, ``exemplar_runs.json`` and ``manifest.json``
        into ``folder`` (made if missing), for ``evoxplain report``; returns the manifest's path.

        Example:
            >>> ex = image_exemplars(model, generator, {3: "three"}, latent_dim=8, runs=2, per_class=2)
            >>> sorted(p.name for p in ex.save_run("run").parent.iterdir())
            ['exemplar_runs.json', 'exemplars.md', 'exemplars.png', 'manifest.json']
        """
        folder = prepare(folder)
        self.save(folder / f"{stem}.png", folder / f"{stem}.md")
        return write_exemplar_run(
            folder, modality="image", method=self.method, title=self.title, records=self.records(class_names),
            files={"grid": f"{stem}.png", "summary": f"{stem}.md"}, model=model, settings=settings,
        )  # fmt: skip

    def _repr_html_(self) -> str:
        from ..report.exemplar_fragments import exemplars_html

        return exemplars_html(self.records(), modality="image", method=self.method, title=self.title, grid=self.grid())


def _class_map(classes: Sequence[str] | Mapping[int, str]) -> dict[int, str]:
    named = dict(classes) if isinstance(classes, Mapping) else dict(enumerate(classes))
    if not named:
        raise InvalidInputError("classes must name at least one class")
    return {int(index): str(name) for index, name in named.items()}


def image_exemplars(
    classifier: Any,
    generator: Any,
    classes: Sequence[str] | Mapping[int, str],
    *,
    runs: int = 5,
    per_class: int = 4,
    seed: int | None = 0,
    momentum: float = 0.3,
    max_queries: int | None = 5000,
    confidence: float = 0.95,
    method: str = "es",
    latent_dim: int | None = None,
    title: str = "",
    **options: Any,
) -> ImageExemplars:
    """Search ``runs`` exemplars of each class and choose ``per_class`` to show.

    All ``runs × classes`` searches run in lockstep (one generator and one model call per
    generation); search ``k·runs + r`` (class ``k``, run ``r``) uses stream ``k·runs + r`` of
    ``seed``, so the same call gives the same exemplars.

    Args:
        classifier: the black box (anything :func:`evoxplain.as_blackbox` accepts; a torch
            module is read as returning logits); ``method="gd"`` needs a torch module.
        generator: latents ``(B, l)`` → images ``(B, C, H, W)`` in [0, 1]; ``latent_dim`` defaults
            to its ``.latent_dim``.
        classes: the classes to search: names by index (a list: every class), or
            ``{index: name}`` (a subset, e.g. ``{3: "happy", 5: "surprise"}``).
        runs: independent searches per class.
        per_class: exemplars shown per class (at most ``runs``).
        seed, momentum, max_queries, confidence: the search's settings (paper defaults otherwise:
            population 50, elite 10, children 2, step 0.5, range 5).
        method: ``"es"`` (:class:`ExemplarSearch`, black box) or ``"gd"`` (:class:`GradientSearch`
            with momentum: white box, one start per search, lr 0.1, β 0.9).
        options: more settings of the search class (e.g. ``init_range``, ``step``, ``lr``).

    Example:
        >>> ex = image_exemplars(model, generator, {6: "six", 7: "seven", 8: "eight"}, latent_dim=8,
        ...                      runs=4, per_class=4, seed=0)
        >>> [row["converged"] for row in ex.summary()]
        [4, 4, 4]
    """
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, not {method!r}")
    named = _class_map(classes)
    runs, per_class = check_all(RUNS, runs=runs, per_class=per_class).values()
    if per_class > runs:
        raise InvalidInputError(f"per_class ({per_class}) cannot exceed runs ({runs})")
    latent_dim = latent_dim if latent_dim is not None else getattr(generator, "latent_dim", None)
    if latent_dim is None:
        raise InvalidInputError("give latent_dim: the generator has no .latent_dim")
    if isinstance(classifier, torch.nn.Module):
        classifier = BlackBox(classifier.eval(), output="logits")
    settings = {"max_queries": max_queries, "seed": seed, "confidence": confidence, **options}
    if method == "es":
        search = ExemplarSearch(classifier, generator, latent_dim, momentum=momentum, **settings)
    else:
        search = GradientSearch(classifier, generator, latent_dim, method="momentum", **settings)
    targets = [index for index in named for _ in range(runs)]
    results = search.run_many(targets)
    by_class = {name: results[k * runs : (k + 1) * runs] for k, name in enumerate(named.values())}
    shown = {name: [run for run, _ in best_runs(group, per_class, unique=False)] for name, group in by_class.items()}
    return ImageExemplars(results=by_class, shown=shown, method=search.method, title=title)
