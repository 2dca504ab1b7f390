"""The LeNet zoo model: shipped weights, reproducible training, no global random state."""

from __future__ import annotations

import pytest
import torch
from evoxplain_zoo.models.lenet import LeNet, accuracy, load_lenet, main, train_lenet

from evoxplain.blackbox import BlackBox
from evoxplain.errors import InvalidInputError


def test_architecture_and_no_global_rng():
    state = torch.random.get_rng_state()
    a, b = LeNet(seed=3), LeNet(seed=3)
    assert torch.equal(state, torch.random.get_rng_state())
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(LeNet(seed=4).conv1.weight, a.conv1.weight)
    shapes = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    assert shapes["conv1.weight"] == (6, 1, 5, 5) and shapes["conv2.weight"] == (16, 6, 5, 5)
    assert shapes["fc1.weight"] == (120, 400) and shapes["fc2.weight"] == (84, 120)
    assert shapes["fc3.weight"] == (10, 84)
    assert a.eval()(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_shipped_mnist_weights(data_env):
    from evoxplain_zoo.data import load_mnist

    model = load_lenet("mnist")
    assert not model.training
    x, y = load_mnist("test")
    assert accuracy(model, x[:1000], y[:1000]) >= 0.985
    bb = BlackBox(model, output="logits")
    logits = bb(x[:8])
    assert not torch.allclose(logits.sum(1), torch.ones(8))  # logits, not probabilities
    assert (bb.predict(x[:8]) == y[:8]).float().mean() >= 0.875


def test_shipped_fashion_mnist_weights():
    from evoxplain_zoo.data import load_fashion_mnist

    model = load_lenet("fashion-mnist")
    x, y = load_fashion_mnist("test")
    assert accuracy(model, x[:1000], y[:1000]) >= 0.89
    assert float(model.mean) == pytest.approx(0.2860)


def test_training_is_reproducible_and_leaves_global_rng_alone(data_env):
    state = torch.random.get_rng_state()
    m1, acc1 = train_lenet("mnist", epochs=1, seed=7, train_subset=512)
    m2, acc2 = train_lenet("mnist", epochs=1, seed=7, train_subset=512)
    assert torch.equal(state, torch.random.get_rng_state())
    assert acc1 == acc2 and acc1 > 0.3
    for (name, p), q in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(p, q), name
    m3, _ = train_lenet("mnist", epochs=1, seed=8, train_subset=512)
    assert not torch.equal(m1.fc3.weight, m3.fc3.weight)


def test_command_line_saves_loadable_weights(data_env, tmp_path, capsys):
    out = tmp_path / "w" / "lenet.pt"
    acc = main(["--dataset", "mnist", "--out", str(out), "--epochs", "1", "--train-subset", "256"])
    assert out.is_file() and "test accuracy" in capsys.readouterr().out
    model = load_lenet("mnist", path=out)
    from evoxplain_zoo.data import load_mnist

    x, y = load_mnist("test")
    assert accuracy(model, x, y) == pytest.approx(acc)


def test_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="dataset"):
        load_lenet("cifar10")
    with pytest.raises(InvalidInputError, match="python -m evoxplain_zoo.models.lenet"):
        load_lenet("mnist", path=tmp_path / "missing.pt")
    with pytest.raises(InvalidInputError, match="epochs"):
        train_lenet("mnist", epochs=0)
