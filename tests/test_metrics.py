"""AOPC deletion / insertion against a slow pixel-by-pixel reference, fidelity and axioms."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from evoxplain.baseline import blur_parameters, gaussian_blur
from evoxplain.blackbox import BlackBox
from evoxplain.errors import InvalidInputError, QueryBudgetExceeded
from evoxplain.explanation import Explanation
from evoxplain.metrics import (
    aopc_deletion,
    aopc_insertion,
    completeness_error,
    gradient_fidelity,
    ignored_feature_share,
)


class TinyCNN:
    """A fixed random conv net (3 → 5 classes), weights from a local generator; counts queries."""

    def __init__(self, channels: int = 3, size: int = 6, classes: int = 5, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.conv = torch.randn(4, channels, 3, 3, generator=g) * 0.5
        self.fc = torch.randn(classes, 4 * size * size, generator=g) * 0.3
        self.calls: list[int] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        h = F.relu(F.conv2d(x.double(), self.conv.double(), padding=1))
        return (h.flatten(1) @ self.fc.double().T).float()


def slow_curve(model, image, attribution, replacement, stride, target, kind):
    """One pixel write at a time, one query per step: the plain definition of the reference evaluation."""
    _, h, w = image.shape
    score = attribution.reshape(-1, h, w).mean(0).flatten().tolist()
    order = sorted(range(h * w), key=lambda p: (-score[p], p))
    counts = list(range(0, h * w, stride)) + [h * w]
    curve = []
    for k in counts:
        if kind == "deletion":
            z = image.clone()
            for p in order[:k]:
                z[:, p // w, p % w] = replacement[:, p // w, p % w]
        else:
            z = replacement.clone()
            for p in order[:k]:
                z[:, p // w, p % w] = image[:, p // w, p % w]
        logits = model(z.unsqueeze(0))
        curve.append(float(logits.softmax(1)[0, target]))
    return curve


def slow_aopc(model, images, attributions, replacement, stride, kind):
    curves = []
    for i in range(len(images)):
        target = int(model(images[i : i + 1]).argmax(1))
        curves.append(slow_curve(model, images[i], attributions[i], replacement[i], stride, target, kind))
    curves = torch.tensor(curves, dtype=torch.float64)
    mean = curves.mean(0)
    score = 1 - mean.mean() / mean[0] if kind == "deletion" else mean.mean() / mean[-1]
    return curves, float(score)


@pytest.fixture
def case():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 6, 6, generator=g)
    a = torch.randn(3, 3, 6, 6, generator=g)
    a[0, :, :2, :] = 0.0  # ties: broken by flat index
    return TinyCNN(), x, a


@pytest.mark.parametrize("kind", ["deletion", "insertion"])
@pytest.mark.parametrize("stride", [1, 5, 7])
def test_matches_slow_reference(case, kind, stride):
    model, x, a = case
    fn = aopc_deletion if kind == "deletion" else aopc_insertion
    res = fn(BlackBox(model, output="logits", batch_size=8), x, a, replacement=0.25, stride=stride)
    curves, score = slow_aopc(model, x, a, torch.full_like(x, 0.25), stride, kind)
    torch.testing.assert_close(res.curves.double(), curves, atol=1e-5, rtol=0)
    assert res.score == pytest.approx(score, abs=1e-5)
    assert res.steps.tolist() == list(range(0, 36, stride)) + [36]
    assert res.fractions[0] == 0 and res.fractions[-1] == 1
    per = 1 - curves.mean(1) / curves[:, 0] if kind == "deletion" else curves.mean(1) / curves[:, -1]
    torch.testing.assert_close(res.per_instance.double(), per, atol=1e-5, rtol=0)


def test_blur_and_tensor_replacement_match_reference(case):
    model, x, a = case
    blurred = gaussian_blur(x)
    res = aopc_deletion(model, x, a, replacement="blur", stride=4)
    curves, score = slow_aopc(model, x, a, blurred, 4, "deletion")
    torch.testing.assert_close(res.curves.double(), curves, atol=1e-5, rtol=0)
    # a (C, H, W) tensor broadcast to every image
    fill = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(5))
    res = aopc_insertion(model, x, a[:, :1], replacement=fill, stride=4)  # (N, 1, H, W) attributions
    curves, score = slow_aopc(model, x, a[:, :1].expand_as(x), fill.expand_as(x), 4, "insertion")
    torch.testing.assert_close(res.curves.double(), curves, atol=1e-5, rtol=0)
    assert res.score == pytest.approx(score, abs=1e-5)


def test_curve_endpoints(case):
    model, x, a = case
    p = model(x).softmax(1)
    dele = aopc_deletion(model, x, a, replacement=0.0, stride=5)
    ins = aopc_insertion(model, x, a, replacement=0.0, stride=5)
    torch.testing.assert_close(dele.curves[:, 0], p.max(1).values)
    torch.testing.assert_close(ins.curves[:, -1], p.max(1).values)
    p0 = model(torch.zeros_like(x)).softmax(1).gather(1, p.argmax(1, keepdim=True))[:, 0]
    torch.testing.assert_close(dele.curves[:, -1], p0)
    torch.testing.assert_close(ins.curves[:, 0], p0)
    assert dele.targets.tolist() == ins.targets.tolist() == p.argmax(1).tolist()


def test_perfect_attribution_beats_random():
    # f = softmax([w · x, 0]): removing the largest w_i x_i first lowers p(class 0) fastest.
    g = torch.Generator().manual_seed(0)
    w = 0.2 * torch.randn(1, 8, 8, generator=g)
    x = torch.rand(16, 1, 8, 8, generator=g)
    x = torch.where(w > 0, x, -x)  # every pixel pushes towards class 0, so class 0 is predicted

    def model(z):
        s = (z * w).flatten(1).sum(1)
        return torch.stack([s, torch.zeros_like(s)], dim=1)

    perfect = x * w
    random = torch.rand(x.shape, generator=g)
    d_perfect = aopc_deletion(model, x, perfect, stride=4)
    d_random = aopc_deletion(model, x, random, stride=4)
    d_worst = aopc_deletion(model, x, -perfect, stride=4)
    assert (d_perfect.targets == 0).all()
    assert d_perfect.score > d_random.score + 0.05
    assert d_random.score > d_worst.score + 0.05
    assert (d_perfect.per_instance >= d_random.per_instance - 1e-6).all()
    i_perfect = aopc_insertion(model, x, perfect, stride=4)
    i_random = aopc_insertion(model, x, random, stride=4)
    assert i_perfect.score > i_random.score + 0.05
    # the perfect deletion curve falls monotonically (each removed pixel adds a positive term)
    assert (d_perfect.curves.diff(dim=1) <= 1e-6).all()


def test_query_count_exact_and_batches_bounded(case):
    model, x, a = case
    bb = BlackBox(model, output="logits", batch_size=7)
    res = aopc_deletion(bb, x, a, stride=5)  # 36 pixels: steps 0, 5, ..., 35, 36 -> 9
    assert len(res.steps) == 9
    assert res.queries == bb.queries == 3 * 9 == sum(model.calls)
    assert max(model.calls) <= 7
    res2 = aopc_insertion(bb, x, a, stride=5)
    assert res2.queries == 27 and bb.queries == 54


def test_budget_checked_before_any_query(case):
    model, x, a = case
    bb = BlackBox(model, output="logits", budget=3 * 9 - 1)
    with pytest.raises(QueryBudgetExceeded):
        aopc_deletion(bb, x, a, stride=5)
    assert bb.queries == 0 and model.calls == []
    bb = BlackBox(model, output="logits", budget=3 * 9)
    assert aopc_deletion(bb, x, a, stride=5).queries == 27


def test_batch_size_does_not_change_results(case):
    model, x, a = case
    small = aopc_deletion(model, x, a, stride=3, batch_size=2)
    large = aopc_deletion(model, x, a, stride=3, batch_size=1000)
    torch.testing.assert_close(small.curves, large.curves)


def test_explanations_and_shapes_accepted(case):
    model, x, a = case
    ref = aopc_deletion(model, x, a, stride=6)
    batched = Explanation(values=a, target=[0, 0, 0], queries=0, seconds=0.0, method="test")
    singles = [Explanation(values=a[i], target=0, queries=0, seconds=0.0, method="test") for i in range(3)]
    for attr in (batched, singles, a.mean(1), a.mean(1, keepdim=True), a.numpy()):
        torch.testing.assert_close(aopc_deletion(model, x, attr, stride=6).curves, ref.curves)
    one = aopc_deletion(model, x[0], singles[0], stride=6)  # one unbatched image
    torch.testing.assert_close(one.curves, ref.curves[:1])


def test_explicit_target(case):
    model, x, a = case
    res = aopc_deletion(model, x, a, stride=6, target=[1, 2, 3])
    assert res.targets.tolist() == [1, 2, 3]
    p = model(x).softmax(1)
    torch.testing.assert_close(res.curves[:, 0], p[torch.arange(3), torch.tensor([1, 2, 3])])
    assert aopc_deletion(model, x, a, stride=6, target=4).targets.tolist() == [4, 4, 4]


def test_errors(case):
    model, x, a = case
    with pytest.raises(InvalidInputError, match="do not match"):
        aopc_deletion(model, x, a[:2], stride=5)
    with pytest.raises(InvalidInputError, match="do not match"):
        aopc_deletion(model, x, a[..., :5], stride=5)
    with pytest.raises(InvalidInputError, match="do not match"):
        aopc_insertion(model, x, torch.zeros(3, 2, 6, 6), stride=5)
    with pytest.raises(InvalidInputError, match="stride"):
        aopc_deletion(model, x, a, stride=0)
    with pytest.raises(InvalidInputError, match="replacement"):
        aopc_deletion(model, x, a, replacement="mean")
    with pytest.raises(InvalidInputError, match="broadcast"):
        aopc_deletion(model, x, a, replacement=torch.zeros(2, 6, 6))
    with pytest.raises(InvalidInputError, match="one per input"):
        aopc_deletion(model, x, a, target=[0, 1])
    bad = a.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        aopc_deletion(model, x, bad)
    with pytest.raises(InvalidInputError, match="Explanation"):
        aopc_deletion(model, x, [a[0], a[1], a[2]])
    with pytest.raises(InvalidInputError, match="floating point"):
        aopc_deletion(model, (x * 255).to(torch.uint8), a)
    assert model.calls == []  # every check above happens before a query
    with pytest.raises(InvalidInputError, match="out of range"):  # needs the number of classes
        aopc_deletion(model, x, a, target=5)


def test_gaussian_blur():
    assert blur_parameters(224, 224) == (31, 5.0)
    assert blur_parameters(28, 28) == (5, 0.625)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 20, 24, generator=g)
    k, sigma = 7, 1.5
    grid = torch.arange(k, dtype=torch.float64) - k // 2
    g1 = torch.exp(-0.5 * (grid / sigma) ** 2)
    g1 = g1 / g1.sum()
    kernel2d = (g1[:, None] * g1[None, :]).float()
    padded = F.pad(x.reshape(6, 1, 20, 24), (3, 3, 3, 3), mode="reflect")
    direct = F.conv2d(padded, kernel2d.view(1, 1, k, k)).reshape(2, 3, 20, 24)
    torch.testing.assert_close(gaussian_blur(x, k, sigma), direct, atol=1e-5, rtol=0)
    const = torch.full((1, 3, 224, 224), 0.3)
    torch.testing.assert_close(gaussian_blur(const), const)
    tiny = torch.rand(1, 1, 3, 3, generator=g)
    assert gaussian_blur(tiny, 9, 2.0).shape == tiny.shape  # kernel larger than the image
    with pytest.raises(InvalidInputError, match="odd"):
        gaussian_blur(x, 4, 1.0)


def test_gradient_fidelity():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(4, 3, 5, 5, generator=g)
    torch.testing.assert_close(gradient_fidelity(v, v), torch.ones(4))
    torch.testing.assert_close(gradient_fidelity(-v, v), -torch.ones(4))
    torch.testing.assert_close(gradient_fidelity(3.0 * v, v), torch.ones(4))
    e1, e2 = torch.zeros(1, 4), torch.zeros(1, 4)
    e1[0, 0], e2[0, 1] = 1.0, 1.0
    assert float(gradient_fidelity(e1, e2)) == 0.0
    assert float(gradient_fidelity(torch.zeros(1, 4), e2)) == 0.0
    exp = Explanation(values=v[0], target=0, queries=0, seconds=0.0, method="test")
    assert gradient_fidelity(exp, v[:1]).shape == (1,)
    # against autograd on a white-box model
    w = torch.randn(3 * 5 * 5, generator=g)
    x = torch.randn(2, 3, 5, 5, generator=g, requires_grad=True)
    (x.flatten(1) @ w).tanh().sum().backward()
    expected = torch.nn.functional.cosine_similarity(x.grad.flatten(1), w.expand(2, -1), dim=1)
    torch.testing.assert_close(gradient_fidelity(w.view(1, 3, 5, 5).expand(2, 3, 5, 5), x.grad), expected)
    with pytest.raises(InvalidInputError, match="must match"):
        gradient_fidelity(v, v[:2])


def test_completeness_error():
    exp = Explanation(
        values=torch.tensor([[0.1, 0.2], [0.3, 0.0]]),
        target=[0, 1],
        queries=0,
        seconds=0.0,
        method="test",
        score=torch.tensor([0.8, 0.6]),
        baseline_score=torch.tensor([0.4, 0.2]),
    )
    # Σξ = 0.3, 0.3; f(x) − f(x̊) = 0.4, 0.4 → |0.3 − 0.4| / 0.4 = 0.25
    torch.testing.assert_close(completeness_error(exp), torch.tensor([0.25, 0.25], dtype=torch.float64))

    w = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    model = BlackBox(lambda z: z @ w.T, output="logits")
    x = torch.tensor([[1.0, 0.0]])
    p1 = torch.softmax(x @ w.T, 1)[0, 0]
    exact = Explanation(values=torch.tensor([float(p1) - 0.5, 0.0]), target=0, queries=0, seconds=0.0, method="t")
    assert float(completeness_error(exact, model, x[0], 0.0)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(InvalidInputError, match="baseline"):
        completeness_error(exact)


def test_ignored_feature_share():
    values = torch.tensor([[[1.0, -1.0], [0.0, 2.0]]])
    mask = torch.tensor([[True, False], [False, False]])
    torch.testing.assert_close(ignored_feature_share(values, mask), torch.tensor([0.25]))
    torch.testing.assert_close(ignored_feature_share(torch.zeros(2, 2, 2), mask), torch.zeros(2))
    with pytest.raises(InvalidInputError, match="mask"):
        ignored_feature_share(values, torch.zeros(3, dtype=torch.bool))
