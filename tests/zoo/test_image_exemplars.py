"""Image exemplars: the shipped generators, the paper's data scenarios, the grid, the searches."""

from __future__ import annotations

import pytest
import torch
from evoxplain_zoo.models.fer import FERVAE, random_shift, scenario_data, training_indices
from evoxplain_zoo.models.generators import (
    available_generators,
    generator_info,
    load_exemplar_classifier,
    load_generator,
)
from evoxplain_zoo.scenarios.images import run_image_exemplars
from PIL import Image

from evoxplain.errors import EvoxplainError, InvalidInputError
from evoxplain.exemplars import ImageExemplars, image_exemplars
from evoxplain.viz import image_grid

SIZES = {"fer": 48, "fashion-mnist": 28}


class Brightness(torch.nn.Module):
    """Logits [a, −a, 0] with a = 12·(mean brightness − 0.5): class 0 bright, 1 dark, 2 never sure."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = 12 * (x.mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([a, -a, torch.zeros_like(a)], dim=1)


class Shade(torch.nn.Module):
    """Latents (B, 4) → uniform 8×8 images of brightness sigmoid(z₀)."""

    latent_dim = 4

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z[:, :1]).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)


# -- the shipped generators and black boxes ----------------------------------------------------


def test_registry_loads_every_generator():
    assert available_generators() == sorted(
        ["fer-vae", "fer-dcgan", "fashion-mnist-vae", "fashion-mnist-dcgan", "fer-vae-disjoint", "fer-vae-no-surprise"]
        + ["fer-dcgan-no-surprise"]
    )
    z = torch.rand(3, 64, generator=torch.Generator().manual_seed(0)) * 10 - 5  # U(-5, 5), the search's start
    for name in available_generators():
        gen = load_generator(name)
        size = SIZES[generator_info(name).dataset]
        assert not gen.training
        with torch.no_grad():
            images = gen(z[:, : gen.latent_dim])
        assert images.shape == (3, 1, size, size), name
        assert torch.isfinite(images).all() and 0 <= float(images.min()) and float(images.max()) <= 1
        assert float(images.std()) > 0.01, name  # not a constant image


def test_black_boxes_and_unknown_names():
    fer, fer_classes = load_exemplar_classifier("fer")
    half, _ = load_exemplar_classifier("fer", half=0)
    fashion, fashion_classes = load_exemplar_classifier("fashion-mnist")
    assert fer_classes[3] == "happy" and fer_classes[5] == "surprise" and len(fashion_classes) == 10
    x = torch.rand(2, 1, 48, 48)
    assert fer(x).shape == half(x).shape == (2, 7)
    assert not torch.equal(fer(x), half(x))
    assert fashion(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(InvalidInputError, match="fer-vae-no-surprise"):
        load_generator("fer-gan")
    with pytest.raises(InvalidInputError, match="fashion-mnist"):
        load_exemplar_classifier("mnist")
    with pytest.raises(InvalidInputError):
        load_exemplar_classifier("fashion-mnist", half=0)
    with pytest.raises(InvalidInputError, match="one shipped LeNet"):
        load_exemplar_classifier("fashion-mnist", fitted=True)
    fitted, _ = load_exemplar_classifier("fer", fitted=True)
    assert fitted(x).shape == (2, 7) and not torch.equal(fitted(x), fer(x))


def test_vae_for_both_sizes_shares_layer_names():
    small, large = FERVAE(image_size=28, seed=0).eval(), FERVAE(image_size=48, seed=0).eval()
    assert list(small.state_dict()) == list(large.state_dict())
    x = torch.rand(2, 1, 28, 28)
    logits, mu, logvar = small(x, torch.Generator().manual_seed(0))
    assert logits.shape == x.shape and mu.shape == logvar.shape == (2, 16)
    with pytest.raises(InvalidInputError):
        FERVAE(image_size=32)


# -- the paper's data scenarios --------------------------------------------------------------


def test_halves_are_disjoint_covering_and_stratified(data_root):
    _, y, _, _ = scenario_data("fer", data_root)
    first, second = training_indices(y, half=0), training_indices(y, half=1)
    assert set(first.tolist()).isdisjoint(second.tolist())
    assert sorted(first.tolist() + second.tolist()) == list(range(len(y)))
    assert (torch.bincount(y[first]) - torch.bincount(y[second])).abs().max() <= 1
    assert torch.equal(first, training_indices(y, half=0, split_seed=0))
    assert not torch.equal(first, training_indices(y, half=0, split_seed=1))
    x_half, y_half, _, _ = scenario_data("fer", data_root, half=1)
    assert len(y_half) == len(second) and torch.equal(y_half, y[second])
    with pytest.raises(InvalidInputError):
        training_indices(y, half=2)


def test_excluded_class_is_absent_from_the_training_data(data_root):
    x, y, x_test, y_test = scenario_data("fer", data_root, exclude_class="surprise")
    assert len(x) == len(y) == 6436 - 1000 and not bool((y == 5).any())
    assert set(y.tolist()) == {0, 1, 2, 3, 4, 6}
    assert len(y_test) == 1311  # the test split stays whole
    assert training_indices(torch.tensor([5, 1, 5, 2]), exclude_class=5).tolist() == [1, 3]
    with pytest.raises(InvalidInputError, match="surprise"):
        scenario_data("fer", data_root, exclude_class="surprised")


def test_random_shift_moves_each_image_by_its_own_offset():
    x = torch.arange(2 * 36, dtype=torch.float32).view(2, 1, 6, 6)
    shifted = random_shift(x, torch.Generator().manual_seed(0), 2)
    assert shifted.shape == x.shape
    assert torch.equal(random_shift(x, torch.Generator().manual_seed(0), 2), shifted)
    assert torch.equal(random_shift(x, torch.Generator(), 0), x)
    for image, source in zip(shifted, x):  # the centre pixel of a shifted image is a source pixel nearby
        centre = float(image[0, 3, 3])
        rows, cols = torch.nonzero(source[0] == centre, as_tuple=True)
        assert len(rows) == 1 and abs(int(rows[0]) - 3) <= 2 and abs(int(cols[0]) - 3) <= 2


# -- the grid --------------------------------------------------------------------------------


def test_image_grid_writes_a_png_of_the_expected_size(tmp_path):
    images = torch.rand(5, 1, 28, 28)
    grid = image_grid(images, tmp_path / "g.png", cols=3, labels=[f"p=0.9{i}\nq=1{i}0" for i in range(5)], scale=2)
    with Image.open(tmp_path / "g.png") as png:
        assert png.format == "PNG"
        # width: 3 · (56 + 4) + 4; height: 2 rows · (56 + 26 caption + 4) + 4
        assert png.size == grid.size == (184, 176)
    plain = image_grid([images[0], None, images[1, 0]], scale=1, pad=0)
    assert plain.size == (56, 56)  # ⌈√3⌉ = 2 columns, 2 rows, no captions
    labelled = image_grid(images[:4], cols=2, row_labels=["first", "second"], scale=2)
    assert labelled.size[0] > 2 * 60 + 4 and labelled.size[1] == 2 * 60 + 4
    with pytest.raises(InvalidInputError):
        image_grid(images, labels=["one"])
    with pytest.raises(InvalidInputError):
        image_grid(torch.rand(2, 5))


# -- the searches ------------------------------------------------------------------------------


def test_image_exemplars_converge_with_exact_query_counts(logging_model, tmp_path):
    model = logging_model(Brightness())
    ex = image_exemplars(model, Shade(), {0: "bright", 2: "never"}, runs=3, per_class=2, seed=0, max_queries=250)
    assert isinstance(ex, ImageExemplars) and ex.method == "ES-momentum"
    bright, never = ex.results["bright"], ex.results["never"]
    assert all(r.converged and r.target_probability >= 0.95 for r in bright)
    assert not any(r.converged for r in never) and all(r.queries == 250 for r in never)
    for result in bright + never:
        assert result.queries == 50 + 20 * result.generations
    assert model.seen == sum(r.queries for r in bright + never)
    assert ex.exemplars("bright").shape == (2, 1, 8, 8) and float(ex.exemplars("bright").mean()) > 0.7
    rows = {row["class"]: row for row in ex.summary()}
    assert rows["bright"]["converged"] == 3 and rows["never"]["converged"] == 0
    text = ex.markdown()
    assert "| bright | 3 / 3 |" in text and "| never | 0 / 3 |" in text
    ex.save(tmp_path / "ex.png", tmp_path / "ex.md")
    with Image.open(tmp_path / "ex.png") as png:
        assert png.size[1] == 2 * (24 + 26 + 4) + 4  # two rows of 8·3-pixel cells with captions
    again = image_exemplars(Brightness(), Shade(), {0: "bright"}, runs=3, per_class=2, seed=0, max_queries=250)
    assert [r.queries for r in again.results["bright"]] == [r.queries for r in bright]
    gd = image_exemplars(Brightness(), Shade(), ["bright", "dark", "never"], runs=1, per_class=1, method="gd", seed=0)
    assert gd.method == "GD-momentum" and list(gd.results) == ["bright", "dark", "never"]


def test_fashion_exemplars_with_the_shipped_models():
    model, classes = load_exemplar_classifier("fashion-mnist")
    ex = image_exemplars(
        model, load_generator("fashion-mnist-vae"), {1: classes[1]}, runs=2, per_class=2, seed=0, max_queries=1000
    )
    results = ex.results["Trouser"]
    assert all(r.converged for r in results)
    with torch.no_grad():
        probs = model(ex.exemplars("Trouser")).softmax(dim=1)
    assert (probs[:, 1] >= 0.95).all()  # the exemplars are what the black box saw


def test_bad_names_and_targets(tmp_path):
    with pytest.raises(EvoxplainError, match="fer"):
        run_image_exemplars("cifar10", out=tmp_path)
    with pytest.raises(InvalidInputError, match="dcgan, vae"):
        run_image_exemplars("fashion-mnist", "vae-no-surprise", out=tmp_path)
    with pytest.raises(InvalidInputError, match="--generator"):
        run_image_exemplars("fer", "gan", out=tmp_path)
    with pytest.raises(InvalidInputError, match="surprise"):
        run_image_exemplars("fer", target="joy", out=tmp_path)
    with pytest.raises(InvalidInputError):
        image_exemplars(Brightness(), Shade(), ["a", "b", "c"], method="sgd")
    with pytest.raises(InvalidInputError):
        image_exemplars(Brightness(), Shade(), ["a", "b", "c"], runs=2, per_class=3)
    with pytest.raises(InvalidInputError, match="out of range"):
        image_exemplars(Brightness(), Shade(), {7: "h"}, runs=1, per_class=1, max_queries=50)
