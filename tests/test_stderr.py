"""GEEX's standard errors: they must match the spread of the values over seeds."""

import pytest
import torch

from evoxplain import GEEX, LIME

SEEDS = 60


def make_image_model(seed=0):
    """A smooth non-linear model of 1×8×8 images: tanh features, two logits."""
    g = torch.Generator().manual_seed(seed)
    w1, w2 = torch.randn(24, 64, generator=g) / 4, torch.randn(2, 24, generator=g)
    return lambda x: torch.tanh(x.flatten(1) @ w1.T) @ w2.T


IMAGE = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(3))


def spread_and_reported(options, x, queries, target=0, model=None):
    """The values' standard deviation over seeds, and the mean reported standard error."""
    model = model or make_image_model()
    runs = [GEEX(model, queries=queries, seed=s, **options).explain(x, target) for s in range(SEEDS)]
    values = torch.stack([r.values for r in runs]).flatten(1)
    reported = torch.stack([r.stderr for r in runs]).flatten(1)
    return values.std(dim=0), reported.mean(dim=0)


@pytest.mark.parametrize(
    "options",
    [
        dict(integrated=False, sigma=0.3),  # GE
        dict(sigma=0.3),  # integrated GEEX
        dict(sigma=0.3, mask_size=4),  # GERS: resized noise
        dict(distribution="bernoulli", integrated=False),  # bGEEX, one cell per pixel
        dict(distribution="bernoulli", mask_size=4),  # integrated, bilinear (correlated) masks
        dict(distribution="bernoulli", estimator="regression", mask_size=4),
        dict(distribution="bernoulli", estimator="regression", mask_size=4, integrated=False),
    ],
    ids=["GE", "GEEX", "GERS", "bGEEX", "bGEEX-bilinear", "regression", "regression-no-path"],
)
def test_reported_standard_errors_match_the_spread_over_seeds(options):
    spread, reported = spread_and_reported({"fitness": "logit", **options}, IMAGE, queries=400)
    ratio = reported / spread
    # 60 seeds measure a standard deviation to about ±9 %: every element's error is right to within
    # that (and for integrated GEEX the spread differs from element to element, by 70 % on average)
    assert 0.85 < float(ratio.median()) < 1.15, float(ratio.median())
    assert 0.65 < float(ratio.min()) and float(ratio.max()) < 1.5, (float(ratio.min()), float(ratio.max()))


def test_standard_errors_shrink_as_one_over_the_root_of_the_queries():
    options = dict(distribution="bernoulli", mask_size=4, fitness="logit", seed=0)
    small = GEEX(make_image_model(), queries=400, **options).explain(IMAGE, 0).stderr
    large = GEEX(make_image_model(), queries=6400, **options).explain(IMAGE, 0).stderr
    assert 3.5 < float(small.mean() / large.mean()) < 4.5  # 16× the queries: 4× smaller


def test_a_model_linear_in_the_cells_leaves_the_regression_no_error():
    w = torch.randn(64, generator=torch.Generator().manual_seed(0))
    model = lambda x: torch.stack([x.flatten(1) @ w, torch.zeros(len(x))], dim=1)  # noqa: E731
    options = dict(distribution="bernoulli", estimator="regression", mask_size=8, fitness="logit", seed=0)
    exp = GEEX(model, queries=400, **options).explain(IMAGE, 0)
    assert float(exp.stderr.max()) < 1e-5
    mean = GEEX(model, queries=400, **{**options, "estimator": "mean"}).explain(IMAGE, 0)
    assert float(mean.stderr.mean()) > 1e-3  # the mean estimator scatters even here


def test_text_standard_errors_for_both_estimators():
    weights = {"great": 2.0, "awful": -3.0, "plot": 0.5}

    def sentiment(texts):
        words = [set(s.split()) for s in texts]  # additive, plus a three-word interaction (the mirrored
        # differences of a two-word one are still linear: the regression would be exact)
        score = torch.tensor(
            [sum(weights.get(t, 0.0) for t in w) + 2.0 * ({"great", "plot", "acting"} <= w) for w in words]
        )
        return torch.stack([score, torch.zeros_like(score)], dim=1)

    text = "a great plot but awful acting"
    for estimator in ("mean", "regression"):
        runs = [
            GEEX(
                sentiment, queries=200, fitness="logit", distribution="bernoulli", estimator=estimator, seed=s
            ).explain(text, 0)
            for s in range(SEEDS)
        ]
        values, reported = torch.stack([r.values for r in runs]), torch.stack([r.stderr for r in runs])
        assert reported.shape == values.shape
        ratio = reported.mean(0) / values.std(0)
        assert 0.75 < float(ratio.min()) and float(ratio.max()) < 1.33, (estimator, ratio)


def test_too_few_pairs_give_nan_standard_errors_and_batches_keep_them():
    options = dict(distribution="bernoulli", estimator="regression", mask_size=8, fitness="logit", seed=0)
    exp = GEEX(make_image_model(), queries=64, **options).explain(IMAGE, 0)  # 32 pairs for 64 cells
    assert exp.stderr.shape == IMAGE.shape and bool(exp.stderr.isnan().all())
    batch = GEEX(make_image_model(), queries=200, distribution="bernoulli", seed=0).explain(torch.stack([IMAGE] * 2))
    assert batch.stderr.shape == (2, *IMAGE.shape) and torch.equal(batch[1].stderr, batch.stderr[1])


def test_explanations_keep_their_standard_errors_in_a_file_and_others_have_none(tmp_path):
    from evoxplain import Explanation

    exp = GEEX(make_image_model(), queries=100, seed=0).explain(IMAGE, 0)
    exp.save(tmp_path / "e.evx")
    assert torch.equal(Explanation.load(tmp_path / "e.evx").stderr, exp.stderr)
    assert LIME(make_image_model(), queries=50, superpixel=4, seed=0).explain(IMAGE, 0).stderr is None
