"""Tabular global exemplars: a table VAE's generator, a forest black box, Table-1-style results.

The pieces of the exemplar paper's Adult experiment (§4.2–4.3, Table 1):

* :func:`split_halves` — the training split in two disjoint halves: one for the generator, one
  for the black box (neither sees the other's rows);
* :func:`fit_forest` — a scikit-learn random forest on the *model input* of a
  :class:`~evoxplain.zoo.tabular_vae.TabularEncoding`: one float per column in table order,
  numeric columns in original units, categorical columns as integer codes (ordinal);
* :class:`TabularGenerator` — latents ``(B, l)`` → that same model input, through the VAE's
  decoder (numeric head back to units, rounded and clipped; argmax of each softmax head);
* :func:`tabular_exemplars` — exemplar searches for each class, the exemplars decoded to the
  original columns and category names, as a DataFrame, a CSV and a Markdown table.

Example:
    >>> from evoxplain.data import load_adult
    >>> from evoxplain.zoo.tabular_vae import TabularEncoding, train_tabular_vae
    >>> train = load_adult("train")
    >>> enc = TabularEncoding.fit(train, target="income")      # every category of the split
    >>> vae_half, forest_half = split_halves(train.head(8000), seed=0)    # the paper: all rows
    >>> vae = train_tabular_vae(vae_half, enc, epochs=5, seed=0)          # and 30 epochs
    >>> forest = fit_forest(forest_half, enc, target="income", seed=0)
    >>> ex = tabular_exemplars(forest, TabularGenerator(vae), ["<=50K", ">50K"], runs=4, per_class=2, seed=0)
    >>> list(ex.summary()["converged"])                      # converged runs per class
    [4, 4]
    >>> ex.save("out/adult_exemplars.csv", "out/adult_exemplars.md")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InvalidInputError, require
from ..zoo.tabular_vae import TabularEncoding, TabularVAE
from .result import ExemplarResult, best_runs, summarise_by_class
from .search import ExemplarSearch


class TabularGenerator(nn.Module):
    """The generator of a :class:`~evoxplain.zoo.tabular_vae.TabularVAE` for exemplar search.

    Maps latents ``(B, latent_dim)`` to the black box's input ``(B, len(columns))`` float32: the
    numeric head back in original units (rounded for integer columns, clipped to the range seen
    in training) and the argmax of each categorical head as the category's code. The argmax is
    not differentiable, which a black-box search does not need.

    Example:
        >>> from evoxplain.data import load_adult
        >>> from evoxplain.zoo.tabular_vae import TabularEncoding, TabularVAE
        >>> vae = TabularVAE(TabularEncoding.fit(load_adult("train"), target="income"), seed=0).eval()
        >>> gen = TabularGenerator(vae)           # an untrained VAE here: the shapes only
        >>> gen(torch.zeros(3, 4)).shape          # what the forest takes
        torch.Size([3, 14])
        >>> list(gen.frame(torch.zeros(3, 4)).columns[:3])   # the same rows with names
        ['age', 'workclass', 'fnlwgt']
    """

    def __init__(self, vae: TabularVAE):
        super().__init__()
        if not isinstance(vae, TabularVAE):
            raise InvalidInputError(f"TabularGenerator needs a TabularVAE, not {type(vae).__name__}")
        self.vae = vae.eval()
        self.encoding: TabularEncoding = vae.encoding
        self.latent_dim = vae.latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"latents must be (B, {self.latent_dim}), not {tuple(z.shape)}")
        if self.vae.training:  # batch norm must use its running statistics
            self.vae.eval()
        numeric, logits = self.vae.decode(z.float())
        codes = torch.stack([lg.argmax(dim=1) for lg in logits], dim=1)
        return self.encoding.model_input(numeric, codes)

    def frame(self, z: torch.Tensor):
        """The rows generated from ``z`` as a DataFrame (original columns and category names)."""
        with torch.no_grad():
            return self.encoding.from_model_input(self(z))


def split_halves(df: Any, seed: int = 0) -> tuple[Any, Any]:
    """Two disjoint random halves of ``df`` (the generator's and the black box's), reindexed.

    Example:
        >>> from evoxplain.data import load_adult
        >>> vae_half, forest_half = split_halves(load_adult("train"), seed=0)
        >>> len(vae_half), len(forest_half)
        (16280, 16281)
    """
    if len(df) < 2:
        raise InvalidInputError("split_halves needs a table of at least 2 rows")
    order = np.random.default_rng(seed).permutation(len(df))
    half = len(df) // 2
    return df.iloc[np.sort(order[:half])].reset_index(drop=True), df.iloc[np.sort(order[half:])].reset_index(drop=True)


def fit_forest(df: Any, encoding: TabularEncoding, target: str, *, seed: int = 0, **options: Any):
    """A ``RandomForestClassifier`` on ``encoding.to_model_input(df)`` and ``df[target]``.

    Defaults: 100 trees, fully grown, ``random_state=seed``, one job; ``options`` override them.

    Example:
        >>> from evoxplain.data import load_adult
        >>> from evoxplain.zoo.tabular_vae import TabularEncoding
        >>> train, test = load_adult("train"), load_adult("test")
        >>> enc = TabularEncoding.fit(train, target="income")
        >>> forest = fit_forest(train.head(5000), enc, target="income", seed=0, n_estimators=20)
        >>> round(forest.score(enc.to_model_input(test), test["income"]), 2)    # all rows, 100 trees: 0.85
        0.85
    """
    ensemble = require("sklearn.ensemble", "sklearn", "the random-forest black box")
    if target not in df.columns:
        raise InvalidInputError(f"target column {target!r} is not in the table")
    settings = {"n_estimators": 100, "random_state": seed, "n_jobs": 1, **options}
    return ensemble.RandomForestClassifier(**settings).fit(encoding.to_model_input(df), df[target].to_numpy())


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


def tabular_exemplars(
    model: Any,
    generator: TabularGenerator,
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
        generator: the :class:`TabularGenerator` whose output the model takes.
        classes: class names by index (a list: index = position), or ``{index: name}``.
        runs: independent searches per class (streams of ``seed``).
        per_class: exemplars shown per class.
        seed, momentum, max_queries, options: :class:`ExemplarSearch` settings (paper defaults
            otherwise: population 50, elite 10, children 2, step 0.5, range 5, confidence 0.95).

    Example: see the module's docstring.
    """
    pd = require("pandas", "exemplars", "exemplar tables")
    if not isinstance(generator, TabularGenerator):
        raise InvalidInputError("generator must be a TabularGenerator (its outputs are decoded to a table)")
    named = dict(enumerate(classes)) if not isinstance(classes, Mapping) else dict(classes)
    if not named:
        raise InvalidInputError("classes must name at least one class")
    for number, limit in (("runs", runs), ("per_class", per_class)):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"{number} must be a positive integer, not {limit!r}")
    search = ExemplarSearch(
        model,
        generator,
        generator.latent_dim,
        momentum=momentum,
        max_queries=max_queries,
        seed=seed,
        **options,
    )
    targets = [index for index in named for _ in range(runs)]
    results = search.run_many(targets)
    by_class = {name: results[k * runs : (k + 1) * runs] for k, name in enumerate(named.values())}
    chosen = [(name, i, r) for name, group in by_class.items() for i, r in best_runs(group, per_class, unique)]
    rows = generator.encoding.from_model_input(torch.stack([torch.as_tensor(r.exemplar) for _, _, r in chosen]))
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
    return TabularExemplars(frame, by_class, list(generator.encoding.columns), search.method)


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
