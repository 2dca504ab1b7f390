"""IMDB text models for the exemplar experiments: a BiLSTM sentiment classifier and its vocabulary.

* :class:`Vocabulary` — tokens ↔ ids, built from training tokens (``<pad> <unk> <bos> <eos>``
  first), stored inside each model's weight file.
* :class:`SentimentClassifier` — the black box: token ids ``(N, T)`` (right-padded with 0) →
  2 logits (0 = negative, 1 = positive). Word embeddings trained alongside, a bidirectional
  LSTM, mean and max pooling over the valid steps, dropout, linear. The backward direction
  reads each review reversed within its own length, so padding never changes an answer.
* :class:`StringClassifier` — the same model as a *model of strings* (``list[str]`` → ``(N, 2)``
  logits) for ``BlackBox(classifier.model_of_strings(), output="logits")``.
* :class:`~evoxplain_zoo.models.text_vae.SentenceVAE` — the generator (in :mod:`.text_vae`).

Data each shipped model saw (disjoint, as in the exemplar paper): the classifier trains on the
5,000 reviews of the train subset; the VAE on the sentences of test reviews 2500-4999
(:data:`VAE_REVIEWS`, text only); test reviews 0-2499 (:data:`HELD_OUT_REVIEWS`) are seen by
neither and score the classifier (its accuracy on all 5,000 test reviews is reported too).

Weights are initialised and dropout masks, shuffles and VAE noise drawn from local generators
only; the same seed and thread count give bit-identical weights on CPU.

Example:
    >>> from evoxplain_zoo.models.text import load_sentiment_classifier, load_sentence_vae
    >>> clf, vae = load_sentiment_classifier(), load_sentence_vae()
    >>> from evoxplain import BlackBox
    >>> bb = BlackBox(clf.model_of_strings(), output="logits")
    >>> bb.predict(["a wonderful film", "a waste of time"] + vae.decode(torch.zeros(1, vae.latent_dim)))
    tensor([1, 0, 1])

Command line (trains, prints the scores, saves weights and vocabulary in one file)::

    python -m evoxplain_zoo.models.text --model classifier --out W/imdb-classifier.safetensors
    python -m evoxplain_zoo.models.text --model vae --out W/imdb-vae.safetensors

(``W`` = ``zoo/src/evoxplain_zoo/models/weights``.)
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evoxplain.constraints import COUNT, Integer
from evoxplain.errors import InvalidInputError

from ..data.imdb import load_imdb, tokenize
from .fer import LocalDropout, _set_dropout_generator, init_module
from .training import accuracy, fit_classifier
from .weights import WEIGHTS_DIR, load_weights, save_weights

CLASSIFIER_FILE, VAE_FILE = "imdb-classifier.safetensors", "imdb-vae.safetensors"
FORMAT = "evoxplain-text-v1"
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)
HELD_OUT_REVIEWS = range(0, 2500)  # test reviews neither model saw: they score the classifier
VAE_REVIEWS = range(2500, 5000)  # test reviews whose sentences train the VAE (text only)


# -- vocabulary ----------------------------------------------------------------------------------


class Vocabulary:
    """Tokens ↔ ids; ids 0-3 are ``<pad> <unk> <bos> <eos>``, unknown tokens map to ``<unk>``.

    Example:
        >>> vocab = Vocabulary.build([["a", "good", "film"], ["a", "bad", "film"]], min_count=2)
        >>> vocab.encode(["a", "great", "film"], eos=True)
        [4, 1, 5, 3]
        >>> vocab.decode([4, 1, 5, 3])
        ['a', '<unk>', 'film']
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIALS or len(set(tokens)) != len(tokens):
            raise InvalidInputError(f"a vocabulary is a list of distinct tokens starting with {list(SPECIALS)}")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[Sequence[str]], *, min_count: int = 2, max_size: int = 8000) -> Vocabulary:
        """The at most ``max_size`` (specials included) most frequent tokens seen at least
        ``min_count`` times in ``texts`` (lists of tokens); ties broken alphabetically."""
        COUNT.check("min_count", min_count)
        Integer(low=5).check("max_size", max_size)
        counts = Counter(t for text in texts for t in text)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        return cls([*SPECIALS, *kept[: max_size - len(SPECIALS)]])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens`` (``<unk>`` for unknown ones), optionally framed by ``<bos>``/``<eos>``."""
        if isinstance(tokens, str):
            raise InvalidInputError("encode takes a list of tokens; use tokenize(text) first")
        ids = [self.index.get(t, UNK) for t in tokens]
        return [BOS] * bos + ids + [EOS] * eos

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` up to the first ``<eos>``, without ``<pad>`` and ``<bos>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if not 0 <= i < len(self.tokens):
                raise InvalidInputError(f"id {i} is outside the vocabulary of {len(self)} tokens")
            if i not in (PAD, BOS):
                out.append(self.tokens[i])
        return out


def pad_batch(sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """Id lists right-padded with ``<pad>`` (0) into a ``(N, longest)`` int64 tensor.

    Example:
        >>> pad_batch([[5, 6, 7], [8]]).tolist()
        [[5, 6, 7], [8, 0, 0]]
    """
    out = torch.zeros(len(sequences), max((len(s) for s in sequences), default=1), dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return out


def head_and_tail(ids: list[int], max_tokens: int) -> list[int]:
    """The first ``ceil(max/2)`` and last ``floor(max/2)`` ids of a longer review (opening and
    verdict), or all of them; never empty (``[<unk>]`` for an empty text).

    Example:
        >>> head_and_tail([1, 2, 3, 4, 5, 6], 4)
        [1, 2, 5, 6]
    """
    if not ids:
        return [UNK]
    if len(ids) <= max_tokens:
        return ids
    head = (max_tokens + 1) // 2
    return ids[:head] + ids[len(ids) - (max_tokens - head) :]


def init_recurrent(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of every ``nn.Embedding`` (N(0, 1)) and ``nn.LSTM``
    (U(−1/√h, 1/√h)) in ``module``, drawn from ``generator``; ``<pad>`` rows zeroed.

    Example:
        >>> init_recurrent(model, torch.Generator().manual_seed(1))
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Embedding):
                nn.init.normal_(layer.weight, generator=generator)
                if layer.padding_idx is not None:
                    layer.weight[layer.padding_idx].zero_()
            elif isinstance(layer, nn.LSTM):
                bound = 1 / math.sqrt(layer.hidden_size)
                for weight in layer.parameters():
                    nn.init.uniform_(weight, -bound, bound, generator=generator)


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row of ``x`` ``(B, T, ...)`` reversed within its first ``lengths[b]`` steps (the
    padding stays at the end); its own inverse.

    Example:
        >>> reverse_within(torch.tensor([[1, 2, 3, 0]]), torch.tensor([3])).tolist()
        [[3, 2, 1, 0]]
    """
    steps = torch.arange(x.shape[1]).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    index = index.view(*index.shape, *([1] * (x.ndim - 2))).expand_as(x)
    return x.gather(1, index)


# -- the classifier ------------------------------------------------------------------------------


class SentimentClassifier(nn.Module):
    """Bidirectional LSTM from token ids ``(N, T)`` (0-padded) to 2 sentiment logits.

    embedding → dropout → forward and backward LSTM (each ``hidden`` wide) → per step
    ``[h→; h←]`` → mean and max over the valid steps → dropout → linear ``4·hidden`` → 2.

    Args:
        vocabulary: the :class:`Vocabulary` the ids come from (kept with the weights).
        embed_dim: the word-embedding size.
        hidden: the LSTM width of each direction.
        dropout: dropout on embeddings and on the pooled features (:class:`LocalDropout`).
        max_tokens: reviews longer than this keep their head and tail (:func:`head_and_tail`).
        seed: seeds the weight initialisation (never the global random state).

    Example:
        >>> clf = SentimentClassifier(Vocabulary.build([["good", "bad"]], min_count=1), seed=0)
        >>> clf.eval()(torch.tensor([[4, 5, 0]])).shape
        torch.Size([1, 2])
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        embed_dim: int = 128,
        hidden: int = 64,
        dropout: float = 0.4,
        max_tokens: int = 256,
        seed: int = 0,
    ):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("hidden", hidden), ("max_tokens", max_tokens)):
            COUNT.check(name, value)
        self.vocabulary = vocabulary
        self.config = {"embed_dim": embed_dim, "hidden": hidden, "dropout": dropout, "max_tokens": max_tokens}
        self.max_tokens = max_tokens
        with torch.device("meta"):  # built without drawing from the global generator
            self.embedding = nn.Embedding(len(vocabulary), embed_dim, padding_idx=PAD)
            self.forward_lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
            self.backward_lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
            self.head = nn.Linear(4 * hidden, 2)
        self.embed_dropout, self.feature_dropout = LocalDropout(dropout), LocalDropout(dropout)
        self.to_empty(device="cpu")
        init_module(self, seed)
        init_recurrent(self, torch.Generator().manual_seed(seed + 1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2 or ids.dtype != torch.long:
            raise InvalidInputError(f"ids must be an int64 (N, T) tensor, not {ids.dtype} {tuple(ids.shape)}")
        lengths = ids.ne(PAD).sum(1).clamp_min(1)
        ids = ids[:, : int(lengths.max())]
        x = self.embed_dropout(self.embedding(ids))
        forward_states, _ = self.forward_lstm(x)
        backward_states, _ = self.backward_lstm(reverse_within(x, lengths))
        states = torch.cat([forward_states, reverse_within(backward_states, lengths)], dim=2)
        valid = (torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
        mean = (states * valid).sum(1) / lengths.unsqueeze(1)
        peak = states.masked_fill(~valid, float("-inf")).amax(1)
        return self.head(self.feature_dropout(torch.cat([mean, peak], dim=1)))

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids ``(N, T)`` of raw texts: tokenized, cut by :func:`head_and_tail`, padded."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInputError("texts must be a list of strings (one per review)")
        return pad_batch([head_and_tail(self.vocabulary.encode(tokenize(t)), self.max_tokens) for t in texts])

    def model_of_strings(self, batch_size: int = 256) -> StringClassifier:
        """This classifier as a callable ``list[str]`` → ``(N, 2)`` logits (for a BlackBox).

        Example:
            >>> from evoxplain import BlackBox
            >>> bb = BlackBox(load_sentiment_classifier().model_of_strings(), output="logits")
        """
        return StringClassifier(self, batch_size)

    def save(self, path: str | Path) -> None:
        """Weights, architecture and vocabulary in one file (read by :func:`load_sentiment_classifier`)."""
        _save(self, "classifier", path)


class StringClassifier:
    """A :class:`SentimentClassifier` as a model of strings: ``list[str]`` → ``(N, 2)`` logits.

    Runs in eval mode without gradients, ``batch_size`` texts at a time. It is a plain callable
    (not an ``nn.Module``), so a :class:`~evoxplain.BlackBox` sends it lists of strings.

    Example:
        >>> model = StringClassifier(load_sentiment_classifier())
        >>> model(["a wonderful film", "a waste of time"]).argmax(1).tolist()
        [1, 0]
    """

    def __init__(self, network: SentimentClassifier, batch_size: int = 256):
        if not isinstance(network, SentimentClassifier):
            raise InvalidInputError(f"StringClassifier wraps a SentimentClassifier, not {type(network).__name__}")
        COUNT.check("batch_size", batch_size)
        self.network, self.batch_size = network.eval(), batch_size

    @torch.no_grad()
    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        ids = self.network.encode(texts)
        if not len(texts):
            return torch.zeros(0, 2)
        return torch.cat([self.network(ids[s : s + self.batch_size]) for s in range(0, len(ids), self.batch_size)])


# -- training --------------------------------------------------------------------------------------


def train_sentiment_classifier(
    epochs: int = 6,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    vocab_size: int = 8000,
    min_count: int = 2,
    embed_dim: int = 128,
    hidden: int = 64,
    dropout: float = 0.4,
    max_tokens: int = 256,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    train_subset: int | None = None,
    test_subset: int | None = None,
    verbose: bool = False,
) -> tuple[SentimentClassifier, float]:
    """Train a :class:`SentimentClassifier` on the IMDB train subset; return it (eval mode) and
    its accuracy on the test reviews (the first ``test_subset``, default all 5,000).

    The vocabulary is built from the training reviews only. AdamW with cosine decay and cross
    entropy (:func:`~evoxplain_zoo.models.training.fit_classifier`); init, shuffles and dropout masks
    come from generators seeded by ``seed``.

    Example:
        >>> model, acc = train_sentiment_classifier(epochs=1, train_subset=500, test_subset=200, seed=0)
        >>> 0.0 <= acc <= 1.0             # the shipped weights: 6 epochs on every training review
        True
    """
    COUNT.check("epochs", epochs)
    COUNT.check("batch_size", batch_size)
    train, test = load_imdb("train", root), load_imdb("test", root)
    if train_subset is not None:
        COUNT.check("train_subset", train_subset)
        train = train.iloc[:train_subset]
    if test_subset is not None:
        COUNT.check("test_subset", test_subset)
        test = test.iloc[:test_subset]
    tokens = [tokenize(t) for t in train["text"]]
    vocabulary = Vocabulary.build(tokens, min_count=min_count, max_size=vocab_size)
    model = SentimentClassifier(
        vocabulary=vocabulary, embed_dim=embed_dim, hidden=hidden, dropout=dropout, max_tokens=max_tokens, seed=seed
    )
    x = pad_batch([head_and_tail(vocabulary.encode(t), max_tokens) for t in tokens])
    y = torch.tensor(train["label"].to_numpy())
    x_test, y_test = model.encode(list(test["text"])), torch.tensor(test["label"].to_numpy())
    generator = torch.Generator().manual_seed(seed + 2)
    _set_dropout_generator(model, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def report(epoch: int, loss: float) -> None:
        if verbose:
            acc = accuracy(model, x_test, y_test, batch_size=250)
            print(f"epoch {epoch + 1}/{epochs}: train loss {loss:.4f}, test accuracy {acc:.4f}", flush=True)

    fit_classifier(
        model=model,
        x=x,
        y=y,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=batch_size,
        generator=generator,
        report=report,
    )
    _set_dropout_generator(model, None)
    model.eval()
    return model, accuracy(model, x_test, y_test, batch_size=250)


# -- weight files ----------------------------------------------------------------------------------


def _save(model: nn.Module, kind: str, path: str | Path) -> None:
    meta = {"format": FORMAT, "model": kind, "config": dict(model.config), "vocabulary": list(model.vocabulary.tokens)}
    save_weights(path, model.state_dict(), **meta)


def _read(path: Path, kind: str) -> dict[str, Any]:
    state, meta = load_weights(path, f"python -m evoxplain_zoo.models.text --model {kind}")
    if meta.get("format") != FORMAT or meta.get("model") != kind:
        raise InvalidInputError(f"{path} is not an IMDB {kind} file saved by evoxplain_zoo.models.text")
    return {**meta, "state_dict": state}


def load_sentiment_classifier(path: str | Path | None = None) -> SentimentClassifier:
    """The IMDB sentiment classifier with the shipped weights (or those at ``path``), eval mode.

    Example:
        >>> from evoxplain import BlackBox
        >>> bb = BlackBox(load_sentiment_classifier().model_of_strings(), output="logits")
        >>> bb.predict(["a wonderful film", "a waste of time"])       # 1: positive
        tensor([1, 0])
    """
    path = Path(path) if path is not None else WEIGHTS_DIR / CLASSIFIER_FILE
    blob = _read(path, "classifier")
    model = SentimentClassifier(Vocabulary(blob["vocabulary"]), **blob["config"])
    model.load_state_dict(blob["state_dict"])
    return model.eval()


def load_sentence_vae(path: str | Path | None = None):
    """The IMDB sentence VAE with the shipped weights (or those at ``path``), eval mode.

    Example:
        >>> vae = load_sentence_vae(); vae.decode(torch.zeros(2, vae.latent_dim))
        ['the movie is a great film, but it is a great film.', 'the movie is a great film, but it is a great film.']
    """
    from .text_vae import SentenceVAE

    path = Path(path) if path is not None else WEIGHTS_DIR / VAE_FILE
    blob = _read(path, "vae")
    model = SentenceVAE(Vocabulary(blob["vocabulary"]), **blob["config"])
    model.load_state_dict(blob["state_dict"])
    return model.eval()


# -- command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> float:
    """Command line: train the IMDB classifier or sentence VAE, print its scores, save it."""
    parser = argparse.ArgumentParser(prog="python -m evoxplain_zoo.models.text", description=main.__doc__)
    parser.add_argument("--model", choices=["classifier", "vae"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to save the model file (.pt)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 6 (classifier), 10 (vae)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=None, help="data folder (default: $EVOXPLAIN_DATA)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--train-subset", type=int, default=None, help="first N training reviews/sentences")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    common = {"seed": args.seed, "root": args.root, "train_subset": args.train_subset, "verbose": True}
    if args.model == "classifier":
        epochs = args.epochs or 6
        model, score = train_sentiment_classifier(epochs, **common)
        held = _held_out_accuracy(model, args.root)
        summary = f"test accuracy {score:.4f} (all 5000), {held:.4f} (held-out reviews 0-2499)"
    else:
        from .text_vae import train_sentence_vae

        epochs = args.epochs or 10
        model, score, kl = train_sentence_vae(epochs, **common)
        summary = f"validation reconstruction NLL {score:.2f} per sentence (KL {kl:.2f})"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(
        f"imdb {args.model}: {summary} after {epochs} epochs, seed {args.seed}, "
        f"{time.perf_counter() - begin:.0f} s, {torch.get_num_threads()} threads; saved {args.out}"
    )
    return score


def _held_out_accuracy(model: SentimentClassifier, root: str | Path | None) -> float:
    test = load_imdb("test", root).iloc[HELD_OUT_REVIEWS.start : HELD_OUT_REVIEWS.stop]
    x, y = model.encode(list(test["text"])), torch.tensor(test["label"].to_numpy())
    return accuracy(model, x, y, batch_size=250)


if __name__ == "__main__":
    main()
