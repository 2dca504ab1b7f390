"""The IMDB movie-review subset: 5,000 labelled reviews per split, a tokenizer, a sentence splitter.

Expected layout (under ``root``, or ``$EVOXPLAIN_DATA``; gzipped or not)::

    imdb/
        imdb_train_5k.csv.gz    5,000 rows (2,500 positive, 2,500 negative)
        imdb_test_5k.csv.gz     5,000 rows, the same columns

Columns: ``id``, ``rating`` (1-10), ``label`` (1 = positive, rating ≥ 7; 0 = negative,
rating ≤ 4) and ``text``. :func:`load_imdb` replaces the ``<br />`` tags of the raw reviews by
line breaks (a paragraph end is a sentence end for :func:`split_sentences`).

Text helpers shared by the text models:

* :func:`tokenize` — lowercase words (apostrophes inside a word kept: ``isn't``) and single
  punctuation marks;
* :func:`split_sentences` — sentences of a review (after ``.``, ``!``, ``?`` and at line breaks);
* :func:`detokenize` — tokens back to a readable string (no space before punctuation).

Example:
    >>> df = load_imdb("test")          # $EVOXPLAIN_DATA/imdb/imdb_test_5k.csv.gz
    >>> df.shape, int(df["label"].sum())
    ((5000, 4), 2500)
    >>> tokenize("It's GREAT, isn't it?")
    ["it's", 'great', ',', "isn't", 'it', '?']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from evoxplain.errors import InvalidInputError

from ._paths import DatasetFormatError, find_dataset, find_file

IMDB_CLASSES = ["negative", "positive"]  # label 0 and 1
IMDB_COLUMNS = ["id", "rating", "label", "text"]
_FILES = {"train": "imdb_train_5k.csv.gz", "test": "imdb_test_5k.csv.gz"}

_BREAK = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\s*\n\s*")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}]|'s\b|n't\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{$]) ")


def clean_review(text: str) -> str:
    """``text`` with ``<br />`` tags as line breaks, runs of spaces as one, no blank lines.

    Example:
        >>> clean_review("Great.<br /><br />Really  great.")
        'Great.\\nReally great.'
    """
    text = _BREAK.sub("\n", text)
    text = _SPACES.sub(" ", text)
    return _LINES.sub("\n", text).strip()


def tokenize(text: str) -> list[str]:
    """Lowercase tokens of ``text``: words (letters and digits, inner apostrophes kept) and
    punctuation marks, one mark per token.

    Example:
        >>> tokenize("A 10/10 film... Don't miss it!")
        ['a', '10', '/', '10', 'film', '.', '.', '.', "don't", 'miss', 'it', '!']
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"tokenize takes a string, not {type(text).__name__}")
    return _TOKEN.findall(text.lower().replace("’", "'"))


def split_sentences(text: str) -> list[str]:
    """The sentences of a (cleaned) review: split after ``.``, ``!`` or ``?`` followed by
    white space, and at line breaks; empty pieces dropped.

    Example:
        >>> split_sentences("Loved it! The cast is great.\\nGo see it")
        ['Loved it!', 'The cast is great.', 'Go see it']
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"split_sentences takes a string, not {type(text).__name__}")
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def detokenize(tokens: list[str]) -> str:
    """Tokens joined by spaces, without the space before punctuation and contractions.

    Example:
        >>> detokenize(["it", "is", "great", ",", "really", "!"])
        'it is great, really!'
    """
    text = _NO_SPACE_BEFORE.sub(r"\1", " ".join(tokens))
    return _NO_SPACE_AFTER.sub(r"\1", text)


def load_imdb(
    split: Literal["train", "test"] = "train",
    root: str | Path | None = None,
    *,
    download: bool = False,
):
    """Load a split of the IMDB subset as a pandas DataFrame with cleaned review texts.

    Args:
        split: ``"train"`` or ``"test"`` (5,000 reviews each, half positive).
        root: a folder holding the CSV files, or one containing ``imdb/``; defaults to
            ``$EVOXPLAIN_DATA/imdb``.
        download: fetch the dataset into the cache (``evoxplain data download``) if it is found nowhere.

    Returns:
        A DataFrame with columns ``id``, ``rating``, ``label`` (int64, 1 = positive; names in
        :data:`IMDB_CLASSES`) and ``text`` (``<br />`` tags replaced by line breaks, see
        :func:`clean_review`), in the file's (shuffled) row order.

    Raises:
        InvalidInputError: ``split`` is neither ``"train"`` nor ``"test"``.
        DatasetNotFoundError: the file is not there (the message lists where it looked).
        DatasetFormatError: the file lacks a column or holds a label other than 0/1.

    Example:
        >>> df = load_imdb("train")
        >>> df["label"].value_counts().tolist()
        [2500, 2500]
    """
    if split not in _FILES:
        raise InvalidInputError(f"split must be 'train' or 'test', not {split!r}")
    import pandas as pd

    name = _FILES[split]
    folder = find_dataset("imdb", [name], root, download=download)
    path = find_file(folder, name)
    try:
        df = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise DatasetFormatError(f"{path} is not the IMDB subset CSV: {err}") from err
    missing = [c for c in IMDB_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetFormatError(f"{path}: missing column(s) {missing}; expected {IMDB_COLUMNS}")
    df = df[IMDB_COLUMNS].copy()
    if df["text"].isna().any() or not df["label"].isin([0, 1]).all():
        raise DatasetFormatError(f"{path}: every row needs a text and a label 0 or 1")
    df["label"] = df["label"].astype("int64")
    df["text"] = [clean_review(t) for t in df["text"]]
    return df
