"""Tabular exemplars on the real UCI Adult data: loader, encoding, VAE, generator, search, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from evoxplain_zoo.data._paths import DatasetFormatError, DatasetNotFoundError
from evoxplain_zoo.data.adult import (
    ADULT_CATEGORICAL,
    ADULT_CLASSES,
    ADULT_FEATURES,
    ADULT_NUMERIC,
    load_adult,
)
from evoxplain_zoo.models.tabular_vae import TabularEncoding, TabularVAE, train_tabular_vae
from evoxplain_zoo.models.weights import save_weights
from evoxplain_zoo.scenarios.tabular import TabularGenerator, fit_forest, split_halves

from evoxplain.blackbox import BlackBox
from evoxplain.errors import InvalidInputError
from evoxplain.exemplars import ExemplarSearch
from evoxplain.exemplars.tabular import markdown_table, tabular_exemplars

LOG = ["capital-gain", "capital-loss"]


@pytest.fixture(scope="module")
def adult(data_root) -> pd.DataFrame:
    return load_adult("train", root=data_root)


@pytest.fixture(scope="module")
def encoding(adult) -> TabularEncoding:
    return TabularEncoding.fit(adult, target="income", log=LOG)


@pytest.fixture(scope="module")
def tiny(adult, encoding):
    """A small VAE and forest on disjoint halves of the training split (a few seconds)."""
    vae_half, forest_half = split_halves(adult, seed=0)
    vae = train_tabular_vae(vae_half.iloc[:6000], encoding, epochs=6, seed=0)
    forest = fit_forest(forest_half.iloc[:6000], encoding, "income", seed=0, n_estimators=30)
    return vae, forest, forest_half.iloc[6000:9000]


# -- the loader -------------------------------------------------------------------------------


def test_load_adult_splits_and_missing_values(monkeypatch, data_root):
    train = load_adult("train", root=data_root)
    test = load_adult("test", root=data_root / "adult")  # the dataset folder itself also works
    assert list(train.columns) == [*ADULT_FEATURES, "income"]
    assert train.shape == (32561, 15) and test.shape == (16281, 15)
    assert int(train["income"].sum()) == 7841 and int(test["income"].sum()) == 3846
    assert set(test["income"].unique()) == {0, 1}  # the test file's "." is gone
    assert not train.isna().any().any() and not test.isna().any().any()
    assert all(train[c].dtype == np.int64 for c in ADULT_NUMERIC)
    assert (train["workclass"] == "Unknown").sum() == 1836  # "?" became a category
    assert test.iloc[0]["age"] == 25 and test.iloc[0]["education"] == "11th"
    assert len(load_adult("train", root=data_root, missing="drop")) == 30162
    assert load_adult("test", root=data_root, missing="keep")["occupation"].isna().sum() == 966
    monkeypatch.setenv("EVOXPLAIN_DATA", str(data_root))
    assert len(load_adult("test")) == 16281


def test_load_adult_errors(tmp_path, monkeypatch, data_root):
    monkeypatch.delenv("EVOXPLAIN_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="adult"):
        load_adult("train", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="EVOXPLAIN_DATA"):
        load_adult("train")
    with pytest.raises(InvalidInputError, match="split"):
        load_adult("valid", root=data_root)
    bad = tmp_path / "adult"
    bad.mkdir()
    (bad / "adult.data").write_text(
        "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, "
        "Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n"
    )
    (bad / "adult.test").write_text("|1x3 Cross validator\n")
    with pytest.raises(DatasetFormatError, match="rows where UCI's file has 32561"):
        load_adult("train", root=tmp_path)


# -- the encoding -----------------------------------------------------------------------------


def test_encoding_round_trip(adult, encoding):
    assert encoding.columns == ADULT_FEATURES and encoding.categorical == ADULT_CATEGORICAL
    assert encoding.cardinalities == [9, 16, 7, 15, 6, 5, 2, 42]
    numeric, codes = encoding.encode(adult)
    assert numeric.dtype == torch.float32 and codes.dtype == torch.int64
    assert numeric.shape == (32561, 6) and codes.shape == (32561, 8)
    assert numeric.mean(0).abs().max() < 1e-3 and (numeric.std(0) - 1).abs().max() < 1e-3
    back = encoding.decode(numeric, codes)
    assert list(back.columns) == ADULT_FEATURES
    for col in ADULT_CATEGORICAL:
        assert (back[col].to_numpy() == adult[col].to_numpy()).all()
    for col in ADULT_NUMERIC:
        np.testing.assert_allclose(back[col].to_numpy(), adult[col].to_numpy(), rtol=0, atol=0.5)
    x = encoding.to_model_input(adult)
    assert x.shape == (32561, 14) and x.dtype == np.float32
    assert np.array_equal(x, encoding.model_input(numeric, codes).numpy())
    assert x[0, 1] == encoding.categories["workclass"].index("State-gov") and x[0, 2] == 77516


def test_encoding_errors(adult, encoding):
    odd = adult.head(3).copy()
    odd.loc[0, "race"] = "Martian"
    with pytest.raises(InvalidInputError, match="Martian"):
        encoding.encode(odd)
    with pytest.raises(InvalidInputError, match="lacks the columns"):
        encoding.to_model_input(adult.drop(columns="age"))
    with pytest.raises(InvalidInputError, match="codes outside"):
        encoding.from_model_input(np.full((1, 14), 99.0))
    restored = TabularEncoding.from_dict(encoding.to_dict())
    assert restored == encoding


# -- the VAE ----------------------------------------------------------------------------------


def test_vae_reconstructs_better_than_chance(tiny, encoding):
    vae, _, held_out = tiny
    numeric, codes = encoding.encode(held_out)  # rows the VAE never saw
    rec = vae.reconstruct(numeric, codes)
    accuracy = (rec.codes == codes).float().mean(0)
    majority = torch.stack([codes[:, j].bincount().max() / len(codes) for j in range(codes.shape[1])])
    assert float(accuracy.mean()) > float(majority.mean()) + 0.05
    assert float((rec.numeric - numeric).pow(2).mean()) < 0.8  # chance (predict the mean): 1.0
    assert vae.history[-1]["loss"] < vae.history[0]["loss"]
    assert [m.out_features for m in vae.encoder if isinstance(m, torch.nn.Linear)] == [64, 128, 8]
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in vae.encoder)


def test_vae_training_is_reproducible_without_global_rng(adult, encoding, tmp_path):
    rows = adult.iloc[:1024]
    before = torch.get_rng_state()
    a = train_tabular_vae(rows, encoding, epochs=1, seed=3, batch_size=128)
    b = train_tabular_vae(rows, encoding, epochs=1, seed=3, batch_size=128)
    c = train_tabular_vae(rows, encoding, epochs=1, seed=4, batch_size=128)
    assert torch.equal(before, torch.get_rng_state())
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.numeric_head.weight, c.numeric_head.weight)
    a.save(tmp_path / "vae.pt")
    loaded = TabularVAE.load(tmp_path / "vae.pt")
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(TabularGenerator(a)(z), TabularGenerator(loaded)(z))
    with pytest.raises(InvalidInputError, match="no weights at"):
        TabularVAE.load(tmp_path / "missing.safetensors")
    save_weights(tmp_path / "other.safetensors", a.state_dict(), format="something-else")
    with pytest.raises(InvalidInputError, match="not a TabularVAE file"):
        TabularVAE.load(tmp_path / "other.safetensors")


# -- generator, forest, search ---------------------------------------------------------------


def test_generator_outputs_the_forest_input(tiny, encoding):
    vae, forest, _ = tiny
    gen = TabularGenerator(vae)
    z = (torch.rand(200, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1) * 5
    with torch.no_grad():
        x = gen(z)
    assert x.shape == (200, 14) and x.dtype == torch.float32
    for j, col in enumerate(encoding.columns):
        values = x[:, j]
        assert torch.equal(values, values.round()), col  # codes and integer columns are whole
        if col in encoding.categories:
            assert 0 <= values.min() and values.max() < len(encoding.categories[col]), col
        else:
            k = encoding.numeric.index(col)
            assert encoding.low[k] <= values.min() and values.max() <= encoding.high[k], col
    probs = BlackBox(forest).probabilities(x)
    assert probs.shape == (200, 2)
    frame = gen.frame(z[:5])
    assert list(frame.columns) == ADULT_FEATURES and len(frame) == 5
    with pytest.raises(InvalidInputError, match="latents"):
        gen(torch.zeros(2, 3))


def test_search_converges_with_exact_query_counts(tiny):
    vae, forest, _ = tiny
    rows_seen: list[int] = []

    class Counting:
        def predict_proba(self, x):
            rows_seen.append(len(x))
            return forest.predict_proba(x)

    bb = BlackBox(Counting(), budget=20_000)
    search = ExemplarSearch(bb, TabularGenerator(vae), latent_dim=4, max_queries=1500, seed=0)
    results = search.run_many([0, 1, 0, 1])
    assert any(r.converged for r in results)
    for r in results:
        assert r.queries == 50 + 20 * r.generations
        assert r.queries <= 1500
        if r.converged:
            assert r.target_probability >= 0.95 and r.exemplar.shape == (14,)
    assert sum(r.queries for r in results) == bb.queries == sum(rows_seen)


def test_tabular_exemplars_tables(tiny, encoding, tmp_path):
    vae, forest, _ = tiny
    ex = tabular_exemplars(forest, TabularGenerator(vae), ADULT_CLASSES, runs=6, per_class=3, max_queries=1500)
    frame = ex.frame
    assert list(frame.columns) == ["class", "run", "probability", "queries", "converged", *ADULT_FEATURES]
    assert set(frame["class"]) <= set(ADULT_CLASSES) and len(frame) <= 6
    assert frame["converged"].any()
    for col in ADULT_CATEGORICAL:
        assert set(frame[col]) <= set(encoding.categories[col]), col
    assert (frame.loc[frame["converged"], "probability"] >= 0.95).all()
    summary = ex.summary()
    assert list(summary["class"]) == ADULT_CLASSES and (summary["runs"] == 6).all()
    assert ex.method == "ES-momentum" and len(ex.results["<=50K"]) == 6
    ex.save(tmp_path / "csv" / "ex.csv", tmp_path / "md" / "ex.md")  # missing folders are made
    again = pd.read_csv(tmp_path / "csv" / "ex.csv")
    assert list(again.columns) == list(frame.columns) and len(again) == len(frame)
    md = (tmp_path / "md" / "ex.md").read_text()
    lines = md.strip().splitlines()
    assert lines[0].startswith("| feature | ") and all(f"| {col} |" in md for col in ADULT_FEATURES)
    assert len({line.count("|") for line in lines}) == 1  # a well-formed table
    with pytest.raises(InvalidInputError, match="runs"):
        tabular_exemplars(forest, TabularGenerator(vae), ADULT_CLASSES, runs=0)


def test_markdown_table_escapes_pipes():
    assert markdown_table(["a", "b"], [["x|y", 2]]) == "| a | b |\n|---|---|\n| x\\|y | 2 |"
