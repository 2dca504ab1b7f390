"""Start and stop the test model servers (MLServer, KServe, MLflow), each from the virtual
environment `.ci/build-servers` makes under .servers/, on 127.0.0.1 and a free port.

The pytest fixtures (conftest.py) and the remote benchmark (benchmarks/remote.py) use these.
Every wait is bounded (``START_SECONDS``); a server that exits or is not ready in time is a
``RuntimeError`` with the end of its output.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE.parents[1] / ".servers"
START_SECONDS = 120


class NotBuilt(Exception):
    """The server's virtual environment is missing."""


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
    if not (VENVS / name / ".built").is_file():
        raise NotBuilt(f"the {name} server is not built: run `bash .ci/build-servers {name}` (CI's .ci/run does)")
    return VENVS / name / "bin" / "python"


def start(command: list[str], folder: Path, ready_url: str, env: dict[str, str] | None = None) -> Server:
    """Start ``command`` in its own process group and wait until ``ready_url`` answers 200."""
    server = spawn(command, folder, ready_url, env)
    try:
        wait_ready(ready_url, server)
    except RuntimeError:
        stop(server.process)
        raise
    return server


def spawn(command: list[str], folder: Path, ready_url: str, env: dict[str, str] | None = None) -> Server:
    """Start ``command`` in its own process group (not waiting for it)."""
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
    return Server(ready_url.split("/v2/")[0].split("/ping")[0], log, output, process)


def wait_ready(url: str, server: Server) -> None:
    """Wait (at most ``START_SECONDS``) until ``url`` answers 200."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {server.process.returncode}:\n{server.output.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} was not ready within {START_SECONDS} s:\n{server.output.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers past 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def model_settings(name: str, implementation: str, inputs: list[dict], **parameters) -> dict:
    return {"name": name, "implementation": implementation, "inputs": inputs, "parameters": parameters}


def start_mlserver(folder: Path, lenet_file: Path, forest_file: Path | None = None) -> Server:
    """MLServer 1.7.1 serving ``lenet`` and ``keywords`` (custom runtimes) and, given its joblib
    file, ``forest`` (mlserver-sklearn, predict_proba); one process, inference in it."""
    python = venv_python("mlserver")
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    images = [{"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}]
    models = {
        "lenet": model_settings("lenet", "mlserver_runtimes.LeNetRuntime", images, uri=str(lenet_file)),
        "keywords": model_settings(
            "keywords", "mlserver_runtimes.KeywordRuntime", [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        ),
    }
    if forest_file is not None:
        features = [{"name": "features", "datatype": "FP64", "shape": [-1, 4]}]
        models["forest"] = model_settings(
            "forest",
            "mlserver_sklearn.SKLearnModel",
            features,
            uri=str(forest_file),
            extra={"predict_fn": "predict_proba"},
        )
    (folder / "settings.json").write_text(json.dumps(settings))
    for name, model in models.items():
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "model-settings.json").write_text(json.dumps(model))
    command = [str(python), "-m", "mlserver.cli.main", "start", str(folder)]
    server = start(command, folder, f"http://127.0.0.1:{port}/v2/models/keywords/ready")
    for name in models:
        wait_ready(f"{server.url}/v2/models/{name}/ready", server)
    return server


def start_kserve(folder: Path, lenet_file: Path) -> Server:
    """KServe 0.21's Python model server serving ``lenet`` (binary tensors where asked)."""
    python = venv_python("kserve")
    port = free_port()
    command = [
        str(python), str(HERE / "kserve_lenet.py"), "--model_name", "lenet", "--lenet", str(lenet_file),
        "--http_port", str(port), "--grpc_port", str(free_port()), "--enable_grpc", "false",
        "--enable_latency_logging", "false",
    ]  # fmt: skip
    return start(command, folder, f"http://127.0.0.1:{port}/v2/models/lenet/ready")


def start_mlflow(folder: Path, forest_file: Path) -> dict[str, Server]:
    """MLflow 3.17.2's scoring server (``mlflow models serve --env-manager local``), one per model:
    ``forest`` (predict_proba) and ``keywords`` (a pyfunc of strings, saved from code)."""
    python = venv_python("mlflow")
    saved = subprocess.run(
        [str(python), str(HERE / "mlflow_models.py"), str(forest_file), str(folder / "models")],
        capture_output=True, text=True, timeout=START_SECONDS, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(HERE), "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri()},
    )  # fmt: skip
    if saved.returncode != 0:
        raise RuntimeError(f"mlflow_models.py failed:\n{saved.stderr[-3000:]}")
    servers: dict[str, Server] = {}
    try:
        for name in ("forest", "keywords"):  # both start at once
            port = free_port()
            command = [
                str(python), "-m", "mlflow", "models", "serve", "-m", str(folder / "models" / name),
                "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1",
            ]  # fmt: skip
            (folder / name).mkdir()
            path = {"PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # it execs its uvicorn
            servers[name] = spawn(command, folder / name, f"http://127.0.0.1:{port}/ping", env=path)
        for server in servers.values():
            wait_ready(f"{server.url}/ping", server)
    except Exception:
        for server in servers.values():
            stop(server.process)
        raise
    return servers
