"""Warnings where the numbers are not what they seem: their thresholds on hand-built explanations,
and on real explainers of models whose answer is known."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from evoxplain import GEEX, Explanation, IntegratedGradients
from evoxplain.diagnostics import (
    COMPLETENESS_TOLERANCE,
    NOISE_SHARE,
    SCALE_RATIO,
    EvoxplainWarning,
    completeness,
    diagnose,
    feature_scale,
    noise,
)
from evoxplain.progress import progress_bars


def made(values, score=1.0, baseline_score=0.0, stderr=None, method="GEEX", **params) -> Explanation:
    params = {"integrated": True, "distribution": "gaussian", **params}
    return Explanation(
        values=torch.tensor(values),
        target=0,
        queries=1,
        seconds=0.0,
        method=method,
        params=params,
        score=torch.tensor(score),
        baseline_score=None if baseline_score is None else torch.tensor(baseline_score),
        stderr=None if stderr is None else torch.tensor(stderr),
    )


def test_completeness_warns_past_the_stated_fraction_of_the_change():
    change = 0.5
    inside = change * (1 + COMPLETENESS_TOLERANCE * 0.9)
    outside = change * (1 + COMPLETENESS_TOLERANCE * 1.1)
    assert completeness(made([inside / 2, inside / 2], score=change)) is None
    message = completeness(made([outside / 2, outside / 2], score=change))
    assert "more than 10% of the change" in message and "more queries or a smaller sigma" in message
    assert "standardise" not in message  # an image, say: standardising is no fix
    assert "standardise the features" in completeness(made([outside / 2, outside / 2], score=change), torch.zeros(2))
    assert "more steps" in completeness(made([1.0, 1.0], method="IntegratedGradients", integrated=None))
    # Bernoulli masks (complete only for additive models), GE and explanations without a baseline: no warning
    assert completeness(made([1.0, 1.0], distribution="bernoulli")) is None
    assert completeness(made([1.0, 1.0], integrated=False)) is None
    assert completeness(made([1.0, 1.0], baseline_score=None)) is None


def test_feature_scale_warns_for_rows_far_larger_than_sigma_and_says_how_to_standardise():
    sigma = 0.2
    assert feature_scale(torch.tensor([SCALE_RATIO * sigma * 0.99, -3.0, 0.0]), sigma) is None
    message = feature_scale(torch.tensor([39.0, 0.5, -77516.0]), sigma)
    assert message.startswith("features 0 (39), 2 (-77516) are more than 50 × sigma = 0.2")
    assert "StandardScaler" in message
    assert feature_scale(torch.full((1, 28, 28), 100.0), sigma) is None  # images: not rows of features
    assert feature_scale(torch.tensor([1000.0]), None) is None  # no Gaussian search


def test_noise_warns_when_few_values_stand_two_standard_errors_from_zero():
    n = 100
    stderr = [1.0] * n
    few = [3.0] * int(NOISE_SHARE * n - 1) + [0.5] * (n - int(NOISE_SHARE * n - 1))
    enough = [3.0] * int(NOISE_SHARE * n) + [0.5] * (n - int(NOISE_SHARE * n))
    assert "only 9% of the values" in noise(made(few, stderr=stderr))
    assert noise(made(enough, stderr=stderr)) is None
    assert noise(made(few)) is None  # no standard errors
    assert noise(made(few, stderr=[float("nan")] * n)) is None  # not estimable: the summary says so


def test_an_unscaled_pipeline_warns_twice_and_a_standardised_one_not_at_all():
    """The issue's case: Pipeline(StandardScaler, LogisticRegression) explained on raw columns."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    raw = np.column_stack([rng.normal(40, 12, 500), rng.normal(2e5, 1e5, 500), rng.normal(10, 3, 500)])
    labels = (raw[:, 0] / 12 + raw[:, 2] / 3 + rng.normal(0, 1, 500) > 40 / 12 + 10 / 3).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(raw, labels)
    row = torch.tensor(raw[0], dtype=torch.float32)
    with pytest.warns(EvoxplainWarning) as caught:
        exp = GEEX(pipeline, queries=400, seed=0).explain(row)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("features 0 (") and "StandardScaler" in m for m in messages)
    assert float(exp.values.abs().max()) > 1  # values larger than any probability change: the warned nonsense

    scaler, model = pipeline[0], pipeline[1]
    scaled = torch.tensor(scaler.transform(raw[:1])[0], dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvoxplainWarning)
        exp = GEEX(model, queries=4000, seed=0).explain(scaled)
    assert float(exp.completeness_gap) < COMPLETENESS_TOLERANCE * abs(float(exp.score - exp.baseline_score))


def test_integrated_gradients_with_too_few_steps_warn():
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).eval()
    with torch.no_grad():
        model[0].weight.mul_(6)
    x = torch.tensor([1.0, -1.0, 0.5])
    with pytest.warns(EvoxplainWarning, match="Use more steps"):
        IntegratedGradients(model, steps=2, method="riemann_left").explain(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvoxplainWarning)
        IntegratedGradients(model, steps=200).explain(x)


def test_diagnose_names_the_input_of_a_batch():
    batch = Explanation(
        values=torch.tensor([[0.5, 0.5], [2.0, 2.0]]),
        target=[0, 0],
        queries=2,
        seconds=0.0,
        method="GEEX",
        params={"integrated": True, "distribution": "gaussian"},
        score=torch.tensor([1.0, 1.0]),
        baseline_score=torch.tensor([0.0, 0.0]),
    )
    with pytest.warns(EvoxplainWarning):
        messages = diagnose(batch, [torch.zeros(2), torch.zeros(2)], sigma=0.2)
    assert len(messages) == 1 and messages[0].startswith("input 1: the values add up to 4")


def test_progress_bars_are_shown_inside_the_block_only(capsys):
    model = torch.nn.Linear(4, 2).eval()
    GEEX(model, queries=20, seed=0).explain(torch.zeros(4))
    assert "query" not in capsys.readouterr().err
    with progress_bars():
        GEEX(model, queries=20, seed=0).explain(torch.zeros(4))
    assert "22/22" in capsys.readouterr().err  # every query, the input's and the baseline's included
