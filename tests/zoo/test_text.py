"""IMDB loader and text helpers, the sentiment classifier and sentence VAE, text exemplar search."""

from __future__ import annotations

import pytest
import torch
from evoxplain_zoo.data import DatasetNotFoundError
from evoxplain_zoo.data.imdb import clean_review, detokenize, load_imdb, split_sentences, tokenize
from evoxplain_zoo.models.text import (
    EOS,
    UNK,
    SentimentClassifier,
    Vocabulary,
    head_and_tail,
    load_sentence_vae,
    load_sentiment_classifier,
    pad_batch,
    reverse_within,
    train_sentiment_classifier,
)
from evoxplain_zoo.models.text_vae import SentenceVAE, review_sentences, train_sentence_vae
from evoxplain_zoo.models.training import accuracy
from evoxplain_zoo.scenarios.text import run_text_exemplars

from evoxplain import BlackBox
from evoxplain.errors import EvoxplainError, InvalidInputError
from evoxplain.exemplars import TextExemplars, text_exemplars


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the machine's cores are shared, and small LSTM steps gain nothing from two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def imdb_test(data_root):
    return load_imdb("test", root=data_root)


@pytest.fixture(scope="module")
def classifier():
    return load_sentiment_classifier()


@pytest.fixture(scope="module")
def vae():
    return load_sentence_vae()


# -- data and vocabulary ---------------------------------------------------------------------------


def test_loader_cleans_and_counts(imdb_test, data_env, tmp_path):
    assert list(imdb_test.columns) == ["id", "rating", "label", "text"] and len(imdb_test) == 5000
    assert int(imdb_test["label"].sum()) == 2500
    assert not imdb_test["text"].str.contains("<br", case=False).any()
    assert ((imdb_test["rating"] >= 7) == (imdb_test["label"] == 1)).all()
    assert load_imdb("train")["label"].value_counts().tolist() == [2500, 2500]  # $EVOXPLAIN_DATA
    with pytest.raises(InvalidInputError):
        load_imdb("unsup")
    with pytest.raises(DatasetNotFoundError):
        load_imdb("test", root=tmp_path)


def test_tokenizer_sentences_and_detokenizer():
    assert clean_review("Great.<br /><br />Really  great.<BR/>Go") == "Great.\nReally great.\nGo"
    assert tokenize("It's GREAT, isn't it?!") == ["it's", "great", ",", "isn't", "it", "?", "!"]
    assert split_sentences("Loved it! The cast is great.\nGo see it") == [
        "Loved it!", "The cast is great.", "Go see it"
    ]  # fmt: skip
    assert detokenize(tokenize("It's great, isn't it? (Really)")) == "it's great, isn't it? (really)"
    with pytest.raises(InvalidInputError):
        tokenize(None)


def test_vocabulary_round_trip():
    texts = [tokenize("A good film, a good cast."), tokenize("A bad film!")]
    vocab = Vocabulary.build(texts, min_count=2, max_size=100)
    assert vocab.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "film", "good"]
    ids = vocab.encode(tokenize("a good film"), bos=True, eos=True)
    assert ids[0] == 2 and ids[-1] == EOS and vocab.decode(ids) == ["a", "good", "film"]
    assert vocab.encode(["a", "great"]) == [4, UNK]
    assert vocab.decode([4, EOS, 5]) == ["a"]  # stops at <eos>
    assert Vocabulary(vocab.tokens).index == vocab.index
    assert len(Vocabulary.build(texts, min_count=1, max_size=6)) == 6
    for bad in (lambda: Vocabulary(["a", "b"]), lambda: vocab.encode("a good film"), lambda: vocab.decode([99])):
        with pytest.raises(InvalidInputError):
            bad()


def test_padding_helpers():
    assert pad_batch([[5, 6, 7], [8]]).tolist() == [[5, 6, 7], [8, 0, 0]]
    assert head_and_tail([1, 2, 3, 4, 5, 6, 7], 4) == [1, 2, 6, 7] and head_and_tail([], 4) == [UNK]
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    lengths = torch.tensor([3, 2])
    assert reverse_within(x, lengths).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within(reverse_within(x, lengths), lengths), x)


# -- the shipped models ----------------------------------------------------------------------------


def test_shipped_classifier_accuracy(classifier, imdb_test):
    held_out = imdb_test.iloc[:1000]  # test reviews 0-999: seen by neither model
    x = classifier.encode(list(held_out["text"]))
    acc = accuracy(classifier, x, torch.tensor(held_out["label"].to_numpy()), batch_size=250)
    assert acc >= 0.80, acc


def test_model_of_strings_is_padding_invariant_and_counted(classifier):
    texts = ["a wonderful, moving film.", "the worst movie i have ever seen, a waste of time."]
    bb = BlackBox(classifier.model_of_strings(batch_size=2), output="logits")
    together = bb(texts + ["an average film with a long plot " * 20])
    alone = torch.cat([bb([t]) for t in texts])
    assert bb.queries == 5 and together.shape == (3, 2)
    torch.testing.assert_close(together[:2], alone, atol=1e-5, rtol=1e-5)
    assert bb.predict(texts).tolist() == [1, 0]
    with pytest.raises(InvalidInputError):
        classifier.encode("one string")
    with pytest.raises(InvalidInputError):
        classifier(torch.zeros(2, 3))  # float, not ids


def test_vae_decodes_batches_deterministically(vae):
    z = torch.randn(12, vae.latent_dim, generator=torch.Generator().manual_seed(0))
    first, second = vae.decode(z), vae.decode(z)
    assert first == second and len(first) == 12
    assert all(isinstance(s, str) and s.strip() for s in first)
    ids = vae.decode_ids(z)
    assert ids.shape[1] <= vae.max_len + 1 and bool(ids.eq(EOS).any(1).all())
    assert len(set(first)) > 1  # the latent is used: different codes, different sentences
    for bad in (torch.zeros(2, vae.latent_dim + 1), torch.full((1, vae.latent_dim), float("nan"))):
        with pytest.raises(InvalidInputError):
            vae.decode(bad)


def test_shipped_files_hold_small_vocabularies(classifier, vae):
    assert len(classifier.vocabulary) <= 8000 and len(vae.vocabulary) <= 8000
    assert classifier.embedding.embedding_dim <= 128 and vae.embedding.embedding_dim <= 128
    assert 16 <= vae.latent_dim <= 32
    with pytest.raises(InvalidInputError):
        load_sentiment_classifier("no-such-file.pt")


# -- reproducible training -------------------------------------------------------------------------


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_tiny_training_is_reproducible(data_env):
    state = torch.get_rng_state()
    settings = {"train_subset": 48, "test_subset": 8, "max_tokens": 64, "batch_size": 16}
    a, _ = train_sentiment_classifier(1, seed=3, **settings)
    b, _ = train_sentiment_classifier(1, seed=3, **settings)
    assert _same_weights(a, b)
    assert not _same_weights(SentimentClassifier(a.vocabulary, seed=3), SentimentClassifier(a.vocabulary, seed=4))
    assert not _same_weights(a, SentimentClassifier(a.vocabulary, seed=3))  # training moved the weights
    small = {"train_subset": 96, "hidden": 32, "embed_dim": 16, "latent_dim": 8, "vocab_size": 300}
    va, nll_a, _ = train_sentence_vae(1, seed=3, **small)
    vb, nll_b, _ = train_sentence_vae(1, seed=3, **small)
    assert _same_weights(va, vb) and nll_a == nll_b
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
    with pytest.raises(InvalidInputError):
        train_sentiment_classifier(0)


def test_sentence_data_and_model_errors():
    assert review_sentences(["Loved it. The cast is great and so is the score!"]) == [
        ["the", "cast", "is", "great", "and", "so", "is", "the", "score", "!"]
    ]
    vocab = Vocabulary.build([["a", "b"]], min_count=1)
    with pytest.raises(InvalidInputError):
        SentenceVAE(vocab, word_dropout=1.0)
    with pytest.raises(InvalidInputError):
        SentimentClassifier(vocab, hidden=0)


# -- text exemplars --------------------------------------------------------------------------------


def test_text_exemplars_converge_with_exact_query_counts(classifier, vae, tmp_path):
    bb = BlackBox(classifier.model_of_strings(), output="logits")
    found = text_exemplars(bb, vae, ["negative", "positive"], runs=3, per_class=2, seed=0, max_queries=2000)
    assert isinstance(found, TextExemplars) and found.blackbox is bb
    everything = [r for group in found.results.values() for r in group]
    assert len(everything) == 6
    assert bb.queries == sum(r.queries for r in everything)
    for target, group in enumerate(found.results.values()):
        for r in group:
            assert r.converged and r.target == target and r.target_probability >= 0.95
            assert r.queries == 50 + 20 * r.generations
            assert isinstance(r.exemplar, str) and r.exemplar
            assert float(bb.probabilities([r.exemplar])[0, target]) == pytest.approx(r.target_probability, abs=1e-5)
    assert list(found.frame["class"]) == ["negative", "negative", "positive", "positive"]
    assert found.save(tmp_path / "ex.md").read_text().startswith("| class | run | exemplar |")
    assert len(found.save(tmp_path / "ex.txt").read_text().splitlines()) == 4
    assert found.save(tmp_path / "new" / "folder" / "ex.csv").is_file()  # missing folders are made
    assert (found.summary()["converged"] == 3).all()


def test_text_exemplar_errors(classifier, vae):
    with pytest.raises(InvalidInputError):
        text_exemplars(classifier, object(), ["negative", "positive"])
    with pytest.raises(InvalidInputError):
        text_exemplars(classifier, vae, ["negative", "positive"], runs=0)
    with pytest.raises(InvalidInputError):
        text_exemplars(classifier, vae, [])
    with pytest.raises(EvoxplainError):
        text_exemplars(classifier, vae, ["negative", "positive"], max_queries=10)  # < population
    with pytest.raises(InvalidInputError):
        run_text_exemplars(target="neutral")
