"""A VAE for mixed-type tables (the exemplar paper's Adult generator) and the table encoding.

:class:`TabularEncoding` turns a DataFrame into tensors and back: numeric columns standardised
(optionally after ``log1p``), categorical columns as integer codes with their category names. It
also defines the *model input* of a tabular black box: one float per column in table order,
numeric columns in their original units and categorical columns as their integer codes.

:class:`TabularVAE` embeds each categorical column (2 numbers each), encodes through
input→64→128 (batch norm, ReLU) to a 4-d latent (mean and log-variance from one dense layer),
and decodes through 4→128→64 (ReLU) to a numeric head (L2 loss) and one softmax head per
categorical column (cross-entropy). :func:`train_tabular_vae` trains it reproducibly on CPU from
its own ``torch.Generator``: no global random state is read or written.

Example:
    >>> from evoxplain_zoo.data.adult import load_adult
    >>> df = load_adult("train")
    >>> enc = TabularEncoding.fit(df, target="income", log=["capital-gain", "capital-loss"])
    >>> vae = train_tabular_vae(df.head(4000), enc, epochs=5, seed=0)     # the paper's: all, 30
    >>> numeric, codes = vae.decode(torch.zeros(1, 4))     # the "average" row's heads
    >>> row = enc.decode(numeric, [c.argmax(1) for c in codes])   # a DataFrame with the original columns
    >>> list(row.columns) == list(df.columns.drop("income"))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from evoxplain.constraints import COUNT, Integer
from evoxplain.errors import InvalidInputError
from evoxplain.progress import shown

from .weights import load_weights, save_weights

FORMAT = "evoxplain-tabular-vae-1"


class EncodedTable(NamedTuple):
    """A table as tensors: ``numeric`` float32 ``(N, n_numeric)`` standardised, ``codes`` int64
    ``(N, n_categorical)`` category indices."""

    numeric: torch.Tensor
    codes: torch.Tensor


@dataclass
class TabularEncoding:
    """How a table's columns become tensors (fit on data) and how tensors become a table again.

    Attributes:
        columns: the feature columns, in table order (the order of the model input).
        numeric: the numeric columns; ``categorical``: the categorical ones.
        categories: the category names of each categorical column (code ``i`` is name ``i``).
        mean, std: per numeric column, of the (log-transformed) values in the fitted data.
        log: numeric columns transformed by ``log1p`` before standardising (skewed counts).
        integer: numeric columns of integer dtype: decoded values are rounded.
        low, high: per numeric column, the range seen when fitting: decoded values are clipped to it.

    Example:
        >>> from evoxplain_zoo.data.adult import load_adult
        >>> df = load_adult("test")
        >>> enc = TabularEncoding.fit(df, target="income")
        >>> t = enc.encode(df)                     # EncodedTable(numeric, codes)
        >>> enc.decode(t.numeric, t.codes).equals(df.drop(columns="income"))   # the features again
        True
        >>> enc.to_model_input(df).shape           # float32: units and codes
        (16281, 14)
    """

    columns: list[str]
    numeric: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]
    mean: list[float]
    std: list[float]
    low: list[float]
    high: list[float]
    log: list[str] = field(default_factory=list)
    integer: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        df: Any,
        *,
        target: str | None = None,
        numeric: Sequence[str] | None = None,
        log: Sequence[str] = (),
    ) -> TabularEncoding:
        """Learn the columns, categories and statistics of ``df``.

        Args:
            df: a pandas DataFrame without missing values.
            target: a column to leave out (the label).
            numeric: the numeric columns (default: those of numeric dtype); the rest are
                categorical, their categories sorted.
            log: numeric columns to ``log1p`` before standardising (non-negative, skewed).

        Example:
            >>> from evoxplain_zoo.data.adult import load_adult
            >>> enc = TabularEncoding.fit(load_adult("test"), target="income", log=["capital-gain"])
            >>> len(enc.numeric), len(enc.categorical)
            (6, 8)
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame) or len(df) < 2:
            raise InvalidInputError("TabularEncoding.fit needs a pandas DataFrame with at least 2 rows")
        columns = [str(c) for c in df.columns if c != target]
        if target is not None and target not in df.columns:
            raise InvalidInputError(f"target column {target!r} is not in the table ({columns[:5]}...)")
        if numeric is None:
            numeric = [c for c in columns if pd.api.types.is_numeric_dtype(df[c])]
        numeric = list(numeric)
        unknown = [c for c in [*numeric, *log] if c not in columns]
        if unknown:
            raise InvalidInputError(f"columns {unknown} are not features of the table: {columns}")
        if not set(log) <= set(numeric):
            raise InvalidInputError(f"log columns {sorted(set(log) - set(numeric))} must be numeric")
        categorical = [c for c in columns if c not in numeric]
        if df[columns].isna().any().any():
            bad = [c for c in columns if df[c].isna().any()]
            raise InvalidInputError(f"columns {bad} have missing values; fill or drop them before fitting")
        values = df[numeric].to_numpy(np.float64)
        if log and (df[list(log)] < 0).any().any():
            raise InvalidInputError(f"log columns {list(log)} must be non-negative")
        transformed = _forward_log(values, [c in log for c in numeric])
        std = transformed.std(axis=0)
        return cls(
            columns=columns,
            numeric=numeric,
            categorical=categorical,
            categories={c: sorted(str(v) for v in df[c].unique()) for c in categorical},
            mean=transformed.mean(axis=0).tolist(),
            std=np.where(std > 0, std, 1.0).tolist(),
            low=values.min(axis=0).tolist(),
            high=values.max(axis=0).tolist(),
            log=[c for c in numeric if c in log],
            integer=[c for c in numeric if pd.api.types.is_integer_dtype(df[c])],
        )

    # -- sizes --

    @property
    def cardinalities(self) -> list[int]:
        """The number of categories of each categorical column."""
        return [len(self.categories[c]) for c in self.categorical]

    # -- table -> tensors --

    def encode(self, df: Any) -> EncodedTable:
        """Standardised numeric columns and category codes of ``df`` (a DataFrame)."""
        values = self._numeric_values(df)
        z = (_forward_log(values, self._log_mask) - np.asarray(self.mean)) / np.asarray(self.std)
        return EncodedTable(torch.from_numpy(z.astype(np.float32)), torch.from_numpy(self._codes(df)))

    def to_model_input(self, df: Any) -> np.ndarray:
        """The black box's input for ``df``: float32 ``(N, len(columns))`` in column order,
        numeric columns in original units, categorical columns as their codes."""
        out = np.empty((len(df), len(self.columns)), dtype=np.float32)
        out[:, self._numeric_index] = self._numeric_values(df)
        out[:, self._categorical_index] = self._codes(df)
        return out

    # -- tensors -> table --

    def model_input(self, numeric: torch.Tensor, codes: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """The model input ``(N, len(columns))`` float32 from standardised values and codes
        (values back in units, rounded for integer columns, clipped to the fitted range)."""
        codes = _stack_codes(codes, len(self.categorical))
        numeric = torch.as_tensor(numeric)
        if numeric.ndim != 2 or numeric.shape[1] != len(self.numeric) or len(numeric) != len(codes):
            raise InvalidInputError(
                f"numeric must be (N, {len(self.numeric)}) and codes (N, {len(self.categorical)}); got "
                f"{tuple(numeric.shape)} and {tuple(codes.shape)}"
            )
        mean = torch.tensor(self.mean, dtype=torch.float64, device=numeric.device)
        std = torch.tensor(self.std, dtype=torch.float64, device=numeric.device)
        units = numeric.double() * std + mean
        mask = torch.tensor(self._log_mask, device=numeric.device)
        units = torch.where(mask, torch.expm1(units.clamp(max=50.0)), units)
        rounded = torch.tensor([c in self.integer for c in self.numeric], device=numeric.device)
        units = torch.where(rounded, units.round(), units)
        low = torch.tensor(self.low, dtype=torch.float64, device=numeric.device)
        high = torch.tensor(self.high, dtype=torch.float64, device=numeric.device)
        units = torch.minimum(torch.maximum(units, low), high)
        out = torch.empty(len(numeric), len(self.columns), dtype=torch.float32, device=numeric.device)
        out[:, self._numeric_index] = units.float()
        out[:, self._categorical_index] = codes.to(out.device).float()
        return out

    def decode(self, numeric: torch.Tensor, codes: torch.Tensor | Sequence[torch.Tensor]):
        """A DataFrame with the original columns, units and category names.

        ``codes`` is ``(N, n_categorical)`` indices, or one ``(N,)`` index tensor per column.
        """
        return self.from_model_input(self.model_input(numeric, codes))

    def from_model_input(self, x: torch.Tensor | np.ndarray):
        """The DataFrame of a batch of model inputs ``(N, len(columns))`` (or one row ``(D,)``)."""
        import pandas as pd

        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        x = x[None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise InvalidInputError(f"model inputs must be (N, {len(self.columns)}), not {x.shape}")
        data: dict[str, Any] = {}
        for j, col in enumerate(self.columns):
            if col in self.categories:
                names = np.asarray(self.categories[col], dtype=object)
                codes = x[:, j].astype(np.int64)
                if codes.min(initial=0) < 0 or codes.max(initial=0) >= len(names):
                    raise InvalidInputError(
                        f"column {col!r} has codes outside 0..{len(names) - 1}; not an input of this encoding"
                    )
                data[col] = pd.Series(names[codes], dtype=str)
            else:
                values = x[:, j].astype(np.float64)
                data[col] = np.rint(values).astype(np.int64) if col in self.integer else values
        return pd.DataFrame(data)

    # -- saving --

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, strings and floats (JSON safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularEncoding:
        return cls(**data)

    # -- internals --

    @property
    def _log_mask(self) -> list[bool]:
        return [c in self.log for c in self.numeric]

    @property
    def _numeric_index(self) -> list[int]:
        return [self.columns.index(c) for c in self.numeric]

    @property
    def _categorical_index(self) -> list[int]:
        return [self.columns.index(c) for c in self.categorical]

    def _check_columns(self, df: Any) -> None:
        missing = [c for c in self.columns if c not in getattr(df, "columns", ())]
        if missing:
            raise InvalidInputError(f"the table lacks the columns {missing} this encoding was fit on")

    def _numeric_values(self, df: Any) -> np.ndarray:
        self._check_columns(df)
        values = df[self.numeric].to_numpy(np.float64) if self.numeric else np.empty((len(df), 0))
        if not np.isfinite(values).all():
            raise InvalidInputError("numeric columns have missing or infinite values; fill or drop them first")
        return values

    def _codes(self, df: Any) -> np.ndarray:
        import pandas as pd

        self._check_columns(df)
        codes = np.empty((len(df), len(self.categorical)), dtype=np.int64)
        for j, col in enumerate(self.categorical):  # one vectorised lookup per column
            codes[:, j] = pd.Index(self.categories[col]).get_indexer(df[col].astype(str))
            if (codes[:, j] < 0).any():
                unseen = sorted(set(df[col][codes[:, j] < 0].astype(str)))[:5]
                raise InvalidInputError(
                    f"column {col!r} has values {unseen} that the encoding never saw; fit it on data "
                    "that has every category (e.g. the whole training split)"
                )
        return codes


class TabularVAE(nn.Module):
    """A VAE for a table of numeric and categorical columns (the exemplar paper's Adult VAE).

    Args:
        encoding: the table's :class:`TabularEncoding`.
        latent_dim: the latent size (paper: 4).
        embedding_dim: numbers per categorical embedding (paper: 2).
        encoder: hidden widths of the encoder, each Linear → BatchNorm → ReLU (paper: 64, 128).
        decoder: hidden widths of the decoder, each Linear → ReLU (paper: 128, 64).
        seed: initialises the weights from a local ``torch.Generator`` (global RNG untouched).

    Example:
        >>> from evoxplain_zoo.data.adult import load_adult
        >>> enc = TabularEncoding.fit(load_adult("test"), target="income")
        >>> vae = TabularVAE(enc, latent_dim=4, seed=0).eval()
        >>> numeric, logits = vae.decode(torch.randn(8, 4))   # (8, numeric columns), one (8, k_i) per categorical
        >>> numeric.shape, [part.shape[1] for part in logits][:3]
        (torch.Size([8, 6]), [9, 16, 7])
    """

    def __init__(
        self,
        encoding: TabularEncoding,
        latent_dim: int = 4,
        embedding_dim: int = 2,
        encoder: Sequence[int] = (64, 128),
        decoder: Sequence[int] = (128, 64),
        seed: int = 0,
    ):
        super().__init__()
        self.encoding = encoding
        self.config = {
            "latent_dim": int(latent_dim),
            "embedding_dim": int(embedding_dim),
            "encoder": [int(w) for w in encoder],
            "decoder": [int(w) for w in decoder],
        }
        self.latent_dim = int(latent_dim)
        cards = encoding.cardinalities
        n_num = len(encoding.numeric)
        with torch.device("meta"):  # built without initialising: no global RNG is drawn
            self.embeddings = nn.ModuleList(nn.Embedding(k, embedding_dim) for k in cards)
            layers: list[nn.Module] = []
            width = n_num + embedding_dim * len(cards)
            for w in encoder:
                layers += [nn.Linear(width, w), nn.BatchNorm1d(w), nn.ReLU()]
                width = w
            self.encoder = nn.Sequential(*layers, nn.Linear(width, 2 * latent_dim))
            layers, width = [], latent_dim
            for w in decoder:
                layers += [nn.Linear(width, w), nn.ReLU()]
                width = w
            self.decoder = nn.Sequential(*layers)
            self.numeric_head = nn.Linear(width, n_num)
            self.categorical_head = nn.Linear(width, sum(cards))  # one softmax block per column
        self.to_empty(device="cpu")
        _initialise(self, torch.Generator().manual_seed(int(seed)))
        self.history: list[dict[str, float]] = []

    def encode(self, numeric: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and log-variance ``(N, latent_dim)`` each."""
        embedded = [emb(codes[:, j]) for j, emb in enumerate(self.embeddings)]
        mu, logvar = self.encoder(torch.cat([numeric, *embedded], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Numeric head ``(N, n_numeric)`` (standardised) and each categorical head's logits."""
        h = self.decoder(z)
        logits = self.categorical_head(h).split(self.encoding.cardinalities, dim=1)
        return self.numeric_head(h), list(logits)

    def forward(
        self, numeric: torch.Tensor, codes: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Reconstruct a batch: ``(numeric_out, logits, mu, logvar)``; ``z`` is sampled with
        ``generator`` in training mode and is the mean otherwise."""
        mu, logvar = self.encode(numeric, codes)
        z = mu
        if self.training:
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + noise * (0.5 * logvar).exp()
        numeric_out, logits = self.decode(z)
        return numeric_out, logits, mu, logvar

    def losses(self, numeric: torch.Tensor, codes: torch.Tensor, generator: torch.Generator | None = None):
        """Per-row means of the L2, cross-entropy (summed over columns) and KL terms."""
        numeric_out, logits, mu, logvar = self(numeric, codes, generator)
        l2 = (numeric_out - numeric).pow(2).sum(dim=1).mean()
        ce = sum(nn.functional.cross_entropy(lg, codes[:, j]) for j, lg in enumerate(logits))
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        return l2, ce, kl

    @torch.no_grad()
    def reconstruct(self, numeric: torch.Tensor, codes: torch.Tensor) -> EncodedTable:
        """Decode each row's posterior mean: standardised values and the argmax codes."""
        mu, _ = self.encode(numeric, codes)
        out, logits = self.decode(mu)
        return EncodedTable(out, torch.stack([lg.argmax(dim=1) for lg in logits], dim=1))

    def save(self, path: str | Path) -> None:
        """Save weights, architecture and encoding (load with :meth:`load`)."""
        meta = {"format": FORMAT, "config": self.config, "encoding": self.encoding.to_dict(), "history": self.history}
        save_weights(path, self.state_dict(), **meta)

    @classmethod
    def load(cls, path: str | Path) -> TabularVAE:
        """A VAE saved by :meth:`save`, in eval mode."""
        state, blob = load_weights(path)
        if blob.get("format") != FORMAT:
            raise InvalidInputError(f"{path} is not a TabularVAE file saved by TabularVAE.save")
        vae = cls(TabularEncoding.from_dict(blob["encoding"]), **blob["config"])
        vae.load_state_dict(state)
        vae.history = list(blob.get("history", []))
        return vae.eval()


def train_tabular_vae(
    df: Any,
    encoding: TabularEncoding | None = None,
    *,
    epochs: int = 30,
    seed: int = 0,
    batch_size: int = 256,
    lr: float = 2e-3,
    kl_weight: float = 1.0,
    kl_warmup: float = 0.2,
    latent_dim: int = 4,
    embedding_dim: int = 2,
    target: str | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TabularVAE:
    """Train a :class:`TabularVAE` on ``df`` with Adam; returns it in eval mode.

    Reproducible: weights, shuffling and the reparameterisation noise come from one local
    ``torch.Generator`` seeded with ``seed``; no global random state is read or written.

    Args:
        df: the training table (a DataFrame with the encoding's columns).
        encoding: how to encode it (default: fit on ``df``, leaving out ``target``).
        epochs, batch_size, lr: the optimisation (the last incomplete batch is dropped).
        kl_weight: β, the weight of the KL term; ``kl_warmup``: the fraction of the steps over
            which β grows linearly from 0 (0: no annealing).
        callback: called after each epoch with ``(epoch, losses)``.

    Example:
        >>> from evoxplain_zoo.data.adult import load_adult
        >>> df = load_adult("train")
        >>> vae = train_tabular_vae(df.head(4000), TabularEncoding.fit(df, target="income"), epochs=3, seed=0)
        >>> vae.history[-1]     # the last epoch's mean losses
        {'epoch': 2, 'loss': ..., 'l2': ..., 'ce': ..., 'kl': ...}
    """
    COUNT.check("epochs", epochs)
    Integer(low=2, hint="batch norm").check("batch_size", batch_size)
    if not (0 <= kl_warmup <= 1) or kl_weight < 0 or not lr > 0:
        raise InvalidInputError("need kl_warmup in [0, 1], kl_weight >= 0 and lr > 0")
    if encoding is None:
        encoding = TabularEncoding.fit(df, target=target)
    numeric, codes = encoding.encode(df)
    n = len(numeric)
    if n < 2:
        raise InvalidInputError("train_tabular_vae needs at least 2 rows")
    batch_size = min(batch_size, n)
    gen = torch.Generator().manual_seed(int(seed))
    vae = TabularVAE(encoding, latent_dim=latent_dim, embedding_dim=embedding_dim, seed=seed)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    steps_per_epoch = n // batch_size
    warm = max(1, round(kl_warmup * epochs * steps_per_epoch)) if kl_warmup > 0 else 0
    step = 0
    vae.train()
    for epoch in tqdm(range(epochs), desc="training the table VAE", unit="epoch", disable=not shown()):
        order = torch.randperm(n, generator=gen)
        totals = torch.zeros(3)
        for b in range(steps_per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size]
            l2, ce, kl = vae.losses(numeric[idx], codes[idx], gen)
            beta = kl_weight * (min(1.0, step / warm) if warm else 1.0)
            opt.zero_grad(set_to_none=True)
            (l2 + ce + beta * kl).backward()
            opt.step()
            totals += torch.stack([l2.detach(), ce.detach(), kl.detach()])
            step += 1
        l2m, cem, klm = (totals / steps_per_epoch).tolist()
        record = {"epoch": epoch, "loss": l2m + cem + klm, "l2": l2m, "ce": cem, "kl": klm, "beta": beta}
        vae.history.append(record)
        if callback is not None:
            callback(epoch, record)
    return vae.eval()


# -- internals --------------------------------------------------------------------------------


def _forward_log(values: np.ndarray, mask: Sequence[bool]) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    return np.where(mask, np.log1p(np.where(mask, values, 0.0)), values) if mask.any() else values


def _stack_codes(codes: torch.Tensor | Sequence[torch.Tensor], n: int) -> torch.Tensor:
    if not isinstance(codes, torch.Tensor):
        codes = torch.stack([torch.as_tensor(c) for c in codes], dim=1) if len(codes) else torch.empty(0, 0)
    if codes.ndim != 2 or codes.shape[1] != n:
        raise InvalidInputError(f"codes must be (N, {n}) category indices, not shape {tuple(codes.shape)}")
    return codes.long()


def _initialise(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initialisation, drawn from ``gen``."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                bound = 1 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound, generator=gen)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, generator=gen)
            elif isinstance(m, nn.BatchNorm1d):
                m.reset_parameters()
