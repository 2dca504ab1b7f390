"""Real model servers for the endpoint tests, each in the virtual environment `.ci/build-servers` makes.

A session fixture starts each server on 127.0.0.1 on a free port, waits (at most
``START_SECONDS``) for its model to be ready, and stops it afterwards. The servers serve the
shipped MNIST LeNet (written as a TorchScript file for them), a scikit-learn forest on iris and a
keyword text model (:mod:`served_models`), and keep their own request log. A server whose venv is
missing skips its tests, saying how to build it (a failure under EVOXPLAIN_TESTS_STRICT=1).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VENVS = HERE.parents[1] / ".servers"
START_SECONDS = 120
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

pytestmark = pytest.mark.server


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.server)
            item.add_marker(pytest.mark.zoo)


@dataclass
class Server:
    """A running server: its base URL, its request log and its output (for failures)."""

    url: str
    log: Path
    output: Path
    process: subprocess.Popen

    def requests(self, model: str | None = None) -> list[dict]:
        from served_models import read_log

        return [line for line in read_log(self.log) if model in (None, line["model"])]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_python(name: str) -> Path:
    python = VENVS / name / "bin" / "python"
    if not (VENVS / name / ".built").is_file():
        pytest.skip(f"the {name} server is not built: run `bash .ci/build-servers {name}` (CI's .ci/run does)")
    return python


def start(command: list[str], folder: Path, ready_url: str, env: dict[str, str] | None = None) -> Server:
    """Start ``command`` in its own process group and wait until ``ready_url`` answers 200."""
    log, output = folder / "requests.jsonl", folder / "server.out"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))},
        "PYTHONPATH": str(HERE),
        "EVOXPLAIN_SERVER_LOG": str(log),
        **(env or {}),
    }
    with open(output, "wb") as out:
        process = subprocess.Popen(
            command, cwd=folder, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{output.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as answer:
                if answer.status == 200:
                    return Server(ready_url.split("/v2/")[0].split("/ping")[0], log, output, process)
        except OSError:
            pass
        time.sleep(0.25)
    stop(process)
    raise RuntimeError(f"{command[0]} was not ready within {START_SECONDS} s:\n{output.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


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
    """A scikit-learn forest on iris (the in-process reference of the served one)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, labels = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels), features


def model_settings(name: str, implementation: str, inputs: list[dict], **parameters) -> dict:
    return {"name": name, "implementation": implementation, "inputs": inputs, "parameters": parameters}


@pytest.fixture(scope="session")
def mlserver(tmp_path_factory, lenet_file, forest) -> Server:
    """MLServer 1.7.1 serving ``lenet`` (custom runtime), ``forest`` (mlserver-sklearn,
    predict_proba) and ``keywords`` (custom runtime of strings)."""
    import joblib

    python = venv_python("mlserver")
    folder = tmp_path_factory.mktemp("mlserver")
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    joblib.dump(forest[0], folder / "forest.joblib")
    models = {
        "lenet": model_settings(
            "lenet", "mlserver_runtimes.LeNetRuntime",
            [{"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}], uri=str(lenet_file),
        ),
        "forest": model_settings(
            "forest", "mlserver_sklearn.SKLearnModel", [{"name": "features", "datatype": "FP64", "shape": [-1, 4]}],
            uri=str(folder / "forest.joblib"), extra={"predict_fn": "predict_proba"},
        ),
        "keywords": model_settings(
            "keywords", "mlserver_runtimes.KeywordRuntime", [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        ),
    }  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings))
    for name, model in models.items():
        (folder / name).mkdir()
        (folder / name / "model-settings.json").write_text(json.dumps(model))
    command = [str(python), "-m", "mlserver.cli.main", "start", str(folder)]
    server = start(command, folder, f"http://127.0.0.1:{port}/v2/models/keywords/ready")
    for name in ("lenet", "forest"):
        wait_ready(f"{server.url}/v2/models/{name}/ready", server)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def kserve(tmp_path_factory, lenet_file) -> Server:
    """KServe 0.21's Python model server serving ``lenet`` (binary tensors where asked)."""
    python = venv_python("kserve")
    folder = tmp_path_factory.mktemp("kserve")
    port = free_port()
    command = [
        str(python), str(HERE / "kserve_lenet.py"), "--model_name", "lenet", "--lenet", str(lenet_file),
        "--http_port", str(port), "--grpc_port", str(free_port()), "--enable_grpc", "false",
        "--enable_latency_logging", "false",
    ]  # fmt: skip
    server = start(command, folder, f"http://127.0.0.1:{port}/v2/models/lenet/ready")
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory, forest) -> dict[str, Server]:
    """MLflow 3.17.2's scoring server (``mlflow models serve --env-manager local``): ``forest``
    (predict_proba) and ``keywords`` (a pyfunc of strings), one server each."""
    import joblib

    python = venv_python("mlflow")
    folder = tmp_path_factory.mktemp("mlflow")
    joblib.dump(forest[0], folder / "forest.joblib")
    saved = subprocess.run(
        [str(python), str(HERE / "mlflow_models.py"), str(folder / "forest.joblib"), str(folder / "models")],
        capture_output=True, text=True, timeout=START_SECONDS, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(HERE), "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri()},
    )  # fmt: skip
    if saved.returncode != 0:
        raise RuntimeError(f"mlflow_models.py failed:\n{saved.stderr[-3000:]}")
    servers = {}
    try:
        for name in ("forest", "keywords"):
            port = free_port()
            command = [
                str(python), "-m", "mlflow", "models", "serve", "-m", str(folder / "models" / name),
                "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1",
            ]  # fmt: skip
            (folder / name).mkdir()
            path = {"PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # it execs its uvicorn
            servers[name] = start(command, folder / name, f"http://127.0.0.1:{port}/ping", env=path)
        yield servers
    finally:
        for server in servers.values():
            stop(server.process)


def wait_ready(url: str, server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} not ready within {START_SECONDS} s:\n{server.output.read_text()[-3000:]}")
