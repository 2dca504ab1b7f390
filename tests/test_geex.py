"""GE / GEEX / bGEEX against analytic truths on small hand-built models."""

import numpy as np
import pytest
import torch

from evoxplain import (
    GEEX,
    BlackBox,
    EvoxplainError,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
)
from evoxplain.sampling import bernoulli, make_sampler


def make_mlp(d_in=16, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    w1, w2 = torch.randn(32, d_in, generator=g) / d_in**0.5, torch.randn(classes, 32, generator=g) / 32**0.5
    return lambda x: torch.tanh(x @ w1.T) @ w2.T  # smooth logits


def autograd_gradient(model, x, target, kind="prob"):
    x = x.clone().requires_grad_(True)
    logits = model(x[None])[0]
    score = logits.softmax(0)[target] if kind == "prob" else logits.log_softmax(0)[target]
    score.backward()
    return x.grad


def cosine(a, b):
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


X16 = torch.randn(16, generator=torch.Generator().manual_seed(1))


def test_ge_cosine_to_true_gradient_rises_with_queries_and_passes_0_99():
    model = make_mlp()
    truth = autograd_gradient(model, X16, 0)
    means = []
    for n in (16, 256, 20000):
        cos = [
            cosine(GEEX(model, queries=n, sigma=1e-2, integrated=False, seed=s).explain(X16, 0).values, truth)
            for s in range(3)
        ]
        means.append(np.mean(cos))
    assert means[0] < means[1] < means[2]
    assert means[2] > 0.99


def test_ge_follows_the_chosen_fitness():
    model = make_mlp()
    truth = autograd_gradient(model, X16, 1, kind="logprob")
    est = GEEX(model, queries=20000, sigma=1e-2, integrated=False, fitness="logprob", seed=0).explain(X16, 1)
    assert cosine(est.values, truth) > 0.99


def test_geex_is_complete_on_a_smooth_model():
    runs = [GEEX(make_mlp(), queries=20000, sigma=0.05, seed=s).explain(X16, 0) for s in range(3)]
    assert runs[0].queries == 20002
    change = float(runs[0].score - runs[0].baseline_score)
    assert all(float(r.completeness_gap) < 0.1 * abs(change) for r in runs)
    mean_total = np.mean([float(r.totals) for r in runs])
    assert abs(mean_total - change) < 0.04 * abs(change)  # complete in expectation


def test_geex_with_resized_and_smoothed_masks_is_complete_on_a_smooth_image_model():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    w = torch.stack([torch.exp(-(xx**2 + yy**2)), torch.cos(2 * xx), torch.sin(2 * yy)]).flatten() / 300
    model = lambda x: torch.stack([torch.tanh(x.flatten(1) @ w), torch.zeros(len(x))], dim=1)  # noqa: E731
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    for options in (dict(mask_size=(8, 8)), dict(smoothing=(5, 1.0)), dict(mask_size=8, shared_mask=True)):
        exp = GEEX(model, queries=8000, sigma=0.1, fitness="logit", seed=0, **options).explain(image, 0)
        relative = float(exp.completeness_gap / (exp.score - exp.baseline_score).abs())
        assert relative < 0.1, (options, relative)


def test_bgeex_with_correlated_masks_is_complete_on_a_model_linear_in_smooth_features():
    yy, _ = torch.meshgrid(torch.linspace(0, 1, 28), torch.linspace(0, 1, 28), indexing="ij")
    w = (0.01 + 0.02 * yy).flatten()  # a weight that is smooth at every mask's scale
    model = lambda x: torch.stack([x.flatten(1) @ w, torch.zeros(len(x))], dim=1)  # noqa: E731
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    change = float(image.flatten() @ w)
    for options in (dict(mask_size=7), dict(mask_size=14), dict(smoothing=(5, 1.0))):
        exp = GEEX(model, queries=20000, distribution="bernoulli", fitness="logit", seed=0, **options).explain(image, 0)
        assert float(exp.completeness_gap) < 0.05 * change, options  # without the gain: off by 7–25×


def test_a_model_of_colour_contrast_is_explained_by_per_channel_noise_and_bernoulli_masks():
    def contrast(x):  # red minus green: the channels' gradients cancel in their sum
        s = (x[:, 0] - x[:, 1]).flatten(1).mean(1)
        return torch.stack([torch.tanh(2 * s), torch.zeros(len(x))], dim=1)

    image = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    for options in (dict(), dict(distribution="bernoulli", mask_size=4)):
        runs = [
            GEEX(contrast, queries=8000, sigma=0.1, fitness="logit", seed=s, **options).explain(image, 0)
            for s in range(3)
        ]
        change = float(runs[0].score - runs[0].baseline_score)
        assert abs(np.mean([float(r.totals) for r in runs]) - change) < 0.25 * abs(change), options
    shared = GEEX(contrast, queries=2000, sigma=0.1, fitness="logit", mask_size=4, shared_mask=True, seed=0)
    assert abs(float(shared.explain(image, 0).totals)) < 1e-6  # the documented limit of a shared Gaussian mask


def test_resized_noise_recovers_a_constant_gradient_everywhere_edges_included():
    model = lambda x: torch.stack([x.flatten(1).sum(1), torch.zeros(len(x))], dim=1)  # noqa: E731
    exp = GEEX(model, queries=4000, sigma=0.1, integrated=False, fitness="logit", mask_size=(4, 4), seed=0)
    values = exp.explain(torch.zeros(1, 16, 16), 0).values
    assert abs(float(values.mean()) - 1.0) < 0.05
    assert abs(float(values[..., 0, 0]) - 1.0) < 0.3  # a corner, where the gain is not the interior's


def test_sampler_noise_statistics():
    g = torch.Generator().manual_seed(0)
    smooth = make_sampler((1, 24, 24), smoothing=(7, 2.0)).sample(4000, g)
    assert abs(float(smooth.var()) - 1.0) < 0.05  # unit-L2 kernel keeps the variance
    assert abs(float(smooth.mean())) < 0.02
    resized = make_sampler((3, 24, 24), mask_size=(6, 6), shared=True).sample(8, g)
    assert torch.equal(resized[:, 0], resized[:, 2])  # one mask for every channel


def test_bernoulli_gain_is_the_correlation_area_of_the_thresholded_masks():
    g = torch.Generator().manual_seed(0)
    for shape, options, sharing in (((1, 28, 28), dict(mask_size=7), 1), ((3, 24, 24), dict(smoothing=(5, 1.0)), 1),
                                    ((3, 24, 24), dict(mask_size=(6, 4), shared=True), 3)):  # fmt: skip
        sampler = make_sampler(shape, **options)
        rows, cols = sampler.axes  # the separable 1-D maps reproduce the linear gain T Tᵀ 1 (per channel)
        linear_gain = torch.outer(rows @ rows.sum(0), cols @ cols.sum(0))
        torch.testing.assert_close(sampler.gain[0].double() / sharing, linear_gain, rtol=1e-5, atol=1e-6)
        signs = 2 * bernoulli(sampler.sample(20000, g))[:, 0] - 1  # one channel: shared masks repeat it
        monte_carlo = float(signs.flatten(1).sum(1).pow(2).mean()) / signs[0].numel()  # E[(Σ_p s_p)²] / pixels
        assert abs(sampler.bernoulli_gain - monte_carlo) < 0.03 * monte_carlo
    assert make_sampler((3, 8, 8)).bernoulli_gain == 1.0 == make_sampler((3, 8, 8), shared=True).bernoulli_gain


def test_features_the_model_ignores_get_near_zero_attribution():
    w = torch.cat([torch.linspace(1, 2, 8), torch.zeros(8)])
    model = lambda x: torch.stack([torch.tanh(x @ w / 8), torch.zeros(len(x))], dim=1)  # noqa: E731
    for options in (dict(), dict(integrated=False), dict(distribution="bernoulli")):
        values = GEEX(model, queries=4000, sigma=0.1, fitness="logit", seed=0, **options).explain(X16, 0).values
        assert values[8:].abs().max() < 0.1 * values[:8].abs().max(), options
    # a feature equal to its baseline gets exactly zero along the path
    x = X16.clone()
    x[3] = 0.0
    assert GEEX(model, queries=200, seed=0).explain(x, 0).values[3] == 0


def test_implementation_invariance_two_equal_models_same_attributions():
    w = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    direct = lambda x: (x @ w.T).softmax(1)  # noqa: E731
    layered = torch.nn.Sequential(
        torch.nn.Linear(16, 16, bias=False), torch.nn.Linear(16, 3, bias=False), torch.nn.Softmax(1)
    )
    with torch.no_grad():
        layered[0].weight.copy_(torch.eye(16))
        layered[1].weight.copy_(w)
    a = GEEX(direct, queries=1000, seed=7).explain(X16).values
    b = GEEX(layered.eval(), queries=1000, seed=7).explain(X16).values
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_linearity_in_the_model():
    f1, f2 = make_mlp(seed=3), make_mlp(seed=4)
    mixed = lambda x: 2.0 * f1(x) - 0.5 * f2(x)  # noqa: E731
    explain = lambda f: GEEX(f, queries=1000, fitness="logit", seed=5).explain(X16, 1).values  # noqa: E731
    torch.testing.assert_close(explain(mixed), 2.0 * explain(f1) - 0.5 * explain(f2), rtol=1e-4, atol=1e-5)


def test_bernoulli_is_complete_on_a_model_linear_in_the_features():
    w = torch.randn(16, generator=torch.Generator().manual_seed(0))
    model = lambda x: torch.stack([x @ w, torch.zeros(len(x))], dim=1)  # noqa: E731
    exp = GEEX(model, queries=20000, distribution="bernoulli", fitness="logit", seed=0).explain(X16, 0)
    assert cosine(exp.values, w * X16) > 0.99
    assert float(exp.completeness_gap) < 0.05 * float((w * X16).abs().sum())


def test_regression_is_exact_on_a_model_linear_in_the_cells_where_the_mean_is_only_close():
    w = torch.randn(3, 24, 24, generator=torch.Generator().manual_seed(0))
    model = lambda x: torch.stack([(x * w).flatten(1).sum(1), torch.zeros(len(x))], dim=1)  # noqa: E731
    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))
    cells = (w * image).view(3, 6, 4, 6, 4).sum(dim=(0, 2, 4))  # 6×6 cells of 4×4 pixels, shared by channels
    for integrated in (True, False):
        options = dict(queries=400, distribution="bernoulli", mask_size=6, fitness="logit", integrated=integrated)
        exact = GEEX(model, estimator="regression", seed=0, **options).explain(image, 0)
        mean = GEEX(model, mask_interpolation="nearest", seed=0, **options).explain(image, 0)
        found, scattered = (exp.values.sum(0).view(6, 4, 6, 4).sum(dim=(1, 3)) for exp in (exact, mean))
        torch.testing.assert_close(found, cells, atol=1e-4 * float(cells.abs().max()), rtol=0)
        assert 0.85 < cosine(scattered, cells) < 0.99  # the same expectation, but 200 pairs for 36 cells scatter
        assert float(exact.completeness_gap) < 1e-4 * float(cells.abs().sum())  # the baseline is queried either way
        assert exact.queries == 402 and exact.queries == GEEX(model, **options).cost(image)
        pixel = exact.values.sum(0)  # a cell's value spread evenly over its 16 pixels
        assert torch.allclose(pixel[:4, :4], pixel[0, 0].expand(4, 4))
    assert exact.params["estimator"] == "regression" and exact.params["mask_interpolation"] == "nearest"
    odd = torch.rand(3, 23, 17, generator=torch.Generator().manual_seed(2))  # cells of unequal sizes
    w_odd = torch.randn(3, 23, 17, generator=torch.Generator().manual_seed(3))
    linear = lambda x: torch.stack([(x * w_odd).flatten(1).sum(1), torch.zeros(len(x))], dim=1)  # noqa: E731
    exp = GEEX(
        linear, queries=200, distribution="bernoulli", estimator="regression", mask_size=(4, 5), fitness="logit", seed=0
    )
    assert float(exp.explain(odd, 0).completeness_gap) < 1e-4 * float((w_odd * odd).abs().sum())


def test_regression_with_fewer_pairs_than_cells_stays_finite_and_close_to_the_mean():
    w = torch.randn(16, generator=torch.Generator().manual_seed(0))
    model = lambda x: torch.stack([x @ w, torch.zeros(len(x))], dim=1)  # noqa: E731
    options = dict(queries=8, distribution="bernoulli", fitness="logit", seed=0)
    few = GEEX(model, estimator="regression", **options).explain(X16, 0)  # 4 pairs, 16 features: shrunk
    assert torch.isfinite(few.values).all() and cosine(few.values, w * X16) > 0.3
    many = GEEX(model, estimator="regression", **{**options, "queries": 64}).explain(X16, 0)  # 32 pairs ≥ 2 × 16
    torch.testing.assert_close(many.values, w * X16, atol=1e-4, rtol=0)


def test_regression_on_text_recovers_token_weights_from_few_queries():
    weights = {"great": 2.0, "awful": -3.0, "plot": 0.5}

    def sentiment(texts):
        score = torch.tensor([sum(weights.get(t, 0.0) for t in s.split()) for s in texts])
        return torch.stack([score, torch.zeros_like(score)], dim=1)

    explainer = GEEX(sentiment, queries=40, fitness="logit", distribution="bernoulli", estimator="regression", seed=0)
    exp = explainer.explain("a great plot but awful acting", 0)  # 20 pairs for 6 tokens (the mean: ± 0.7)
    torch.testing.assert_close(exp.values, torch.tensor([0, 2.0, 0.5, 0, -3.0, 0]), atol=1e-4, rtol=0)


def test_exact_query_counts_and_batches(logging_model):
    model = logging_model(torch.nn.Sequential(torch.nn.Linear(16, 3))).eval()
    bb = BlackBox(model, batch_size=100)
    assert GEEX(bb, queries=300, seed=0).explain(X16).queries == 302
    assert model.seen == 302 and max(model.batches) <= 100
    model.batches.clear()
    exp = GEEX(bb, queries=300, integrated=False, seed=0).explain(torch.stack([X16, -X16, X16]))
    assert exp.queries == 3 * 301 == model.seen == bb.queries - 302
    assert exp.values.shape == (3, 16) and len(exp.target) == 3


def test_budget_is_checked_before_any_query_and_keeps_finished_work(logging_model):
    model = logging_model(torch.nn.Linear(16, 3)).eval()
    with pytest.raises(QueryBudgetExceeded):
        GEEX(BlackBox(model, budget=100), queries=200).explain(X16)
    assert model.seen == 0
    explainer = GEEX(BlackBox(model, budget=450), queries=200, seed=0)
    with pytest.raises(QueryBudgetExceeded) as info:
        explainer.explain(torch.stack([X16, X16, X16]))
    done = info.value.completed
    assert done.values.shape == (2, 16) and done.queries == 404 == model.seen


def test_same_seed_is_bit_identical_and_batch_size_does_not_matter():
    model = make_mlp()
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = GEEX(model, queries=512, seed=11, batch_size=64).explain(X16).values
    again = GEEX(model, queries=512, seed=11, batch_size=64).explain(X16).values
    b = GEEX(model, queries=512, seed=11, batch_size=1000).explain(X16).values
    c = GEEX(model, queries=512, seed=12).explain(X16).values
    assert torch.equal(a, again) and not torch.equal(a, c)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)  # same noise; only float summation order differs
    assert torch.equal(torch_state, torch.get_rng_state())  # no global random state read or changed
    assert np.array_equal(numpy_state, np.random.get_state()[1])
    unseeded = GEEX(model, queries=64).explain(X16)
    again = GEEX(model, queries=64, seed=unseeded.params["seed"]).explain(X16)
    assert torch.equal(unseeded.values, again.values)  # the drawn seed is recorded


def test_a_batch_explains_each_input_as_alone():
    model = make_mlp()
    batch = torch.stack([X16, 2 * X16])
    together = GEEX(model, queries=256, seed=3).explain(batch, target=[0, 2])
    alone = GEEX(model, queries=256, seed=3).explain(X16, 0)
    torch.testing.assert_close(together[0].values, alone.values)
    assert together.target == [0, 2] and together[1].target == 2


def test_images_with_every_baseline_and_distribution():
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5)
    ).eval()
    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))
    for baseline in (0.0, "mean", "blur", torch.full((3, 24, 24), 0.5)):
        for options in (dict(), dict(mask_size=(6, 6)), dict(distribution="bernoulli", mask_size=6)):
            exp = GEEX(conv, queries=64, baseline=baseline, seed=0, **options).explain(image)
            assert exp.values.shape == image.shape and torch.isfinite(exp.values).all()
    batch = GEEX(conv, queries=64, seed=0).explain(np.stack([image.numpy()] * 2))
    assert batch.values.shape == (2, 3, 24, 24)


def test_text_attributions_per_token():
    weights = {"great": 2.0, "awful": -3.0, "plot": 0.5}

    def sentiment(texts):
        score = torch.tensor([sum(weights.get(t, 0.0) for t in s.split()) for s in texts])
        return torch.stack([score, torch.zeros_like(score)], dim=1)

    exp = GEEX(sentiment, queries=20000, fitness="logit", seed=0).explain("a great plot but awful acting", 0)
    assert exp.tokens == ["a", "great", "plot", "but", "awful", "acting"]
    # a model additive in its tokens: the values are its weights (up to Monte Carlo noise, std ~0.04)
    torch.testing.assert_close(exp.values, torch.tensor([0, 2.0, 0.5, 0, -3.0, 0]), atol=0.15, rtol=0)
    assert exp.top_tokens(1)[0][0] == "great"
    assert exp.params["distribution"] == "bernoulli" and exp.queries == 20002
    batch = GEEX(sentiment, queries=200, fitness="logit", seed=0).explain(["great", "awful plot"], 0)
    assert [len(v) for v in batch.values] == [1, 2] and batch.tokens[1] == ["awful", "plot"]


def test_text_with_a_scikit_learn_pipeline():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["great film", "wonderful great acting", "awful film", "boring awful plot", "great plot", "boring film"]
    pipe = make_pipeline(CountVectorizer(), LogisticRegression()).fit(texts, [1, 1, 0, 0, 1, 0])
    exp = GEEX(pipe, queries=400, seed=0).explain("a great but boring film", target=1)
    top, bottom = exp.top_tokens(5)[0][0], exp.top_tokens(5)[-1][0]
    assert top == "great" and bottom == "boring"


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=-1.0), "sigma"),
        (dict(queries=0), "queries"),
        (dict(queries=101), "even"),
        (dict(fitness="accuracy"), "fitness"),
        (dict(distribution="uniform"), "distribution"),
        (dict(mask_size=(0, 4)), "mask_size"),
        (dict(smoothing=(4, 1.0)), "odd"),
        (dict(mask_size=4, smoothing=(3, 1.0)), "not both"),
        (dict(estimator="median"), "estimator"),
        (dict(estimator="regression", distribution="bernoulli", smoothing=(3, 1.0)), "crisp"),
        (dict(estimator="regression", distribution="bernoulli", mask_interpolation="bilinear"), "crisp"),
        (dict(mask_interpolation="bicubic"), "mask_interpolation"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_settings_raise(options, message):
    with pytest.raises(InvalidInputError, match=message):
        GEEX(make_mlp(), **options)


def test_bad_inputs_and_models_raise_evoxplain_errors():
    model = make_mlp()
    cases = [
        (lambda: GEEX(model, queries=8).explain(torch.full((16,), float("nan"))), InvalidInputError, "NaN"),
        (lambda: GEEX(model, queries=8).explain(torch.rand(15)), ModelCallError, "shape"),
        (lambda: GEEX(model, queries=8).explain(X16, target=3), InvalidInputError, "out of range"),
        (lambda: GEEX(model, queries=8).explain(X16, target=[0, 1]), InvalidInputError, "target"),
        (lambda: GEEX(model, queries=8, mask_size=4).explain(X16), InvalidInputError, "image"),
        (lambda: GEEX(lambda x: x[:, :0], queries=8).explain(X16), ModelOutputError, "expected"),
        (lambda: GEEX(lambda x: model(x) * float("nan"), queries=8).explain(X16), ModelOutputError, "NaN"),
        (lambda: GEEX(BlackBox(model, num_classes=4), queries=8).explain(X16), ModelOutputError, "classes"),
        (lambda: GEEX(model, queries=8, baseline=torch.zeros(3)).explain(X16), InvalidInputError, "does not fit"),
        (lambda: GEEX(model, queries=8, baseline="median").explain(X16), InvalidInputError, "baseline"),
        (lambda: GEEX(model, queries=8).explain("   "), InvalidInputError, "no tokens"),
        (lambda: GEEX(model, queries=8).explain(torch.zeros(0, 16)), InvalidInputError, "at least one"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert issubclass(error, EvoxplainError)


def test_regression_with_gaussian_noise_cannot_be_constructed():
    blackbox = BlackBox(make_mlp())
    with pytest.raises(InvalidInputError, match="distribution='bernoulli'"):
        GEEX(blackbox, queries=8, estimator="regression")
    assert blackbox.queries == 0


def test_explanation_round_trips_through_a_file(tmp_path):
    exp = GEEX(make_mlp(), queries=64, seed=0).explain(X16)
    exp.save(tmp_path / "e.evx")
    from evoxplain import Explanation

    back = Explanation.load(tmp_path / "e.evx")
    assert torch.equal(back.values, exp.values) and back.params == exp.params and back.target == exp.target


def test_recommended_settings_by_input_size():
    from evoxplain import recommended_settings

    small = recommended_settings((1, 28, 28))  # half-size cells, fitted by least squares, absent = black
    assert small == dict(
        distribution="bernoulli",
        mask_size=(14, 14),
        estimator="regression",
        integrated=False,
        baseline=0.0,
        design="orthogonal",
    )
    assert recommended_settings((3, 32, 48))["mask_size"] == (16, 24)
    large = recommended_settings((3, 224, 224))  # 16-pixel cells, fitted by least squares at full strength
    assert large == dict(
        distribution="bernoulli",
        mask_size=(14, 14),
        estimator="regression",
        integrated=False,
        baseline="blur",
        design="orthogonal",
    )
    assert recommended_settings((3, 480, 640))["mask_size"] == (14, 19)  # 14 cells along the shorter side
    assert recommended_settings((3, 65, 65))["mask_size"] == (14, 14)  # just over the small-image side
    assert recommended_settings((1, 5, 600))["mask_size"] == (5, 600)  # never more cells than pixels
    row = {"distribution": "bernoulli", "estimator": "regression", "integrated": False, "design": "orthogonal"}
    assert recommended_settings((12,)) == row  # tables: the held-out choice of benchmarks/tabular.py
    assert "estimator" not in recommended_settings((5000,))  # wider than the regression fits: the mean
    assert recommended_settings("a sentence", queries=1000) == {"design": "orthogonal"}  # text
    # with a budget: 28 cells along the shorter side once there are two mirrored pairs per cell
    assert recommended_settings((3, 224, 224), queries=4 * 28 * 28 - 2)["mask_size"] == (14, 14)
    assert recommended_settings((3, 224, 224), queries=4 * 28 * 28)["mask_size"] == (28, 28)
    assert recommended_settings((3, 480, 640), queries=4 * 28 * 37)["mask_size"] == (28, 37)
    assert recommended_settings((3, 480, 640), queries=4 * 28 * 28)["mask_size"] == (14, 19)  # 28×37 cells need more
    # a small image: one cell per pixel once there are two mirrored pairs per pixel (3136 queries for 28×28)
    assert recommended_settings((1, 28, 28), queries=4 * 28 * 28 - 2)["mask_size"] == (14, 14)
    assert recommended_settings((1, 28, 28), queries=4 * 28 * 28) == {**small, "mask_size": (28, 28)}
    assert recommended_settings((3, 32, 48), queries=4 * 32 * 48 - 2)["mask_size"] == (16, 24)
    assert recommended_settings((3, 32, 48), queries=4 * 32 * 48)["mask_size"] == (32, 48)
    assert recommended_settings((3, 64, 64), queries=4 * 64 * 64)["mask_size"] == (64, 64)  # the regression's most
    assert recommended_settings((12,), queries=5000) == row
    for bad in (0, -2, 2.5, True):
        with pytest.raises(InvalidInputError, match="queries"):
            recommended_settings((3, 224, 224), queries=bad)
    with pytest.raises(InvalidInputError, match="shape"):
        recommended_settings((3, 0, 28))
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    exp = GEEX(
        lambda x: x.flatten(1)[:, :3].softmax(1), queries=64, seed=0, **recommended_settings(image.shape)
    ).explain(image)
    assert exp.params["distribution"] == "bernoulli" and exp.params["mask_size"] == (14, 14)
    assert exp.values.shape == image.shape
