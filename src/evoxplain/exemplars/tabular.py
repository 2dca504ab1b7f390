"""Tabular global exemplars: searches for each class, the exemplars as table rows (Table-1 style).

The generator maps latents ``(B, l)`` to the black box's input rows ``(B, D)`` (a table VAE's
decoder, for example). :func:`tabular_exemplars` runs :class:`ExemplarSearch` for each class (all
searches in lockstep) and returns a :class:`TabularExemplars`: the exemplars as a DataFrame, a CSV
and a Markdown table. A generator with ``to_frame(rows)`` (rows → DataFrame with the original
columns and category names) has its exemplars decoded with it; otherwise the columns are named by
its ``columns`` attribute, or ``x0``, ``x1``, ...

Example:
    >>> import torch
    >>> class Rows(torch.nn.Module):                # a toy generator: 2 latents -> 3 features
    ...     latent_dim, columns = 2, ["age", "hours", "score"]
    ...     def forward(self, z): return torch.cat([z, z.sum(1, keepdim=True)], 1)
    >>> def rule(x): return torch.stack([-x[:, 2], x[:, 2]], 1) * 5     # class 1 when score > 0
    >>> ex = tabular_exemplars(rule, Rows(), ["low", "high"], runs=4, per_class=2, seed=0)
    >>> list(ex.summary()["converged"])                      # converged runs per class
    [4, 4]
    >>> ex.save("out/exemplars.csv", "out/exemplars.md")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..constraints import check_all
from ..errors import InvalidInputError, require
from .result import ExemplarResult, best_runs, summarise_by_class
from .run_folder import prepare, search_records, write_exemplar_run
from .search import ExemplarSearch
from .settings import RUNS


@dataclass
class TabularExemplars:
    """Exemplar searches of several classes and their exemplars, decoded.

    Attributes:
        frame: one row per exemplar: ``class``, ``run`` (the search's stream), ``probability``
            (of its class), ``queries``, ``converged``, then the original feature columns.
        results: every search's :class:`ExemplarResult`, by class name.
        columns: the feature columns, in table order.
        method: the search's name (``"ES-momentum"`` or ``"ES"``).
    """

    frame: Any
    results: dict[str, list[ExemplarResult]]
    columns: list[str]
    method: str

    def summary(self):
        """Per class (a DataFrame): runs, converged runs, queries (mean and median over converged
        runs, mean over all runs), the mean target probability and seconds."""
        pd = require("pandas", "exemplars", "exemplar tables")
        return pd.DataFrame([{"method": self.method, **row} for row in summarise_by_class(self.results)])

    def markdown(self, digits: int = 3) -> str:
        """A Table-1-style Markdown table: one row per feature, one column per exemplar."""
        heads = [f"{c} #{i + 1}" for c, i in zip(self.frame["class"], self.frame.groupby("class").cumcount())]
        body = [[col, *(str(v) for v in self.frame[col])] for col in self.columns]
        body.append(["p(class)", *(f"{p:.{digits}f}" for p in self.frame["probability"])])
        body.append(["queries", *(str(q) for q in self.frame["queries"])])
        body.append(["converged", *("yes" if c else "no" for c in self.frame["converged"])])
        return markdown_table(["feature", *heads], body)

    def save(self, csv: str | Path | None = None, markdown: str | Path | None = None) -> None:
        """Write the exemplars as CSV (one row per exemplar) and/or as the Markdown table; missing
        folders are made."""
        if csv is not None:
            Path(csv).parent.mkdir(parents=True, exist_ok=True)
            self.frame.to_csv(csv, index=False)
        if markdown is not None:
            Path(markdown).parent.mkdir(parents=True, exist_ok=True)
            Path(markdown).write_text(self.markdown() + "\n")

    def records(self, class_names: Any = None) -> list[dict[str, Any]]:
        """One record per search (:func:`~evoxplain.exemplars.run_folder.search_records`)."""
        return search_records(self.results, shown_runs(self.frame), class_names)

    def save_run(
        self, folder: str | Path, *, stem: str = "exemplars", model: str = "", settings: dict[str, Any] | None = None,
        class_names: Any = None,
    ) -> Path:  # fmt: skip
        """Write ``<stem>.csv``, ``<stem>.md``, ``exemplar_runs.json`` and ``manifest.json`` into
        ``folder`` (made if missing), for ``evoxplain report``; returns the manifest's path."""
        folder = prepare(folder)
        self.save(folder / f"{stem}.csv", folder / f"{stem}.md")
        return write_exemplar_run(
            folder, modality="table", method=self.method, title="", records=self.records(class_names),
            files={"table": f"{stem}.csv", "summary": f"{stem}.md"}, model=model, settings=settings,
        )  # fmt: skip

    def _repr_html_(self) -> str:
        from ..report.exemplar_fragments import exemplars_html

        header, rows = exemplar_table(self.frame)
        return exemplars_html(self.records(), modality="table", method=self.method, table=(header, rows))


def shown_runs(frame: Any) -> dict[str, list[int]]:
    """The runs a frame of exemplars shows, by class."""
    shown: dict[str, list[int]] = {}
    for name, run in zip(frame["class"], frame["run"]):
        shown.setdefault(str(name), []).append(int(run))
    return shown


def exemplar_table(frame: Any) -> tuple[list[str], list[list[str]]]:
    """The exemplars as a table with one row per feature and one column per exemplar (as text)."""
    counts: dict[str, int] = {}
    heads = []
    for name in frame["class"]:
        counts[name] = counts.get(name, 0) + 1
        heads.append(f"{name} #{counts[name]}")
    features = [c for c in frame.columns if c not in ("class", "run")]
    return ["", *heads], [[column, *(_cell(v) for v in frame[column])] for column in features]


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tabular_exemplars(
    model: Any,
    generator: Any,
    classes: Sequence[str] | Mapping[int, str],
    *,
    runs: int = 5,
    per_class: int = 5,
    unique: bool = True,
    seed: int | None = 0,
    momentum: float = 0.3,
    max_queries: int | None = 5000,
    **options: Any,
) -> TabularExemplars:
    """Search exemplars of each class with :class:`ExemplarSearch` and decode them to a table.

    All ``runs × classes`` searches run in lockstep (one model call per generation). Each class
    shows the best exemplar of up to ``per_class`` runs: converged runs first (in run order),
    then the others by fitness; with ``unique`` a row equal to one already shown is skipped.

    Args:
        model: the black box (a fitted forest, a :class:`~evoxplain.BlackBox`, ...).
        generator: latents ``(B, l)`` → the rows the model takes ``(B, D)``, with ``latent_dim``;
            ``to_frame(rows)`` or ``columns`` (optional) name the exemplars' columns.
        classes: class names by index (a list: index = position), or ``{index: name}``.
        runs: independent searches per class (streams of ``seed``).
        per_class: exemplars shown per class.
        seed, momentum, max_queries, options: :class:`ExemplarSearch` settings (paper defaults
            otherwise: population 50, elite 10, children 2, step 0.5, range 5, confidence 0.95).

    Example: see the module's docstring.
    """
    pd = require("pandas", "exemplars", "exemplar tables")
    latent_dim = getattr(generator, "latent_dim", None)
    if not callable(generator) or not isinstance(latent_dim, int):
        raise InvalidInputError(
            f"generator must be a callable from latents to rows with an int latent_dim, not {type(generator).__name__}"
        )
    named = dict(enumerate(classes)) if not isinstance(classes, Mapping) else dict(classes)
    if not named:
        raise InvalidInputError("classes must name at least one class")
    runs, per_class = check_all(RUNS, runs=runs, per_class=per_class).values()
    search = ExemplarSearch(
        model,
        generator,
        latent_dim,
        momentum=momentum,
        max_queries=max_queries,
        seed=seed,
        **options,
    )
    targets = [index for index in named for _ in range(runs)]
    results = search.run_many(targets)
    by_class = {name: results[k * runs : (k + 1) * runs] for k, name in enumerate(named.values())}
    chosen = [(name, i, r) for name, group in by_class.items() for i, r in best_runs(group, per_class, unique)]
    rows = _as_frame(generator, torch.stack([torch.as_tensor(r.exemplar) for _, _, r in chosen]))
    meta = pd.DataFrame(
        {
            "class": [name for name, _, _ in chosen],
            "run": [i for _, i, _ in chosen],
            "probability": [r.target_probability for _, _, r in chosen],
            "queries": [r.queries for _, _, r in chosen],
            "converged": [r.converged for _, _, r in chosen],
        }
    )
    frame = pd.concat([meta, rows], axis=1)
    return TabularExemplars(frame=frame, results=by_class, columns=[str(c) for c in rows.columns], method=search.method)


def _as_frame(generator: Any, rows: torch.Tensor):
    """The exemplar rows as a DataFrame: the generator's ``to_frame``, else named columns."""
    pd = require("pandas", "exemplars", "exemplar tables")
    if callable(getattr(generator, "to_frame", None)):
        return generator.to_frame(rows).reset_index(drop=True)
    values = rows.detach().cpu().numpy().reshape(len(rows), -1)
    columns = list(getattr(generator, "columns", None) or [f"x{i}" for i in range(values.shape[1])])
    if len(columns) != values.shape[1]:
        raise InvalidInputError(f"the generator names {len(columns)} columns but makes rows of {values.shape[1]}")
    return pd.DataFrame(values, columns=columns)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table (``|`` in cells escaped).

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 2]]))
        | a | b |
        |---|---|
        | 1 | 2 |
    """

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])
