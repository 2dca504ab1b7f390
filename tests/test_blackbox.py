import numpy as np
import pytest
import torch

from evoxplain import (
    BlackBox,
    EvoxplainError,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
)


def softmax_model(x):
    return torch.stack([x.sum(1), -x.sum(1), x[:, 0]], dim=1).softmax(dim=1)


def test_counts_and_batches_every_input(logging_model):
    model = logging_model(torch.nn.Linear(4, 3)).eval()
    bb = BlackBox(model, batch_size=7)
    out = bb(torch.rand(20, 4))
    assert out.shape == (20, 3)
    assert bb.queries == 20
    assert model.batches == [7, 7, 6]
    assert bb.output == "logits"


def test_budget_raises_before_the_model_sees_input_budget_plus_one(logging_model):
    model = logging_model(torch.nn.Linear(4, 3)).eval()
    bb = BlackBox(model, batch_size=5, budget=12)
    bb(torch.rand(10, 4))
    with pytest.raises(QueryBudgetExceeded) as info:
        bb(torch.rand(5, 4))
    assert model.seen == 10 and bb.queries == 10
    assert info.value.used == 10 and info.value.budget == 12
    assert isinstance(info.value, EvoxplainError)
    bb(torch.rand(2, 4))  # exactly up to the budget is fine
    assert bb.queries == 12 and bb.remaining == 0


def test_auto_detects_probabilities_and_logits():
    probs = BlackBox(softmax_model)
    p = probs.probabilities(torch.rand(5, 4))
    assert probs.output == "probs"
    torch.testing.assert_close(p.sum(1), torch.ones(5))
    logits = BlackBox(lambda x: torch.log(softmax_model(x)) + 3.0)
    torch.testing.assert_close(logits.probabilities(torch.rand(5, 4)).sum(1), torch.ones(5))
    assert logits.output == "logits"


def test_sklearn_estimator_and_numpy_callable():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    forest = LogisticRegression().fit(X, y)
    bb = BlackBox(forest)
    np.testing.assert_allclose(bb.probabilities(X[:5]).numpy(), forest.predict_proba(X[:5]), rtol=1e-5)
    seen = []
    numpy_bb = BlackBox(lambda a: (seen.append(type(a)), forest.predict_proba(a))[1], input_type="numpy")
    numpy_bb(torch.tensor(X[:3], dtype=torch.float32))
    assert seen == [np.ndarray]


def test_torchscript_export_and_onnx_files(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    x = torch.rand(6, 4)
    expected = model(x).detach()
    script = tmp_path / "m.pt"
    torch.jit.script(model).save(str(script))
    torch.testing.assert_close(BlackBox(script)(x), expected)
    exported = tmp_path / "m.pt2"
    program = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(exported))
    torch.testing.assert_close(BlackBox(exported, batch_size=4)(x), expected)  # batches of 4 and 2
    onnx_path = tmp_path / "m.onnx"
    torch.onnx.export(model, (x,), str(onnx_path), input_names=["x"], dynamic_axes={"x": {0: "n"}}, dynamo=False)
    torch.testing.assert_close(BlackBox(onnx_path)(x), expected, atol=1e-5, rtol=1e-5)


def test_text_model_gets_lists_of_strings():
    def sentiment(texts):
        return [[1.0, 0.0] if "good" in t else [0.0, 1.0] for t in texts]

    bb = BlackBox(sentiment, batch_size=2)
    out = bb(["good film", "bad film", "good"])
    assert out.tolist() == [[1, 0], [0, 1], [1, 0]] and bb.queries == 3


@pytest.mark.parametrize(
    "model, message",
    [
        (lambda x: torch.full((len(x), 3), float("nan")), "NaN"),
        (lambda x: torch.zeros(len(x), 0), "expected"),
        (lambda x: torch.zeros(len(x), 3, dtype=torch.complex64), "complex"),
        (lambda x: torch.zeros(len(x) + 1, 3), "rows"),
        (lambda x: torch.zeros(len(x), 3, 2), "expected"),
        (lambda x: "not scores", "not an array"),
    ],
)
def test_bad_outputs_raise_model_output_error(model, message):
    with pytest.raises(ModelOutputError, match=message):
        BlackBox(model)(torch.rand(2, 4))


def test_class_count_is_enforced():
    bb = BlackBox(lambda x: torch.zeros(len(x), 3), num_classes=4)
    with pytest.raises(ModelOutputError, match="4 were expected"):
        bb(torch.rand(2, 4))


def test_declared_probs_that_are_not_probs_is_an_error():
    with pytest.raises(ModelOutputError, match="output='logits'"):
        BlackBox(lambda x: torch.randn(len(x), 3, generator=torch.Generator().manual_seed(0)), output="probs")(
            torch.rand(2, 4)
        )


def test_model_failure_is_wrapped_with_the_batch_shape():
    model = torch.nn.Linear(5, 3).eval()
    with pytest.raises(ModelCallError, match=r"shape \(2, 4\)"):
        BlackBox(model)(torch.rand(2, 4))


def test_bad_inputs_and_arguments():
    bb = BlackBox(softmax_model)
    with pytest.raises(InvalidInputError, match="NaN"):
        bb(torch.tensor([[1.0, float("inf"), 0.0, 0.0]]))
    assert bb.queries == 0
    with pytest.raises(InvalidInputError):
        bb("a single string")
    for kwargs in [dict(batch_size=0), dict(budget=-1), dict(output="scores"), dict(precision="int8")]:
        with pytest.raises(InvalidInputError):
            BlackBox(softmax_model, **kwargs)
    with pytest.raises(InvalidInputError, match="cannot query"):
        BlackBox(42)
    with pytest.raises(InvalidInputError, match="no model file"):
        BlackBox("missing.onnx")


def test_bf16_autocast_is_close_to_fp32():
    model = torch.nn.Linear(64, 3).eval()
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(0))
    out = BlackBox(model, precision="bf16")(x)
    assert out.dtype == torch.float32
    exact = model(x).detach()
    assert not torch.equal(out, exact)  # it really ran in bfloat16
    torch.testing.assert_close(out, exact, atol=5e-2, rtol=5e-2)


def test_a_model_of_one_score_is_a_binary_classifier():
    def sigmoid_head(x):  # a probability of class 1, (N, 1)
        return torch.sigmoid(x.sum(1, keepdim=True))

    x = torch.rand(4, 3)
    with pytest.warns(UserWarning, match="output='probs'"):
        bb = BlackBox(sigmoid_head)
        probs = bb.probabilities(x)
    p = sigmoid_head(x)[:, 0]
    torch.testing.assert_close(probs, torch.stack([1 - p, p], 1))
    assert bb.output == "probs" and bb.num_classes == 2 and bb.predict(x).tolist() == (p > 0.5).long().tolist()
    logit = BlackBox(lambda x: 3 * x.sum(1) - 5)  # (N,) logits: outside [0, 1], so certainly not probabilities
    torch.testing.assert_close(logit.probabilities(x)[:, 1], torch.sigmoid(3 * x.sum(1) - 5))
    assert logit.output == "logits"
    declared = BlackBox(lambda x: x[:, 0] * 0.5, output="logits")  # in [0, 1] yet declared logits: no warning
    torch.testing.assert_close(declared.probabilities(x)[:, 1], torch.sigmoid(x[:, 0] * 0.5))


def test_probabilities_are_read_with_the_precision_s_tolerance():
    def nearly(x):  # probabilities with a -1e-5 entry, as float error leaves them
        p = torch.tensor([[0.299, 0.70101, -0.00001]]).expand(len(x), 3)
        return p.clone()

    bb = BlackBox(nearly)
    assert bb.output == "auto" and float(bb.probabilities(torch.rand(2, 4))[0, 0]) == pytest.approx(0.299)
    assert bb.output == "probs"  # not softmaxed again


def test_independent_probabilities_are_multilabel_or_an_error_naming_output():
    def sigmoid_labels(x):
        return torch.sigmoid(torch.stack([x.sum(1) * 4, -x.sum(1), x[:, 0]], 1))

    x = torch.rand(3, 4)
    with pytest.warns(UserWarning, match="output='multilabel'"):
        guessed = BlackBox(sigmoid_labels)
        guessed(x)
    assert guessed.output == "logits"
    bb = BlackBox(sigmoid_labels, output="multilabel")
    torch.testing.assert_close(bb.probabilities(x), sigmoid_labels(x))
    with pytest.raises(ModelOutputError, match="multilabel"):
        BlackBox(lambda x: x * 3 - 1, output="multilabel")(x)


def test_bf16_softmax_models_pass_the_probability_check_on_every_seed():
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(16, 1000), torch.nn.Softmax(dim=1)).eval()
        with torch.no_grad():
            net[0].weight.copy_(torch.randn(1000, 16, generator=g))
        bb = BlackBox(net, precision="bf16", batch_size=8)
        bb(torch.rand(32, 16, generator=g))
        assert bb.output == "probs"


def test_queries_are_counted_per_piece_of_work_across_threads():
    import threading

    from evoxplain import GEEX

    bb = BlackBox(torch.nn.Linear(4, 3).eval(), batch_size=4)
    results = []

    def explain(seed):
        results.append(GEEX(bb, queries=10, seed=seed).explain(torch.rand(4)).queries)

    threads = [threading.Thread(target=explain, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [12] * 8 and bb.queries == 96


def test_the_budget_holds_under_threads():
    import threading

    bb = BlackBox(lambda x: torch.zeros(len(x), 2), budget=100, batch_size=1)
    errors = []

    def hammer():
        for _ in range(30):
            try:
                bb(torch.rand(1, 4))
            except QueryBudgetExceeded:
                errors.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bb.queries == 100 and len(errors) == 80


def test_explainers_and_metrics_never_change_the_blackbox_they_are_given():
    from evoxplain import GEEX
    from evoxplain.metrics import aopc_deletion

    bb = BlackBox(torch.nn.Linear(4, 3).eval(), batch_size=7)
    with pytest.raises(InvalidInputError):
        GEEX(bb, batch_size=0)
    GEEX(bb, batch_size=3, queries=10, seed=0).explain(torch.rand(4))
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 4), torch.nn.Flatten()).eval()
    aopc_deletion(BlackBox(conv), torch.rand(1, 1, 4, 4), torch.rand(1, 4, 4), batch_size=5)
    assert bb.batch_size == 7
    assert bb(torch.rand(9, 4), batch_size=np.int64(4)).shape == (9, 3)
    for bad in (True, 0, 2.5):
        with pytest.raises(InvalidInputError, match="batch_size"):
            bb(torch.rand(2, 4), batch_size=bad)


def test_devices_and_inputs_that_cannot_work_are_refused_before_any_query():
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="CUDA"):
            BlackBox(torch.nn.Linear(4, 3).eval(), device="cuda")
    with torch.device("meta"):
        meta = torch.nn.Linear(4, 3)
    with pytest.raises(InvalidInputError, match="meta"):
        BlackBox(meta)
    bb = BlackBox(softmax_model)
    with pytest.raises(InvalidInputError, match="complex"):
        bb(torch.rand(2, 4, dtype=torch.complex64))
    for bad in (dict(budget=True), dict(batch_size=True), dict(num_classes=True)):
        with pytest.raises(InvalidInputError):
            BlackBox(softmax_model, **bad)
    assert bb.queries == 0
