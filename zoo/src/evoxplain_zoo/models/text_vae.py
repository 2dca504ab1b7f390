"""An LSTM sentence VAE (Bowman et al. 2016) on IMDB review sentences: the text generator.

:class:`SentenceVAE` encodes a sentence with an LSTM into a Gaussian posterior over a
``latent_dim`` space; its decoder LSTM starts from a state computed from ``z`` and reads ``z``
again at every step beside the previous word; output weights are tied to the word embeddings.
Training uses the two remedies of Bowman et al. against an unused latent: KL annealing (the
cyclical schedule :func:`~evoxplain_zoo.models.training.cyclical_beta` of Fu et al. 2019, 4 cycles, ramp 0.5)
and *word dropout* (each decoder input word replaced by ``<unk>`` with probability
``word_dropout``). :meth:`SentenceVAE.decode` is the exemplar generator: latents ``(B, l)`` →
``B`` sentences by greedy decoding, one LSTM step per token for the whole batch.

Data: sentences of 5-20 tokens from test reviews 2500-4999 (:data:`~evoxplain_zoo.models.text.VAE_REVIEWS`;
the classifier never sees them); every 20th sentence is kept aside for validation.

Example:
    >>> vae, nll, kl = train_sentence_vae(epochs=1, train_subset=500, seed=0)   # the shipped: 10 epochs, all
    >>> len(vae.decode(torch.randn(3, vae.latent_dim, generator=torch.Generator().manual_seed(0))))
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from evoxplain.constraints import COUNT
from evoxplain.errors import InvalidInputError

from ..data.imdb import detokenize, load_imdb, split_sentences, tokenize
from .fer import init_module
from .text import (
    BOS,
    EOS,
    PAD,
    UNK,
    VAE_REVIEWS,
    Vocabulary,
    _save,
    init_recurrent,
    pad_batch,
)
from .training import fit_vae


class SentenceVAE(nn.Module):
    """LSTM VAE over sentences; :meth:`decode` maps latents ``(B, l)`` to ``B`` strings.

    Args:
        vocabulary: the :class:`~evoxplain_zoo.models.text.Vocabulary` (kept with the weights).
        embed_dim: the word-embedding size (shared by encoder, decoder and the output layer).
        hidden: the width of the encoder and decoder LSTMs.
        latent_dim: ``l``, the size of the latent space.
        word_dropout: the probability of replacing a decoder input word by ``<unk>`` in training.
        max_len: the most words :meth:`decode` writes before it stops a sentence.
        seed: seeds the weight initialisation (never the global random state).

    Example:
        >>> vae = SentenceVAE(Vocabulary.build([["a", "fine", "film"]], min_count=1), seed=0).eval()
        >>> len(vae.decode(torch.zeros(4, 32)))
        4
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        embed_dim: int = 128,
        hidden: int = 192,
        latent_dim: int = 32,
        word_dropout: float = 0.3,
        max_len: int = 20,
        seed: int = 0,
    ):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("hidden", hidden), ("latent_dim", latent_dim),
                            ("max_len", max_len)):  # fmt: skip
            COUNT.check(name, value)
        if not 0 <= word_dropout < 1:
            raise InvalidInputError(f"word_dropout must be in [0, 1), not {word_dropout!r}")
        self.vocabulary = vocabulary
        self.config = {
            "embed_dim": embed_dim, "hidden": hidden, "latent_dim": latent_dim,
            "word_dropout": word_dropout, "max_len": max_len,
        }  # fmt: skip
        self.latent_dim, self.word_dropout, self.max_len = latent_dim, word_dropout, max_len
        with torch.device("meta"):  # built without drawing from the global generator
            self.embedding = nn.Embedding(len(vocabulary), embed_dim)
            self.encoder = nn.LSTM(embed_dim, hidden, batch_first=True)
            self.to_stats = nn.Linear(hidden, 2 * latent_dim)
            self.to_state = nn.Linear(latent_dim, 2 * hidden)
            self.decoder = nn.LSTM(embed_dim + latent_dim, hidden, batch_first=True)
            self.to_embedding = nn.Linear(hidden, embed_dim)
        self.to_empty(device="cpu")
        self.output_bias = nn.Parameter(torch.zeros(len(vocabulary)))
        init_module(self, seed)
        init_recurrent(self, torch.Generator().manual_seed(seed + 1))

    # -- the parts --

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance ``(B, l)`` of 0-padded word ids ``(B, T)``."""
        lengths = ids.ne(PAD).sum(1).clamp_min(1)
        states, _ = self.encoder(self.embedding(ids))
        last = states[torch.arange(len(ids)), lengths - 1]
        mu, logvar = self.to_stats(last).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def _initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = self.to_state(z).chunk(2, dim=1)
        return torch.tanh(h).unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()

    def _logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.to_embedding(states) @ self.embedding.weight.T + self.output_bias

    def decode_logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Next-word logits ``(B, T, V)`` for decoder input ids ``(B, T)`` (``<bos>`` first)."""
        x = self.embedding(inputs)
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=2)
        states, _ = self.decoder(x, self._initial_state(z))
        return self._logits(states)

    @torch.no_grad()
    def decode_ids(self, z: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
        """Greedy word ids ``(B, ≤ max_len + 1)`` for latents ``(B, l)``, each row ending in
        ``<eos>`` then ``<pad>``. Never ``<pad>``/``<bos>``/``<unk>``, never an empty sentence.
        One decoder step per position for the whole batch; stops when every row has ended."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"latents must be (B, {self.latent_dim}), not {tuple(z.shape)}")
        if not torch.isfinite(z).all():
            raise InvalidInputError("latents must be finite")
        max_len = self.max_len if max_len is None else max_len
        z = z.float()
        state = self._initial_state(z)
        banned = torch.zeros(len(self.vocabulary), dtype=torch.bool)
        banned[[PAD, BOS, UNK]] = True
        token = torch.full((len(z),), BOS, dtype=torch.long)
        ended = torch.zeros(len(z), dtype=torch.bool)
        out = []
        for step in range(max_len + 1):
            x = torch.cat([self.embedding(token), z], dim=1).unsqueeze(1)
            states, state = self.decoder(x, state)
            logits = self._logits(states[:, 0]).masked_fill(banned, float("-inf"))
            if step == 0:
                logits[:, EOS] = float("-inf")
            token = torch.full_like(token, EOS) if step == max_len else logits.argmax(1)
            token = torch.where(ended, PAD, token)
            out.append(token)
            ended = ended | token.eq(EOS)
            if bool(ended.all()):
                break
        return torch.stack(out, dim=1)

    def decode(self, z: torch.Tensor) -> list[str]:
        """Sentences (lowercase, detokenized) for latents ``(B, l)``: the exemplar generator.

        Example:
            >>> from evoxplain_zoo.models.text import load_sentence_vae
            >>> load_sentence_vae().decode(torch.zeros(2, 32))     # the shipped VAE
            ['the movie is a great film, but it is a great film.', 'the movie is a great film, but it is a great film.']
        """
        ids = self.decode_ids(z)
        return [detokenize(self.vocabulary.decode(row)) for row in ids.tolist()]

    def forward(
        self, ids: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction: ``(logits (B, T+1, V), targets (B, T+1), mu, logvar)`` for 0-padded
        word ids ``(B, T)``. ``z = mu + σ·ε`` and word dropout draw from ``generator`` in
        training mode; in eval mode ``z = mu`` and no word is dropped."""
        mu, logvar = self.encode(ids)
        lengths = ids.ne(PAD).sum(1)
        rows = torch.arange(len(ids))
        targets = torch.cat([ids, torch.zeros(len(ids), 1, dtype=torch.long)], dim=1)
        targets[rows, lengths] = EOS
        inputs = torch.cat([torch.full((len(ids), 1), BOS, dtype=torch.long), ids], dim=1)
        z = mu
        if self.training:
            z = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
            if self.word_dropout > 0:
                drop = torch.rand(inputs.shape, generator=generator) < self.word_dropout
                drop[:, 0] = False
                inputs = torch.where(drop & inputs.ne(PAD), UNK, inputs)
        return self.decode_logits(z, inputs), targets, mu, logvar

    def losses(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sentence means of the reconstruction NLL (summed over words and ``<eos>``) and
        of the KL divergence to N(0, I)."""
        logits, targets, mu, logvar = self(ids, generator)
        nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum")
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
        return nll / len(ids), kl / len(ids)

    def save(self, path: str | Path) -> None:
        """Weights, architecture and vocabulary in one file (read by ``load_sentence_vae``)."""
        _save(self, "vae", path)


# -- data and training ---------------------------------------------------------------------------


def review_sentences(reviews: Sequence[str], min_tokens: int = 5, max_tokens: int = 20) -> list[list[str]]:
    """The tokenized sentences of ``reviews`` with ``min_tokens``-``max_tokens`` tokens, in order.

    Example:
        >>> review_sentences(["Loved it. The cast is great and so is the score!"])
        [['the', 'cast', 'is', 'great', 'and', 'so', 'is', 'the', 'score', '!']]
    """
    sentences = (tokenize(s) for review in reviews for s in split_sentences(review))
    return [s for s in sentences if min_tokens <= len(s) <= max_tokens]


@torch.no_grad()
def vae_validation_loss(vae: SentenceVAE, ids: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """Mean per-sentence reconstruction NLL and KL on ``ids`` with ``z = mu`` (deterministic)."""
    was_training = vae.training
    vae.eval()
    nll = kl = 0.0
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        r, k = vae.losses(batch[:, : int(batch.ne(PAD).sum(1).max())])
        nll, kl = nll + float(r) * len(batch), kl + float(k) * len(batch)
    vae.train(was_training)
    return nll / len(ids), kl / len(ids)


def train_sentence_vae(
    epochs: int = 10,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    latent_dim: int = 32,
    embed_dim: int = 128,
    hidden: int = 192,
    word_dropout: float = 0.3,
    vocab_size: int = 4000,
    min_count: int = 2,
    batch_size: int = 64,
    lr: float = 2e-3,
    cycles: int = 4,
    clip: float = 5.0,
    train_subset: int | None = None,
    verbose: bool = False,
) -> tuple[SentenceVAE, float, float]:
    """Train a :class:`SentenceVAE`; return it (eval mode), validation NLL and KL per sentence.

    Loss per sentence: NLL + ``β(step)·KL`` with ``β`` from
    :func:`~evoxplain_zoo.models.training.cyclical_beta` (``cycles`` cycles over all steps, ramp
    0.5). Adam with cosine decay, gradients clipped to norm ``clip``. The vocabulary is built
    from the training sentences.

    Example:
        >>> vae, nll, kl = train_sentence_vae(epochs=1, train_subset=500, seed=0)   # the shipped: 10 epochs, all
        >>> vae.latent_dim
        32
    """
    COUNT.check("epochs", epochs)
    COUNT.check("batch_size", batch_size)
    reviews = load_imdb("test", root)["text"].iloc[VAE_REVIEWS.start : VAE_REVIEWS.stop]
    sentences = review_sentences(list(reviews))
    train = [s for i, s in enumerate(sentences) if i % 20 != 19]
    valid = [s for i, s in enumerate(sentences) if i % 20 == 19]
    if train_subset is not None:
        COUNT.check("train_subset", train_subset)
        train = train[:train_subset]
    vocabulary = Vocabulary.build(train, min_count=min_count, max_size=vocab_size)
    x = pad_batch([vocabulary.encode(s) for s in train])
    x_valid = pad_batch([vocabulary.encode(s) for s in valid])
    vae = SentenceVAE(
        vocabulary=vocabulary,
        embed_dim=embed_dim,
        hidden=hidden,
        latent_dim=latent_dim,
        word_dropout=word_dropout,
        seed=seed,
    )
    generator = torch.Generator().manual_seed(seed + 2)

    def losses(batch: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return vae.losses(batch[:, : int(batch.ne(PAD).sum(1).max())], g)  # trim the batch's padding

    def report(epoch: int) -> None:
        if verbose:
            r, k = vae_validation_loss(vae, x_valid)
            print(f"epoch {epoch + 1}/{epochs}: validation NLL {r:.2f}, KL {k:.2f} (per sentence)", flush=True)

    fit_vae(
        model=vae, x=x, losses=losses, optimizer=torch.optim.Adam(vae.parameters(), lr=lr),
        epochs=epochs, batch_size=batch_size, generator=generator, cycles=cycles, clip=clip, report=report,
    )  # fmt: skip
    vae.eval()
    return (vae, *vae_validation_loss(vae, x_valid))
