"""The explained scores: log-probabilities (and their gradients) stay exact when the model is sure of a class."""

import pytest
import torch

from evoxplain import GEEX, BlackBox, InvalidInputError, Saliency
from evoxplain.fitness import fitness_fn, log_probabilities

SURE = torch.tensor([[30.0, 2.0, -1.0], [0.5, 40.0, 1.0], [1.0, 2.0, 3.0]])  # rows 0 and 1 saturate float32


def reference(logits: torch.Tensor) -> torch.Tensor:
    """log p_i = −log1p(Σ_{j≠i} e^(l_j − l_i)) in float64, element by element (float64 log_softmax saturates too)."""
    d = logits.double()
    diffs = d[:, None, :] - d[:, :, None]  # [n, i, j] = l_j − l_i
    diffs = diffs.masked_fill(torch.eye(d.shape[1], dtype=torch.bool), float("-inf"))
    return -torch.log1p(diffs.exp().sum(dim=2))


@pytest.mark.parametrize("output", ["logits", "probs"])
def test_log_probabilities_keep_the_relative_precision_of_a_sure_class(output):
    raw = SURE if output == "logits" else SURE.softmax(dim=1)
    assert float(raw.log_softmax(1)[0, 0] if output == "logits" else raw[0, 0].log()) == 0.0  # what float32 gives
    got = log_probabilities(raw, output).double()
    torch.testing.assert_close(got, reference(SURE), rtol=1e-4, atol=1e-6)
    top = got[[0, 1], [0, 1]]
    torch.testing.assert_close(top, reference(SURE)[[0, 1], [0, 1]], rtol=1e-4, atol=0.0)  # ≈ −e^−28, −e^−39
    assert bool((top < 0).all())


def test_log_probabilities_equal_log_softmax_on_ordinary_rows():
    logits = torch.randn(50, 7, generator=torch.Generator().manual_seed(0)) * 3
    torch.testing.assert_close(log_probabilities(logits, "logits"), logits.log_softmax(1), rtol=0, atol=1e-6)
    torch.testing.assert_close(log_probabilities(logits.softmax(1), "probs"), logits.log_softmax(1), rtol=0, atol=1e-5)
    bb = BlackBox(lambda x: x, output="logits")
    torch.testing.assert_close(bb.log_probabilities(SURE), log_probabilities(SURE, "logits"))


def test_logprob_and_logit_fitness_of_a_sure_class_are_not_zero():
    for name in ("logprob", "logit"):
        scores = fitness_fn(name)(SURE.softmax(1), 0, "probs")
        torch.testing.assert_close(scores.double(), reference(SURE)[:, 0], rtol=1e-4, atol=0.0)  # row 0: ≈ −7e−13
    with pytest.raises(InvalidInputError, match="fitness must be one of"):
        fitness_fn("margin")


def test_ge_of_the_log_probability_of_a_sure_class_follows_its_gradient():
    # logits (25 + w·x, 0, 0): log p0 = −log(1 + 2e^(−25 − w·x)), gradient ≈ 2e^(−25 − w·x) w.
    w = torch.randn(16, generator=torch.Generator().manual_seed(2))

    def model(x):
        lead = 25 + x @ w
        return torch.stack([lead, torch.zeros_like(lead), torch.zeros_like(lead)], dim=1)

    x = torch.zeros(16)
    assert float(model(x[None]).log_softmax(1)[0, 0]) == 0.0  # float32 log_softmax sees no change at all
    est = GEEX(model, queries=2000, sigma=1e-2, integrated=False, fitness="logprob", seed=0).explain(x, 0)
    values = est.values.double() / est.values.double().norm()  # ~1e-10: below cosine_similarity's eps
    assert float(values @ (w.double() / w.double().norm())) > 0.99
    scale = float(est.values @ w / (w @ w))
    assert scale == pytest.approx(2 * torch.exp(torch.tensor(-25.0, dtype=torch.float64)).item(), rel=0.05)


def test_white_box_gradient_of_a_sure_class_log_probability_is_the_true_one():
    # float32 autograd through log_softmax drops the target's own logit here: cosine 0.60 to the truth
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(16, 3).eval()
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 16, generator=g))
        model.bias.copy_(torch.tensor([25.0, 0.0, 0.0]))
    x = torch.randn(16, generator=g) * 0.1
    xd = x.double().requires_grad_(True)
    torch.nn.functional.linear(xd, model.weight.double(), model.bias.double()).log_softmax(0)[0].backward()
    got = Saliency(model, absolute=False, fitness="logprob").explain(x, target=0).values.double()
    torch.testing.assert_close(got, xd.grad, rtol=1e-4, atol=0.0)
    xf = x.clone().requires_grad_(True)
    model(xf[None]).log_softmax(1)[0, 0].backward()  # the case is one float32 log_softmax gets wrong
    plain = xf.grad.double()
    assert float(plain @ xd.grad / (plain.norm() * xd.grad.norm())) == pytest.approx(0.60, abs=0.01)
