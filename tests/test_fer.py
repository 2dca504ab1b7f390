"""FER2013 loader, the FER classifier and VAE, and an exemplar search through them."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from evoxplain import BlackBox
from evoxplain.data import DatasetNotFoundError
from evoxplain.data.fer import FER2013_CLASSES, load_fer2013
from evoxplain.errors import InvalidInputError
from evoxplain.exemplars import ExemplarSearch
from evoxplain.zoo.fer import (
    FERVAE,
    FERClassifier,
    cyclical_beta,
    train_fer_classifier,
    train_fer_vae,
    vae_losses,
)


class _Counting(torch.nn.Module):
    """Counts the inputs the wrapped model sees."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.seen = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += len(x)
        return self.model(x)


@pytest.fixture(scope="module")
def fer_test(data_root):
    return load_fer2013("test", root=data_root)


def test_loader_shapes_and_counts(data_root, fer_test):
    x, y, names = load_fer2013("train", root=data_root)
    assert x.shape == (6436, 1, 48, 48) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and names == FER2013_CLASSES
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.bincount(y).tolist() == [1000, 436, 1000, 1000, 1000, 1000, 1000]
    xt, yt, _ = fer_test
    assert xt.shape == (1311, 1, 48, 48)
    assert torch.bincount(yt).tolist() == [200, 111, 200, 200, 200, 200, 200]


def test_loader_env_and_errors(data_env, tmp_path):
    assert load_fer2013("test")[0].shape[0] == 1311
    with pytest.raises(InvalidInputError):
        load_fer2013("valid")
    with pytest.raises(DatasetNotFoundError):
        load_fer2013("test", root=tmp_path)


def test_forward_shapes():
    x = torch.rand(3, 1, 48, 48)
    assert FERClassifier(seed=0).eval()(x).shape == (3, 7)
    vae = FERVAE(latent_dim=8, seed=0).eval()
    with torch.no_grad():
        out = vae.decode(torch.randn(5, 8))
    assert (
        out.shape == (5, 1, 48, 48) and 0 <= float(out.min()) and float(out.max()) <= 1
    )
    logits, mu, logvar = vae(x, torch.Generator().manual_seed(0))
    assert logits.shape == x.shape and mu.shape == logvar.shape == (3, 8)


def test_reproducible_init_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = FERClassifier(seed=3), FERClassifier(seed=3), FERClassifier(seed=4)
    va, vb = FERVAE(seed=3), FERVAE(seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    for x, y in zip(va.state_dict().values(), vb.state_dict().values()):
        assert torch.equal(x, y)
    assert not torch.equal(a.head[2].weight, c.head[2].weight)
    assert torch.isfinite(a.features[0][1].running_var).all()


def test_one_step_lowers_loss_and_training_is_reproducible(monkeypatch, fer_test):
    x, y = torch.rand(16, 1, 48, 48), torch.arange(16) % 7
    model = FERClassifier(seed=0)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        model.eval()
        losses.append(float(F.cross_entropy(model(x), y)))
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert losses[1] < losses[0]
    vae = FERVAE(latent_dim=4, seed=0)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    before = sum(vae_losses(x, *vae(x, torch.Generator().manual_seed(1))))
    opt.zero_grad()
    sum(vae_losses(x, *vae(x, g))).backward()
    opt.step()
    assert float(sum(vae_losses(x, *vae(x, torch.Generator().manual_seed(1))))) < float(
        before
    )
    # the training functions use local generators only and are reproducible
    tiny = {
        "train": (fer_test[0][:64], fer_test[1][:64]),
        "test": (fer_test[0][64:96], fer_test[1][64:96]),
    }
    monkeypatch.setattr(
        "evoxplain.zoo.fer._data", lambda split, root, subset: tiny[split]
    )
    state = torch.get_rng_state()
    m1, acc1 = train_fer_classifier(
        1, seed=1, train_subset=64, test_subset=32, batch_size=32
    )
    m2, acc2 = train_fer_classifier(
        1, seed=1, train_subset=64, test_subset=32, batch_size=32
    )
    assert acc1 == acc2 and torch.equal(m1.head[5].weight, m2.head[5].weight)
    _, recon1, kl1 = train_fer_vae(
        1, seed=1, latent_dim=4, train_subset=64, test_subset=32
    )
    _, recon2, kl2 = train_fer_vae(
        1, seed=1, latent_dim=4, train_subset=64, test_subset=32
    )
    assert (recon1, kl1) == (recon2, kl2)
    assert torch.equal(torch.get_rng_state(), state)


def test_cyclical_beta():
    assert [cyclical_beta(s, 8, cycles=2) for s in range(8)] == [
        0.0,
        0.5,
        1.0,
        1.0,
        0.0,
        0.5,
        1.0,
        1.0,
    ]


def test_es_pipeline_exact_queries():
    clf = _Counting(FERClassifier(seed=0)).eval()
    vae = FERVAE(latent_dim=8, seed=0).eval()
    bb = BlackBox(clf, output="logits")
    search = ExemplarSearch(
        bb, vae.decode, latent_dim=8, seed=0, max_queries=130, confidence=0.999
    )
    results = search.run_many([0, 3])
    for res in results:
        assert res.exemplar.shape == (1, 48, 48)
        assert res.queries == 50 + 20 * res.generations and res.queries <= 130
        assert [g.queries for g in res.history] == [
            50 + 20 * i for i in range(len(res.history))
        ]
    assert clf.seen == bb.queries == sum(r.queries for r in results)
