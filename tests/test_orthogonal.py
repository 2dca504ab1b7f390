"""Orthogonal sign designs: each draw as random as before, the cross terms cancelled by blocks."""

import itertools

import pytest
import torch
from test_stderr import IMAGE, make_image_model

from evoxplain import GEEX, InvalidInputError
from evoxplain.orthogonal import OrthogonalSigns


@pytest.mark.parametrize("dims", [1, 5, 64, 196, 255, 256])
def test_a_full_block_of_rows_is_orthogonal(dims):
    design = OrthogonalSigns(dims, torch.Generator().manual_seed(dims))
    size = design.size
    assert size > dims and size == 2 ** (size.bit_length() - 1) and size < 2 * (dims + 1)
    for _ in range(2):  # this block and the next, drawn afresh
        rows = design.draw(size)
        assert set(rows.unique().tolist()) <= {-1.0, 1.0}
        assert torch.equal(rows.T @ rows, size * torch.eye(dims))


def test_every_draw_is_uniform_on_the_sign_vectors():
    counts = dict.fromkeys(itertools.product([-1.0, 1.0], repeat=3), 0)
    seeds = 4000
    for seed in range(seeds):
        rows = OrthogonalSigns(3, torch.Generator().manual_seed(seed)).draw(6)  # N = 4: two blocks
        counts[tuple(rows[seed % 6].tolist())] += 1
    frequencies = torch.tensor(list(counts.values())) / seeds
    assert (frequencies - 1 / 8).abs().max() < 0.025  # five binomial standard errors


def test_draws_do_not_depend_on_how_they_are_split_and_follow_the_seed():
    whole = OrthogonalSigns(20, torch.Generator().manual_seed(0)).draw(100)
    split = OrthogonalSigns(20, torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([split.draw(3), split.draw(0), split.draw(60), split.draw(37)]), whole)
    other = OrthogonalSigns(20, torch.Generator().manual_seed(1)).draw(100)
    assert not torch.equal(other, whole)
    with pytest.raises(InvalidInputError, match="at least one dimension"):
        OrthogonalSigns(0, torch.Generator())


def test_the_mean_estimator_is_exact_for_a_model_linear_in_the_cells_after_one_block():
    w = torch.randn(1, 24, 24, generator=torch.Generator().manual_seed(0))
    model = lambda x: torch.stack([(x * w).flatten(1).sum(1), torch.zeros(len(x))], dim=1)  # noqa: E731
    image = torch.rand(1, 24, 24, generator=torch.Generator().manual_seed(1))
    cells = (w * image).view(6, 4, 6, 4).sum(dim=(1, 3))  # 36 cells of 4×4 pixels: blocks of 64 pairs
    options = dict(queries=128, distribution="bernoulli", mask_size=6, mask_interpolation="nearest", fitness="logit")
    for integrated in (False, True):
        found = {
            design: GEEX(model, design=design, integrated=integrated, seed=0, **options).explain(image, 0)
            for design in ("random", "orthogonal")
        }
        per_cell = {k: e.values[0].view(6, 4, 6, 4).sum(dim=(1, 3)) for k, e in found.items()}
        error = {k: float((v - cells).abs().max() / cells.abs().max()) for k, v in per_cell.items()}
        if not integrated:  # constant α: the block's Σ s sᵀ = 64·I leaves no scatter at all
            assert error["orthogonal"] < 1e-5 and error["random"] > 0.1, error  # 64 random pairs scatter
        else:  # α varies pair to pair: Σ α s sᵀ keeps Σ (α − ᾱ) s sᵀ, about half the scatter (measured 0.51)
            assert error["orthogonal"] < 0.75 * error["random"], error
        assert found["orthogonal"].queries == 130 and found["orthogonal"].params["design"] == "orthogonal"


def test_text_token_weights_are_exact_after_one_block():
    weights = {"great": 2.0, "awful": -3.0, "plot": 0.5}

    def sentiment(texts):
        score = torch.tensor([sum(weights.get(t, 0.0) for t in s.split()) for s in texts])
        return torch.stack([score, torch.zeros_like(score)], dim=1)

    for queries in (16, 80):  # 6 tokens: blocks of 8 pairs; 40 pairs take two steps of at most 32
        exp = GEEX(sentiment, queries=queries, fitness="logit", design="orthogonal", seed=0).explain(
            "a great plot but awful acting", 0
        )
        torch.testing.assert_close(exp.values, torch.tensor([0, 2.0, 0.5, 0, -3.0, 0]), atol=1e-6, rtol=0)
        assert exp.queries == queries + 2


@pytest.mark.parametrize(
    "options, most",
    [
        (dict(integrated=False, sigma=0.3), 0.9),  # Gaussian GE: only the signs are orthogonal (measured 0.81)
        (dict(distribution="bernoulli", integrated=False), 0.6),  # one cell per pixel (measured 0.41)
        (dict(distribution="bernoulli", mask_size=4), 0.9),  # bilinear masks (measured 0.78)
        (dict(distribution="bernoulli", estimator="regression", mask_size=4), 0.85),  # (measured 0.74)
    ],
    ids=["GE", "bGEEX", "bGEEX-bilinear", "regression"],
)
def test_same_expectation_less_spread_and_errors_that_do_not_understate(options, most):
    model, seeds = make_image_model(), 60
    runs = {
        design: [
            GEEX(model, queries=400, fitness="logit", design=design, seed=s, **options).explain(IMAGE, 0)
            for s in range(seeds)
        ]
        for design in ("random", "orthogonal")
    }
    values = {k: torch.stack([r.values for r in v]).flatten(1) for k, v in runs.items()}
    spread = {k: v.std(dim=0) for k, v in values.items()}
    assert float(spread["orthogonal"].mean() / spread["random"].mean()) < most
    difference = values["orthogonal"].mean(0) - values["random"].mean(0)
    scale = ((spread["orthogonal"] ** 2 + spread["random"] ** 2) / seeds).sqrt()
    assert float((difference / scale).abs().mean()) < 1.2  # same expectation: |z| averages 0.8
    reported = torch.stack([r.stderr for r in runs["orthogonal"]]).flatten(1).mean(0)
    assert float((reported / spread["orthogonal"]).median()) > 0.9  # computed as for independent draws


def test_a_bad_design_is_refused():
    with pytest.raises(InvalidInputError, match="design must be one of 'random', 'orthogonal'"):
        GEEX(lambda x: x, design="sobol")


def test_batch_size_does_not_change_an_orthogonal_explanation():
    model = make_image_model()
    options = dict(queries=512, distribution="bernoulli", mask_size=4, design="orthogonal", seed=3)
    small = GEEX(model, batch_size=64, **options).explain(IMAGE, 0).values
    large = GEEX(model, batch_size=1000, **options).explain(IMAGE, 0).values
    torch.testing.assert_close(small, large, rtol=1e-5, atol=1e-7)
