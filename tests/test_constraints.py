"""Settings in one place: the constraints every constructor uses, and the parts GEEX is built from."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from evoxplain import GEEX, BlackBox, InvalidInputError
from evoxplain.attribution import LIME, RISE, IntegratedGradients, Occlusion, SmoothGrad
from evoxplain.attribution.perturbations import BernoulliMasks, GaussianNoise, Layout
from evoxplain.constraints import Boolean, Checked, Integer, OneOf, Optional, Pair, Real, Tuple, check_all
from evoxplain.exemplars import CMAESSearch, ExemplarSearch, GradientSearch, RandomSearch, SearchSettings

NUMBERS = [np.float32(0.25), np.float64(0.25), np.int64(3), np.int32(3), 3, 0.25]
NOT_NUMBERS = [True, False, np.bool_(True), "0.25", None, [0.25], float("nan"), float("inf"), -float("inf")]


def test_reals_take_numpy_scalars_and_refuse_bools_strings_and_non_finite_values():
    positive = Real(low=0, low_open=True)
    for value in NUMBERS:
        out = positive.check("sigma", value)
        assert type(out) is float and out == float(value)
    for value in NOT_NUMBERS:
        with pytest.raises(InvalidInputError, match=r"^sigma must be a positive number, not "):
            positive.check("sigma", value)
    with pytest.raises(InvalidInputError, match="sigma"):
        positive.check("sigma", 0.0)  # the open end
    unit = Real(0, 1, low_open=True)
    assert unit.check("p", 1) == 1.0 and "(0, 1]" in unit.what
    for value in (0, 1.0001, -0.5):
        with pytest.raises(InvalidInputError, match=r"p must be a number in \(0, 1\]"):
            unit.check("p", value)


def test_integers_take_numpy_integers_and_refuse_floats_and_bools():
    count = Integer(low=1)
    for value in (np.int64(64), np.int32(64), np.uint8(64), 64):
        out = count.check("batch_size", value)
        assert type(out) is int and out == 64
    for value in (7.0, np.float32(7), True, np.bool_(True), "7", 0, -3, None):
        with pytest.raises(InvalidInputError, match=r"^batch_size must be a positive integer, not "):
            count.check("batch_size", value)
    even = Integer(low=2, even=True, hint="queries come in mirrored pairs")
    assert even.check("queries", np.int64(10)) == 10
    with pytest.raises(InvalidInputError, match=r"an even integer >= 2 \(queries come in mirrored pairs\), not 7"):
        even.check("queries", 7)
    assert Integer(low=1, odd=True).check("k", 3) == 3
    with pytest.raises(InvalidInputError, match="odd"):
        Integer(low=1, odd=True).check("k", 4)
    with pytest.raises(InvalidInputError, match=r"in \[0, 5\]"):
        Integer(0, 5).check("k", 6)


def test_names_booleans_optionals_pairs_and_tuples():
    design = OneOf("random", "orthogonal")
    assert design.check("design", "random") == "random"
    for value in ("Random", 0, None, True):
        with pytest.raises(InvalidInputError, match=r"design must be one of 'random', 'orthogonal', not "):
            design.check("design", value)
    assert Boolean().check("integrated", np.bool_(False)) is False
    for value in ("no", 0, 1, None, "False"):
        with pytest.raises(InvalidInputError, match="integrated must be True or False"):
            Boolean().check("integrated", value)
    size = Optional(Pair(Integer(low=1)))
    assert size.check("mask_size", None) is None
    assert size.check("mask_size", np.int64(7)) == (7, 7) and size.check("mask_size", [4, 5]) == (4, 5)
    for value in (7.0, (7, 7.0), (7,), (1, 2, 3), (0, 4), "7"):
        with pytest.raises(InvalidInputError, match="mask_size must be a positive integer or a pair"):
            size.check("mask_size", value)
    kernel = Tuple(Integer(low=1, odd=True), Real(low=0, low_open=True), names=("kernel_size", "sigma"))
    assert kernel.check("smoothing", (5, np.float32(1))) == (5, 1.0)
    for value in ((4, 1.0), (5, 0.0), (5,), 5):
        with pytest.raises(InvalidInputError, match="smoothing must be a tuple"):
            kernel.check("smoothing", value)


def test_check_all_normalises_and_refuses_unknown_names():
    table = {"queries": Integer(low=2, even=True), "sigma": Real(low=0, low_open=True)}
    assert check_all(table, sigma=np.float32(0.5), queries=np.int64(8)) == {"queries": 8, "sigma": 0.5}
    with pytest.raises(InvalidInputError, match="unknown setting 'sigmaa'"):
        check_all(table, sigmaa=0.5)


def test_a_checked_dataclass_normalises_its_fields():
    @dataclass(frozen=True)
    class Budget(Checked):
        queries: int = 100
        share: float = 0.5
        constraints = {"queries": Integer(low=1), "share": Real(0, 1)}

    b = Budget(np.int64(5), np.float32(0.25))
    assert (b.queries, b.share) == (5, 0.25) and type(b.queries) is int and type(b.share) is float
    with pytest.raises(InvalidInputError, match="share"):
        Budget(5, 1.5)


def _same(a, b) -> bool:
    return torch.equal(a.values, b.values) and torch.equal(a.stderr, b.stderr)


def test_numpy_settings_give_the_same_explanations_as_python_ones():
    model = torch.nn.Linear(6, 3).eval()
    x = torch.rand(6, generator=torch.Generator().manual_seed(0))
    plain = GEEX(BlackBox(model, batch_size=64), queries=64, sigma=0.25, seed=0).explain(x)
    typed = GEEX(BlackBox(model, batch_size=np.int64(64)), queries=np.int64(64), sigma=np.float32(0.25), seed=0)
    assert _same(plain, typed.explain(x))
    assert RISE(model, queries=np.int64(20), p=np.float32(0.5), seed=np.int64(1)).explain(x).queries == 21


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda m: GEEX(m, mask_size=7.0), "mask_size"),
        (lambda m: GEEX(m, integrated="no"), "integrated"),
        (lambda m: GEEX(m, shared_mask="yes"), "shared"),
        (lambda m: GEEX(m, batch_size=True), "batch_size"),
        (lambda m: GEEX(m, progress=1), "progress"),
        (lambda m: RISE(m, cell=2.5), "cell"),
        (lambda m: LIME(m, superpixel=True), "superpixel"),
        (lambda m: Occlusion(m, window=(2, 0)), "window"),
        (lambda m: IntegratedGradients(m, steps=10.0), "steps"),
        (lambda m: SmoothGrad(m, stdev=np.nan), "stdev"),
        (lambda m: BlackBox(m, budget=True), "budget"),
        (lambda m: BlackBox(m, num_classes=2.0), "num_classes"),
        (lambda m: BlackBox(m, allow_pickle="yes"), "allow_pickle"),
    ],
)
def test_every_constructor_refuses_in_one_voice(make, name):
    with pytest.raises(InvalidInputError, match=rf"^{name} must be .*, not "):
        make(torch.nn.Linear(4, 2).eval())


def test_geex_parts_make_invalid_combinations_unconstructable():
    model = torch.nn.Linear(4, 2).eval()
    with pytest.raises(InvalidInputError, match="distribution='bernoulli'"):
        GEEX(model, estimator="regression")  # Gaussian noise has no estimator to choose
    for layout in (Layout(mask_size=4, interpolation="bilinear"), Layout(smoothing=(3, 1.0))):
        with pytest.raises(InvalidInputError, match="crisp"):
            BernoulliMasks(layout=layout, estimator="regression")
    with pytest.raises(InvalidInputError, match="not both"):
        Layout(mask_size=4, smoothing=(3, 1.0))
    with pytest.raises(InvalidInputError, match="sigma"):
        GaussianNoise(sigma=-1.0)
    fitted = GEEX(model, distribution="bernoulli", estimator="regression", mask_size=4)
    assert isinstance(fitted.perturbation, BernoulliMasks) and fitted.perturbation.layout.crisp
    assert (fitted.mask_interpolation, fitted.mask_size, fitted.sigma) == ("nearest", (4, 4), 0.2)
    assert isinstance(GEEX(model).perturbation, GaussianNoise) and GEEX(model).estimator == "mean"
    keys = ("queries", "sigma", "integrated", "mask_size", "mask_interpolation", "smoothing", "distribution")
    assert set(keys) | {"estimator", "design", "shared_mask"} <= set(fitted._params)


def _problem():
    weight = torch.tensor([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]])
    model = torch.nn.Linear(3, 3).eval()
    with torch.no_grad():
        model.weight.copy_(weight)
        model.bias.copy_(torch.tensor([0.0, -6, -6]))
    return model, (lambda z: z)


@pytest.mark.parametrize(
    ("search", "own"),
    [
        (ExemplarSearch, dict(children=3, step=0.4, momentum=0.2)),
        (RandomSearch, {}),
        (CMAESSearch, dict(sigma0=1.0)),
        (GradientSearch, dict(method="adam", lr=0.2)),
    ],
)
def test_every_search_takes_the_shared_settings_as_one_object_or_as_keywords(search, own):
    model, generator = _problem()
    shared = dict(population=12, elite=3, max_queries=600, seed=np.int64(4), confidence=np.float32(0.9))
    by_keywords = search(model, generator, 3, **own, **shared).run_many([1, 2])
    settings = SearchSettings(**shared)
    by_object = search(model, generator, 3, **own, settings=settings).run_many([1, 2])
    for a, b in zip(by_keywords, by_object):
        assert torch.equal(a.latent, b.latent) and a.queries == b.queries and a.params == b.params
    assert by_keywords[0].params["population"] == 12 and type(by_keywords[0].params["seed"]) is int
    overridden = search(model, generator, 3, **own, settings=settings, elite=2)
    assert overridden.settings.elite == 2 and overridden.settings.population == 12
    with pytest.raises(InvalidInputError, match="unknown setting 'populaton'"):
        search(model, generator, 3, populaton=12)


def test_shared_settings_are_checked_once_for_every_search():
    model, generator = _problem()
    for search in (ExemplarSearch, RandomSearch, CMAESSearch, GradientSearch):
        with pytest.raises(InvalidInputError, match="elite"):
            search(model, generator, 3, population=4, elite=5)
        with pytest.raises(InvalidInputError, match="max_queries"):
            search(model, generator, 3, population=50, max_queries=10)
        with pytest.raises(InvalidInputError, match="confidence must be a number in"):
            search(model, generator, 3, confidence=True)
        with pytest.raises(InvalidInputError, match="latent_dim"):
            search(model, generator, 3.0)
    assert GradientSearch(model, generator, 3).settings.population == 1  # its own default
    with pytest.raises(InvalidInputError, match="momentum"):
        ExemplarSearch(model, generator, 3, momentum=1.0)
    with pytest.raises(InvalidInputError, match="cma_options"):
        CMAESSearch(model, generator, 3, cma_options=[1])
    assert math.isclose(CMAESSearch(model, generator, 3, init_range=3.0).sigma0, 1.5)
