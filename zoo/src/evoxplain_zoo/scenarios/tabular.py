"""The tabular exemplar scenario of the exemplar paper (§4.2–4.3, Table 1): UCI Adult.

* :func:`split_halves` — the training split in two disjoint halves: one for the generator, one
  for the black box (neither sees the other's rows);
* :func:`fit_forest` — a scikit-learn random forest on the *model input* of a
  :class:`~evoxplain_zoo.models.tabular_vae.TabularEncoding`: one float per column in table order,
  numeric columns in original units, categorical columns as integer codes (ordinal);
* :class:`TabularGenerator` — latents ``(B, l)`` → that same model input, through the VAE's
  decoder (numeric head back to units, rounded and clipped; argmax of each softmax head);
* :func:`run_tabular_exemplars` — what ``evoxplain exemplars adult`` does: the searches of
  :func:`evoxplain.exemplars.tabular_exemplars`, decoded to the original columns.

Example:
    >>> from evoxplain.exemplars import tabular_exemplars
    >>> from evoxplain_zoo.data import load_adult
    >>> from evoxplain_zoo.models.tabular_vae import TabularEncoding, train_tabular_vae
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

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from evoxplain.errors import InvalidInputError
from evoxplain.exemplars.tabular import tabular_exemplars

from ..models.tabular_vae import TabularEncoding, TabularVAE


class TabularGenerator(nn.Module):
    """The generator of a :class:`~evoxplain_zoo.models.tabular_vae.TabularVAE` for exemplar search.

    Maps latents ``(B, latent_dim)`` to the black box's input ``(B, len(columns))`` float32: the
    numeric head back in original units (rounded for integer columns, clipped to the range seen
    in training) and the argmax of each categorical head as the category's code. The argmax is
    not differentiable, which a black-box search does not need.

    Example:
        >>> from evoxplain_zoo.data import load_adult
        >>> from evoxplain_zoo.models.tabular_vae import TabularEncoding, TabularVAE
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

    @property
    def columns(self) -> list[str]:
        """The feature columns of the rows it makes, in table order."""
        return list(self.encoding.columns)

    def frame(self, z: torch.Tensor):
        """The rows generated from ``z`` as a DataFrame (original columns and category names)."""
        with torch.no_grad():
            return self.to_frame(self(z))

    def to_frame(self, rows: torch.Tensor):
        """Model-input rows as a DataFrame (original columns and category names)."""
        return self.encoding.from_model_input(rows)


def split_halves(df: Any, seed: int = 0) -> tuple[Any, Any]:
    """Two disjoint random halves of ``df`` (the generator's and the black box's), reindexed.

    Example:
        >>> from evoxplain_zoo.data import load_adult
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
        >>> from evoxplain_zoo.data import load_adult
        >>> from evoxplain_zoo.models.tabular_vae import TabularEncoding
        >>> train, test = load_adult("train"), load_adult("test")
        >>> enc = TabularEncoding.fit(train, target="income")
        >>> forest = fit_forest(train.head(5000), enc, target="income", seed=0, n_estimators=20)
        >>> round(forest.score(enc.to_model_input(test), test["income"]), 2)    # all rows, 100 trees: 0.85
        0.85
    """
    import sklearn.ensemble as ensemble

    if target not in df.columns:
        raise InvalidInputError(f"target column {target!r} is not in the table")
    settings = {"n_estimators": 100, "random_state": seed, "n_jobs": 1, **options}
    return ensemble.RandomForestClassifier(**settings).fit(encoding.to_model_input(df), df[target].to_numpy())


def run_tabular_exemplars(
    *,
    target: str | None = None,
    runs: int = 10,
    per_class: int = 5,
    max_queries: int = 5000,
    momentum: float = 0.3,
    epochs: int = 30,
    seed: int = 0,
    data: str | Path | None = None,
    out: str | Path = "evoxplain-out",
) -> str:
    """What ``evoxplain exemplars adult`` does; returns the Markdown table it wrote.

    The Adult experiment of the exemplar paper: a mixed-type VAE trained on one half of the
    training split, a random forest (the black box) on the other, ES with momentum in the VAE's
    4-d latent space for each class, exemplars decoded to the original columns.

    Example:
        >>> print(run_tabular_exemplars(target=">50K", runs=2, per_class=1, epochs=2))
        | feature | >50K #1 |
        |---|---|
        | age | ...
    """
    from ..data import ADULT_CLASSES, load_adult
    from ..models.tabular_vae import train_tabular_vae

    classes = dict(enumerate(ADULT_CLASSES))
    if target is not None:
        chosen = [i for i, name in classes.items() if target in (name, str(i))]
        if not chosen:
            raise InvalidInputError(f"--target {target!r} is not a class: choose one of {ADULT_CLASSES} or its index")
        classes = {chosen[0]: classes[chosen[0]]}
    train = load_adult("train", root=data)
    encoding = TabularEncoding.fit(train, target="income", log=["capital-gain", "capital-loss"])
    vae_half, forest_half = split_halves(train, seed=seed)
    print(f"training the generator ({epochs} epochs) and the random forest ...", file=sys.stderr)
    vae = train_tabular_vae(vae_half, encoding, epochs=epochs, seed=seed)
    forest = fit_forest(forest_half, encoding, "income", seed=seed)
    found = tabular_exemplars(
        forest, TabularGenerator(vae), classes, runs=runs, per_class=per_class, seed=seed,
        momentum=momentum, max_queries=max_queries,
    )  # fmt: skip
    settings = {"runs": runs, "per_class": per_class, "max_queries": max_queries, "momentum": momentum,
                "seed": seed, "epochs": epochs, "target": target}  # fmt: skip
    found.save_run(
        out, stem="adult_exemplars", model="adult random forest", settings=settings, class_names=ADULT_CLASSES
    )
    return found.markdown()
