"""Real model servers for the endpoint tests (:mod:`launch`), one per session.

A session fixture starts each server on 127.0.0.1 on a free port, waits (bounded) for its models
to be ready, and stops it afterwards. The servers serve the shipped MNIST LeNet (written as a
TorchScript file for them), a scikit-learn forest on iris and a keyword text model
(:mod:`served_models`), and keep their own request log. A server whose venv is missing skips its
tests, saying how to build it (a failure under EVOXPLAIN_TESTS_STRICT=1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import launch  # noqa: E402  (beside this file)


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.server)
            item.add_marker(pytest.mark.zoo)


def built(start, *args):
    try:
        return start(*args)
    except launch.NotBuilt as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def lenet_file(tmp_path_factory) -> Path:
    """The shipped MNIST LeNet as a TorchScript file, for the servers."""
    import torch
    from evoxplain_zoo.models.lenet import load_lenet

    path = tmp_path_factory.mktemp("lenet") / "lenet.pt"
    torch.jit.script(load_lenet("mnist")).save(str(path))
    return path


@pytest.fixture(scope="session")
def forest():
    """A scikit-learn forest on iris (the in-process reference of the served one) and its features."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels), features


@pytest.fixture(scope="session")
def forest_file(tmp_path_factory, forest) -> Path:
    import joblib

    path = tmp_path_factory.mktemp("forest") / "forest.joblib"
    joblib.dump(forest[0], path)
    return path


@pytest.fixture(scope="session")
def mlserver(tmp_path_factory, lenet_file, forest_file):
    """MLServer serving ``lenet``, ``forest`` and ``keywords``."""
    server = built(launch.start_mlserver, tmp_path_factory.mktemp("mlserver"), lenet_file, forest_file)
    yield server
    launch.stop(server.process)


@pytest.fixture(scope="session")
def kserve(tmp_path_factory, lenet_file):
    """KServe's Python model server serving ``lenet``."""
    server = built(launch.start_kserve, tmp_path_factory.mktemp("kserve"), lenet_file)
    yield server
    launch.stop(server.process)


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory, forest_file):
    """MLflow's scoring servers of ``forest`` and ``keywords``."""
    servers = built(launch.start_mlflow, tmp_path_factory.mktemp("mlflow"), forest_file)
    yield servers
    for server in servers.values():
        launch.stop(server.process)
