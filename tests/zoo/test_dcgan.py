"""The DCGAN: shapes and range at 48×48 and 28×28, latents far from N(0, I), reproducible training."""

from __future__ import annotations

import pytest
import torch
from evoxplain_zoo.models.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    load_dcgan,
    recalibrate_batchnorm,
    train_dcgan,
)

from evoxplain.errors import EvoxplainError, InvalidInputError


@pytest.mark.parametrize("size", [48, 28])
def test_shapes_and_range_for_both_sizes(size):
    gen = DCGANGenerator(latent_dim=8, image_size=size, seed=0).eval()
    disc = DCGANDiscriminator(image_size=size, seed=0)
    with torch.no_grad():
        near = gen(torch.randn(3, 8, generator=torch.Generator().manual_seed(0)))
        far = gen(torch.full((2, 8), 50.0) * torch.tensor([[1.0], [-1.0]]))
    for images in (near, far):
        assert images.shape[1:] == (1, size, size)
        assert torch.isfinite(images).all() and 0 <= float(images.min()) and float(images.max()) <= 1
    assert disc(near).shape == (3,)
    assert gen.latent_dim == 8


def test_latents_are_projected_onto_the_sphere():
    """Scaling a latent does not change the image: the search may move freely along any ray."""
    gen = DCGANGenerator(latent_dim=16, image_size=28, seed=1).eval()
    z = torch.rand(4, 16, generator=torch.Generator().manual_seed(0)) * 10 - 5
    with torch.no_grad():
        torch.testing.assert_close(gen(z), gen(3 * z), rtol=0, atol=1e-5)
        norms = gen.project(z).pow(2).sum(dim=1).sqrt()
    torch.testing.assert_close(norms, torch.full((4,), 4.0))


def test_init_is_seeded_and_local():
    state = torch.get_rng_state()
    a, b, c = DCGANGenerator(seed=3), DCGANGenerator(seed=3), DCGANGenerator(seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    assert not torch.equal(a.net[1].weight, c.net[1].weight)
    assert abs(float(a.net[1].weight.detach().std()) - 0.02) < 0.002  # N(0, 0.02) as in the DCGAN paper


def test_seeded_training_is_bit_identical(monkeypatch):
    tiny = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(40) % 4
    monkeypatch.setattr("evoxplain_zoo.models.fer._data", lambda split, root, subset, dataset: (tiny, labels))
    state = torch.get_rng_state()
    options = {"latent_dim": 4, "width": 4, "batch_size": 16, "bn_batches": 2}
    (g1, h1), (g2, h2) = [train_dcgan("fashion-mnist", 1, seed=5, **options) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), state)
    assert h1.d_loss == h2.d_loss and h1.g_loss == h2.g_loss and len(h1.d_loss) == 1
    for key, value in g1.state_dict().items():
        assert torch.equal(value, g2.state_dict()[key]), key
    assert not torch.equal(g1.net[1].weight, DCGANGenerator(4, 28, 4, seed=5).net[1].weight)  # it learned
    assert not g1.training  # returned in eval mode


def test_excluded_class_is_never_seen(monkeypatch):
    """The unseen-class scenario: training without class 1 is training on the other images only."""
    tiny = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(40) % 4
    options = {"latent_dim": 4, "width": 4, "batch_size": 16, "bn_batches": 2}
    data = "evoxplain_zoo.models.fer._data"
    monkeypatch.setattr(data, lambda split, root, subset, dataset: (tiny, labels))
    without, _ = train_dcgan("fashion-mnist", 1, seed=5, exclude_class="Trouser", **options)  # class 1
    monkeypatch.setattr(data, lambda split, root, subset, dataset: (tiny[labels != 1], labels[labels != 1]))
    removed, _ = train_dcgan("fashion-mnist", 1, seed=5, **options)
    monkeypatch.setattr(data, lambda split, root, subset, dataset: (tiny, labels))
    everything, _ = train_dcgan("fashion-mnist", 1, seed=5, **options)
    for key, value in without.state_dict().items():
        assert torch.equal(value, removed.state_dict()[key]), key
    assert not torch.equal(without.net[1].weight, everything.net[1].weight)


def test_recalibrated_batchnorm_matches_the_batch_statistics():
    gen = DCGANGenerator(latent_dim=8, image_size=28, width=4, seed=0)
    recalibrate_batchnorm(gen, torch.Generator().manual_seed(0), batches=4, batch_size=64)
    z = torch.randn(512, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        hidden = gen.net[:2](gen.project(z))  # the first transposed conv's output
    torch.testing.assert_close(gen.net[2].running_mean, hidden.mean(dim=(0, 2, 3)), rtol=0.1, atol=0.02)


def test_errors(tmp_path):
    with pytest.raises(InvalidInputError):
        DCGANGenerator(image_size=32)
    with pytest.raises(InvalidInputError):
        DCGANGenerator(latent_dim=0)
    with pytest.raises(InvalidInputError, match="latents must be"):
        DCGANGenerator(latent_dim=8).eval()(torch.zeros(2, 9))
    with pytest.raises(EvoxplainError, match="python -m evoxplain_zoo.models.dcgan"):
        load_dcgan("fer", tmp_path / "missing.pt")
    with pytest.raises(InvalidInputError):
        train_dcgan("cifar10")
