"""The competing methods (LIME, KernelSHAP, Occlusion, RISE; Saliency, IG, SmoothGrad) behind GEEX's interface."""

import pytest
import torch

from evoxplain import BlackBox, InvalidInputError, QueryBudgetExceeded
from evoxplain.attribution.captum_methods import LIME, KernelSHAP, Occlusion
from evoxplain.attribution.rise import RISE
from evoxplain.attribution.superpixels import grid_mask, spread
from evoxplain.attribution.whitebox import IntegratedGradients, Saliency, SmoothGrad
from evoxplain.metrics import aopc_deletion

GEN = torch.Generator().manual_seed(0)
# a known weight pattern, constant on 2×2 superpixels of a 1×8×8 image
WEIGHTS = torch.randn(1, 4, 4, generator=GEN).repeat_interleave(2, 1).repeat_interleave(2, 2)
IMAGE = 0.5 + 0.5 * torch.rand(1, 8, 8, generator=GEN)
IDS = grid_mask((1, 8, 8), 2)


class LinearScore(torch.nn.Module):
    """Logits [w·x, −w·x]: the logit of class 0 is linear, its true contributions w ⊙ (x − x̊)."""

    def __init__(self, weights=WEIGHTS):
        super().__init__()
        self.weights = weights
        self.eval()

    def forward(self, x):
        s = (x * self.weights).flatten(1).sum(1)
        return torch.stack([s, -s], dim=1)


def group_sums(values):
    return torch.bincount(IDS.flatten(), weights=values.flatten().double(), minlength=16)


def corr(a, b):
    return float(torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1])


# (method, settings, queries for one 1×8×8 image)
BLACK = [
    (LIME, {"queries": 300, "superpixel": 2}, 301),
    (KernelSHAP, {"queries": 300, "superpixel": 2}, 300),
    (Occlusion, {"window": 4, "stride": 2}, 1 + 3 * 3),
    (RISE, {"queries": 300, "cell": 2}, 301),
]
WHITE = [
    (Saliency, {}, 2),
    (IntegratedGradients, {"steps": 20}, 22),
    (SmoothGrad, {"samples": 30}, 31),
]
ALL = BLACK + WHITE


def names(cases):
    return [case[0].__name__ for case in cases]


@pytest.mark.parametrize("method,settings,cost", ALL, ids=names(ALL))
def test_query_counts_are_exact_and_batched(method, settings, cost, logging_model):
    model = logging_model(LinearScore()).eval()
    bb = BlackBox(model, output="logits", batch_size=16)
    exp = method(bb, seed=0, **settings).explain(IMAGE)
    assert exp.queries == bb.queries == model.seen == cost
    assert max(model.batches) <= 16
    assert exp.params["access"] == ("white-box" if (method, settings, cost) in WHITE else "black-box")
    batch = torch.stack([IMAGE, 1 - IMAGE, IMAGE.flip(-1)])
    exp = method(bb, seed=0, **settings).explain(batch, target=[0, 1, 0])
    assert exp.queries == 3 * cost and model.seen == 4 * cost
    assert exp.values.shape == batch.shape and exp.target == [0, 1, 0]


@pytest.mark.parametrize(
    "method,settings",
    [
        (Occlusion, {"window": 2, "stride": 2}),
        (KernelSHAP, {"queries": 200, "superpixel": 2}),
        (LIME, {"queries": 400, "superpixel": 2}),
        (RISE, {"queries": 4000, "cell": 1}),  # cell 1: independent pixels, unsmoothed
    ],
    ids=["Occlusion", "KernelSHAP", "LIME", "RISE"],
)
def test_black_box_methods_rank_the_true_superpixels_of_a_linear_model(method, settings):
    exp = method(LinearScore(), fitness="logit", seed=0, **settings).explain(IMAGE, target=0)
    truth = group_sums(WEIGHTS * IMAGE)
    assert corr(group_sums(exp.values), truth) > 0.9
    assert int(group_sums(exp.values).argmax()) == int(truth.argmax())
    if method is Occlusion:  # window = stride = superpixel: each pixel gets its square's exact drop
        torch.testing.assert_close(exp.values, spread(truth.float(), IDS) * 4)


def test_kernel_shap_is_complete_on_a_linear_model():
    exp = KernelSHAP(LinearScore(), queries=200, superpixel=2, fitness="logit", seed=0).explain(IMAGE, 0)
    assert float(exp.completeness_gap) < 1e-3
    torch.testing.assert_close(group_sums(exp.values), group_sums(WEIGHTS * IMAGE), atol=1e-3, rtol=1e-3)


def test_integrated_gradients_is_exact_and_complete_on_a_linear_model():
    exp = IntegratedGradients(LinearScore(), fitness="logit", baseline=0.0).explain(IMAGE, target=0)
    torch.testing.assert_close(exp.values, WEIGHTS * IMAGE)
    assert float(exp.completeness_gap) < 1e-4
    assert exp.queries == 52 and exp.params["steps"] == 50


def test_gradients_of_the_chosen_fitness():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    x = IMAGE.clone().requires_grad_(True)
    model(x[None]).log_softmax(1)[0, 2].backward()
    exp = Saliency(model, absolute=False, fitness="logprob").explain(IMAGE, target=2)
    torch.testing.assert_close(exp.values, x.grad)
    torch.testing.assert_close(Saliency(model, fitness="logprob").explain(IMAGE, target=2).values, x.grad.abs())


@pytest.mark.parametrize(
    "method,settings",
    [
        (LIME, {"queries": 60, "superpixel": 2}),
        (KernelSHAP, {"queries": 60, "superpixel": 2}),
        (RISE, {"queries": 60, "cell": 2}),
        (SmoothGrad, {"samples": 8}),
    ],
    ids=["LIME", "KernelSHAP", "RISE", "SmoothGrad"],
)
def test_seeded_runs_are_identical_and_leave_the_global_rng_alone(method, settings):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
    model.eval()
    torch.manual_seed(1)
    before = torch.get_rng_state()
    first = method(model, seed=7, **settings).explain(IMAGE)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(2)  # another global state must not change a seeded result
    again = method(model, seed=7, **settings).explain(IMAGE)
    other = method(model, seed=8, **settings).explain(IMAGE)
    assert torch.equal(first.values, again.values) and first.params["seed"] == 7
    assert not torch.equal(first.values, other.values)
    unseeded = method(model, **settings).explain(IMAGE)
    assert isinstance(unseeded.params["seed"], int)


def test_rise_does_not_depend_on_batch_size_and_follows_its_formula():
    small = RISE(BlackBox(LinearScore(), batch_size=7), queries=100, cell=2, seed=3).explain(IMAGE, 0)
    large = RISE(BlackBox(LinearScore(), batch_size=500), queries=100, cell=2, seed=3).explain(IMAGE, 0)
    torch.testing.assert_close(small.values, large.values)
    # the masks the explanation used, re-drawn: S = Σ f(x ⊙ M) M / (N p)
    explainer = RISE(LinearScore(), queries=100, cell=2)
    generator = torch.Generator().manual_seed(_sub_seed(3, 0))
    masks = torch.cat(
        [explainer.masks(32, (8, 8), generator) for _ in range(3)] + [explainer.masks(4, (8, 8), generator)]
    )
    probs = LinearScore()(IMAGE * masks[:, None]).softmax(1)[:, 0]
    expected = (probs @ masks.flatten(1)).view(1, 8, 8) / 50
    torch.testing.assert_close(small.values, expected)
    assert masks.min() >= 0 and masks.max() <= 1 and 0.3 < float(masks.mean()) < 0.7


def _sub_seed(seed, i):
    import numpy as np

    return int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0] >> 2)


@pytest.mark.parametrize("method,settings,cost", BLACK, ids=names(BLACK))
def test_rows_each_feature_its_own_group(method, settings, cost):
    weights = torch.tensor([3.0, -2.0, 0.0, 1.0, 0.5, -0.5])
    model = lambda x: torch.stack([x @ weights, torch.zeros(len(x))], 1)
    settings = {k: v for k, v in settings.items() if k not in ("superpixel", "cell", "window", "stride")}
    explainer = method(BlackBox(model, output="logits"), fitness="logit", seed=0, **settings)
    row = torch.ones(6)
    exp = explainer.explain(row, target=0)
    assert exp.values.shape == (6,) and exp.target == 0
    assert corr(exp.values, weights) > 0.9
    batch = explainer.explain(torch.ones(4, 6), target=0)
    assert batch.values.shape == (4, 6) and batch.target == [0] * 4
    if method is Occlusion:
        assert exp.queries == 7
        torch.testing.assert_close(exp.values, weights)


def _sklearn_model():
    from sklearn.linear_model import LogisticRegression

    X = torch.randn(20, 64, generator=torch.Generator().manual_seed(0)).numpy()
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit
@pytest.mark.parametrize("method", [Saliency, IntegratedGradients, SmoothGrad])
def test_white_box_methods_refuse_models_they_cannot_differentiate(method, tmp_path):
    scripted = torch.jit.script(LinearScore())
    path = tmp_path / "model.pt"
    scripted.save(str(path))
    for model in (
        lambda x: LinearScore()(x),
        BlackBox(lambda x: LinearScore()(x)),
        _sklearn_model(),
        str(path),
    ):
        with pytest.raises(InvalidInputError, match="white-box access to a torch.nn.Module"):
            method(model)
    method(BlackBox(LinearScore()))  # a BlackBox of a module is fine


def test_aopc_of_integrated_gradients_beats_a_random_attribution():
    # a small nonlinear net that looks at a few strong pixels of each image
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        with torch.no_grad():
            net[1].weight.mul_(torch.rand(16, 64) < 0.2).mul_(4)
    net.eval()
    images = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    bb = BlackBox(net, output="logits")
    ig = IntegratedGradients(bb, steps=32).explain(images)
    random = torch.rand(images.shape, generator=torch.Generator().manual_seed(2))
    ig_score = aopc_deletion(bb, images, ig, stride=4).score
    random_score = aopc_deletion(bb, images, random, stride=4).score
    assert ig_score > random_score + 0.05


def test_budget_is_checked_before_any_query(logging_model):
    model = logging_model(LinearScore()).eval()
    bb = BlackBox(model, budget=100)
    with pytest.raises(QueryBudgetExceeded):
        LIME(bb, queries=200, superpixel=2, seed=0).explain(IMAGE)
    with pytest.raises(QueryBudgetExceeded):
        IntegratedGradients(bb, steps=99).explain(IMAGE)
    assert model.seen == 0
    with pytest.raises(QueryBudgetExceeded) as caught:  # 5 of 7 inputs fit in the budget
        Occlusion(bb, window=2, stride=2).explain(torch.stack([IMAGE] * 7))
    assert len(caught.value.completed) == 5 and model.seen == 5 * 17


def test_settings_and_inputs_are_checked_with_clear_messages():
    model = LinearScore()
    for make, message in [
        (lambda: KernelSHAP(model, queries=1), "queries"),
        (lambda: LIME(model, alpha=-1), "alpha"),
        (lambda: RISE(model, p=1.0), "probability"),
        (lambda: Occlusion(model, window=0), "window"),
        (lambda: IntegratedGradients(model, method="simpson"), "method"),
        (lambda: SmoothGrad(model, stdev=0), "stdev"),
        (lambda: LIME(model, seed=-1), "seed"),
        (lambda: RISE(model, baseline="zero"), "baseline"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            make()
    with pytest.raises(InvalidInputError, match="larger than the input"):
        Occlusion(model, window=9).explain(IMAGE)
    with pytest.raises(InvalidInputError, match="larger than the image"):
        KernelSHAP(model, superpixel=9).explain(IMAGE)
    with pytest.raises(InvalidInputError, match="must not exceed the window"):
        Occlusion(model, window=2, stride=3).explain(IMAGE)
    with pytest.raises(InvalidInputError, match="out of range"):
        RISE(model, queries=10).explain(IMAGE, target=5)
    with pytest.warns(UserWarning, match="every coefficient to 0"):  # Captum's Lasso default on probabilities
        LIME(model, queries=50, superpixel=2, alpha=0.01, seed=0).explain(IMAGE * 0.01)
    with pytest.raises(InvalidInputError, match="text with GEEX"):
        LIME(model).explain("a sentence")
    with pytest.raises(InvalidInputError, match="NaN"):
        Saliency(model).explain(torch.full((1, 8, 8), float("nan")))
