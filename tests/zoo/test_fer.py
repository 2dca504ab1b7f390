"""FER2013 loader, the FER classifier and VAE, and an exemplar search through them."""

from __future__ import annotations

import pytest
import torch
from evoxplain_zoo.data import DatasetNotFoundError
from evoxplain_zoo.data.fer import FER2013_CLASSES, load_fer2013
from evoxplain_zoo.models.fer import (
    FERVAE,
    FERClassifier,
    load_fer_classifier,
    load_fer_vae,
    train_fer_classifier,
    train_fer_vae,
    train_vae,
    vae_losses,
    vae_test_loss,
)
from evoxplain_zoo.models.generators import load_generator
from evoxplain_zoo.models.training import accuracy, cyclical_beta
from torch.nn import functional as F

from evoxplain import BlackBox
from evoxplain.errors import InvalidInputError
from evoxplain.exemplars import ExemplarSearch

HALF_ACCURACY = 0.48


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
    assert out.shape == (5, 1, 48, 48) and 0 <= float(out.min()) and float(out.max()) <= 1
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
        losses.append(float(F.cross_entropy(model(x), y).detach()))
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
    after = sum(vae_losses(x, *vae(x, torch.Generator().manual_seed(1))))
    assert float(after.detach()) < float(before.detach())
    # the training functions use local generators only and are reproducible
    spread = torch.arange(0, 1311, 20)[:64]  # every 20th face: all seven classes
    tiny = {
        "train": (fer_test[0][spread], fer_test[1][spread]),
        "test": (fer_test[0][spread + 1][:32], fer_test[1][spread + 1][:32]),
    }
    monkeypatch.setattr("evoxplain_zoo.models.fer._data", lambda split, root, subset, dataset="fer": tiny[split])
    state = torch.get_rng_state()
    m1, acc1 = train_fer_classifier(1, seed=1, train_subset=64, test_subset=32, batch_size=32)
    m2, acc2 = train_fer_classifier(1, seed=1, train_subset=64, test_subset=32, batch_size=32)
    assert acc1 == acc2 and torch.equal(m1.head[5].weight, m2.head[5].weight)
    _, recon1, kl1 = train_fer_vae(1, seed=1, latent_dim=4, train_subset=64, test_subset=32)
    _, recon2, kl2 = train_fer_vae(1, seed=1, latent_dim=4, train_subset=64, test_subset=32)
    assert (recon1, kl1) == (recon2, kl2)
    # the scenario options: half 0 of the 64 faces; 'surprise' left out, by name or index
    m3, _ = train_fer_classifier(1, seed=1, batch_size=32, half=0)
    assert not torch.equal(m3.head[5].weight, m1.head[5].weight)
    _, r5, _ = train_vae("fer", 1, seed=1, latent_dim=4, exclude_class="surprise")
    _, r6, _ = train_vae("fer", 1, seed=1, latent_dim=4, exclude_class=5)
    assert r5 == r6 != recon1
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
    search = ExemplarSearch(bb, vae.decode, latent_dim=8, seed=0, max_queries=130, confidence=0.999)
    results = search.run_many([0, 3])
    for res in results:
        assert res.exemplar.shape == (1, 48, 48)
        assert res.queries == 50 + 20 * res.generations and res.queries <= 130
        assert [g.queries for g in res.history] == [50 + 20 * i for i in range(len(res.history))]
    assert clf.seen == bb.queries == sum(r.queries for r in results)


def test_shipped_classifiers_accuracy_and_confidence(fer_test):
    """The shipped FER classifier: test accuracy on the whole 1,311-face test split, confident on
    some real faces, and the exemplar search reaches the paper's 0.95 rule through a generator."""
    x, y, _ = fer_test
    model = load_fer_classifier()
    with torch.no_grad():
        probs = model(x).softmax(dim=1)
    assert float((probs.argmax(dim=1) == y).float().mean()) >= 0.50
    assert float((probs.max(dim=1).values >= 0.95).float().mean()) >= 0.05
    assert accuracy(load_fer_classifier(half=0), x, y) >= HALF_ACCURACY  # trained on half the faces
    search = ExemplarSearch(model, load_generator("fer-dcgan"), 32, seed=0, max_queries=1000)
    result = search.run(3)  # happy
    assert result.converged and result.target_probability >= 0.95 and result.queries <= 1000


def test_fitted_classifier_is_more_accurate_and_sure_of_more_classes(fer_test):
    """The lightly regularised FER classifier: more accurate than the default one, confident on real
    faces of five classes (the default one: two), and the search makes a face it calls 'sad' with
    probability ≥ 0.95 although no real face gets that from it."""
    x, y, classes = fer_test
    with torch.no_grad():
        default, fitted = (load_fer_classifier(fitted=f)(x).softmax(dim=1) for f in (False, True))

    def accuracy_of(probs: torch.Tensor) -> float:
        return float((probs.argmax(dim=1) == y).float().mean())

    def sure_classes(probs: torch.Tensor) -> list[int]:  # a real face of the class gets ≥ 0.95
        return [c for c in range(len(classes)) if bool((probs[y == c, c] >= 0.95).any())]

    assert accuracy_of(fitted) >= 0.56 > accuracy_of(default)
    assert len(sure_classes(fitted)) >= 5 and len(sure_classes(default)) == 2
    sad = classes.index("sad")
    assert float(fitted[:, sad].max()) < 0.95
    search = ExemplarSearch(load_fer_classifier(fitted=True), load_generator("fer-dcgan"), 32, seed=0, max_queries=1000)
    result = search.run(sad)
    assert result.converged and result.target_probability >= 0.95 and result.queries <= 1000
    with pytest.raises(InvalidInputError, match="--dropout 0"):
        load_fer_classifier("missing.pt", fitted=True)


def test_fitted_half_classifier_is_as_accurate_and_sure_of_more_classes(fer_test):
    """The fitted classifier of half 0 (the disjoint-data scenario's black box): as accurate as the
    default half-0 one, but sure (p ≥ 0.95) of real faces of five classes rather than two."""
    x, y, classes = fer_test
    with torch.no_grad():
        default, fitted = (load_fer_classifier(half=0, fitted=f)(x).softmax(dim=1) for f in (False, True))
    sure = [[c for c in range(len(classes)) if bool((p[y == c, c] >= 0.95).any())] for p in (default, fitted)]
    assert float((fitted.argmax(dim=1) == y).float().mean()) >= HALF_ACCURACY
    assert len(sure[0]) == 2 and len(sure[1]) >= 5
    assert float((fitted.max(dim=1).values >= 0.95).float().mean()) > 2 * float(
        (default.max(dim=1).values >= 0.95).float().mean()
    )
    with pytest.raises(InvalidInputError, match="--half 0 --epochs 30 .* --dropout 0"):
        load_fer_classifier("missing.pt", half=0, fitted=True)


def test_shipped_vaes_reconstruct_the_test_faces(fer_test):
    x = fer_test[0][:300]
    recon, kl = vae_test_loss(load_fer_vae(), x)
    assert 0 < kl and recon < 0.62 * 48 * 48  # BCE per pixel well below log 2 (0.69)
    with pytest.raises(InvalidInputError, match="--half 0"):
        load_fer_classifier("missing.pt", half=0)
