"""Models behind real servers (MLServer, KServe, MLflow), through a seeded fault proxy, killed and
restarted with a journal: the values equal the in-process model's, the counters add up against
the servers' own logs, the budget holds counting retries, errors are clear and quick, and a token
never leaks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fault_proxy import FaultProxy
from served_models import KeywordModel, input_hashes

from evoxplain import (
    GEEX,
    BlackBox,
    ExemplarSearch,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
)
from evoxplain.endpoints import InferenceEndpoint, JSONEndpoint, MLflowEndpoint
from evoxplain.metrics import aopc_deletion

HERE = Path(__file__).resolve().parent
DIGIT = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)) ** 4  # dark, with bright strokes
SENTENCE = "a good film with a bad ending but great actors and an awful score"
TOLERANCE = {"atol": 1e-6, "rtol": 1e-4}  # the servers batch differently: float rounding only


def lenet_geex(model, queries: int = 200, **options):
    return GEEX(model, queries=queries, mask_size=(7, 7), seed=0, **options)


@pytest.fixture(scope="module")
def lenet():
    from evoxplain_zoo.models.lenet import load_lenet

    return load_lenet("mnist")


@pytest.fixture(scope="module")
def reference(lenet):
    return lenet_geex(BlackBox(lenet)).explain(DIGIT)


def new_lines(server, before: int, model: str = "lenet") -> list[dict]:
    return [line for line in server.requests()[before:] if line["model"] == model]


# -- the same values through every server --------------------------------------------------------


def test_geex_through_mlserver_and_kserve_equals_the_in_process_model(mlserver, kserve, reference):
    endpoints = {
        "mlserver json": InferenceEndpoint(f"{mlserver.url}/v2/models/lenet", max_batch=32, concurrency=2),
        "kserve binary": InferenceEndpoint(f"{kserve.url}/v2/models/lenet", binary=True, max_batch=32, concurrency=4),
        "kserve json, URL alone": f"{kserve.url}/v2/models/lenet",
    }
    for name, endpoint in endpoints.items():
        bb = BlackBox(endpoint)
        exp = lenet_geex(bb).explain(DIGIT)
        assert exp.target == reference.target and exp.queries == reference.queries == bb.sent, name
        assert torch.allclose(exp.values, reference.values, **TOLERANCE), name
        assert bb.retries == 0 and bb.bytes_sent > 0, name
    binary, json_ = BlackBox(endpoints["kserve binary"]), BlackBox(endpoints["kserve json, URL alone"])
    binary(DIGIT[None].expand(8, -1, -1, -1).contiguous()), json_(DIGIT[None].expand(8, -1, -1, -1).contiguous())
    assert binary.bytes_sent < json_.bytes_sent / 2  # raw tensors cost less than JSON text


def test_forest_and_text_through_mlserver_mlflow_and_a_generic_json_endpoint(mlserver, mlflow, forest):
    model, features = forest
    row = torch.tensor(features[70], dtype=torch.float32)
    expected = GEEX(BlackBox(model), queries=100, sigma=0.3, seed=1).explain(row)
    for endpoint in (
        f"{mlserver.url}/v2/models/forest",  # mlserver-sklearn's predict_proba, FP64 from the metadata
        f"{mlflow['forest'].url}/invocations",
        MLflowEndpoint(mlflow["forest"].url, format="dataframe_split"),
    ):
        exp = GEEX(BlackBox(endpoint), queries=100, sigma=0.3, seed=1).explain(row)
        assert torch.allclose(exp.values, expected.values, **TOLERANCE), endpoint
    text = GEEX(BlackBox(KeywordModel()), queries=100, seed=2).explain(SENTENCE)
    generic = JSONEndpoint(
        f"{mlserver.url}/v2/models/keywords/infer",
        encode=lambda texts: {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]},
        decode=lambda answer: np.reshape(answer["outputs"][0]["data"], answer["outputs"][0]["shape"]),
        health=f"{mlserver.url}/v2/models/keywords/ready",
    )
    for endpoint in (f"{mlserver.url}/v2/models/keywords", f"{mlflow['keywords'].url}/invocations", generic):
        exp = GEEX(BlackBox(endpoint), queries=100, seed=2).explain(SENTENCE)
        assert exp.tokens == text.tokens and torch.allclose(exp.values, text.values, **TOLERANCE), endpoint


def test_metrics_and_exemplar_searches_take_an_endpoint(kserve, lenet, reference):
    url = f"{kserve.url}/v2/models/lenet"
    local = aopc_deletion(BlackBox(lenet, output="logits"), DIGIT[None], reference.values[None], stride=49)
    remote = aopc_deletion(BlackBox(url, output="logits"), DIGIT[None], reference.values[None], stride=49)
    assert torch.allclose(remote.curves, local.curves, **TOLERANCE) and remote.queries == local.queries == 17
    decoder = torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 28, 28)))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        decoder = decoder.eval()
        torch.nn.init.normal_(decoder[0].weight, std=2.0)
    runs = [
        ExemplarSearch(model, decoder, latent_dim=4, population=20, elite=4, max_queries=120, seed=3).run(7)
        for model in (lenet, url)
    ]
    assert runs[0].queries == runs[1].queries and torch.allclose(runs[0].exemplar, runs[1].exemplar, **TOLERANCE)


# -- faults, budget, counters ------------------------------------------------------------------------


def test_through_30_percent_faults_the_values_equal_the_fault_free_run(kserve, reference):
    before = len(kserve.requests())
    with FaultProxy(kserve.url, rate=0.3, seed=1, retry_after="1", delay=0.05) as proxy:
        endpoint = InferenceEndpoint(
            f"{proxy.url}/v2/models/lenet", binary=True, max_batch=10, concurrency=4, backoff=0.01
        )
        bb = BlackBox(endpoint, budget=400)
        started = time.monotonic()
        exp = lenet_geex(bb).explain(DIGIT)
        seconds = time.monotonic() - started
    log = proxy.log
    assert torch.allclose(exp.values, reference.values, **TOLERANCE) and exp.queries == bb.queries == 202
    assert proxy.faulted() / len(log) >= 0.2 and {e["fault"] for e in log} >= {"503", "429", "reset", "truncate"}
    # the client's counters against the proxy's log and the server's own
    assert bb.requests == len(log) and bb.sent == sum(e["inputs"] for e in log) <= 400
    assert bb.retries == bb.requests - 21  # 202 inputs in requests of at most 10: 21 requests, the rest retries
    served = new_lines(kserve, before)
    assert sum(line["n"] for line in served) == sum(e["inputs"] for e in log if e["forwarded"])
    assert seconds < 60


def test_the_budget_is_never_exceeded_counting_retries(kserve):
    before = len(kserve.requests())
    with FaultProxy(kserve.url, rate=0.5, seed=2, faults=("503", "reset")) as proxy:
        bb = BlackBox(InferenceEndpoint(f"{proxy.url}/v2/models/lenet", max_batch=10, backoff=0.01), budget=230)
        with pytest.raises(QueryBudgetExceeded) as caught:
            lenet_geex(bb).explain(DIGIT)  # 202 inputs fit the budget; their retries do not
    assert caught.value.used <= 230 and bb.sent <= 230 and bb.retries > 0
    assert sum(e["inputs"] for e in proxy.log) == bb.sent
    assert sum(line["n"] for line in new_lines(kserve, before)) <= 230


def test_retry_after_is_honoured_and_a_malformed_answer_is_retried_once(kserve):
    with FaultProxy(kserve.url, script=("429",), retry_after="1") as proxy:
        bb = BlackBox(InferenceEndpoint(f"{proxy.url}/v2/models/lenet", backoff=0.01))
        started = time.monotonic()
        bb(DIGIT[None])
        assert time.monotonic() - started >= 1.0 and bb.requests == 2 and bb.retries == 1 and bb.sent == 2
    with FaultProxy(kserve.url, script=("garbage", None)) as proxy:
        bb = BlackBox(InferenceEndpoint(f"{proxy.url}/v2/models/lenet", backoff=0.01))
        assert bb(DIGIT[None]).shape == (1, 10) and bb.retries == 1
    with FaultProxy(kserve.url, script=("garbage", "garbage", None)) as proxy:
        bb = BlackBox(InferenceEndpoint(f"{proxy.url}/v2/models/lenet", backoff=0.01))
        with pytest.raises(ModelOutputError, match="twice with a body that is not a valid answer"):
            bb(DIGIT[None])
        assert bb.requests == 2 and bb.queries == 0


def test_when_retries_run_out_the_error_says_what_was_answered_and_the_journal_keeps_it(kserve, tmp_path):
    with FaultProxy(kserve.url, rate=1.0, faults=("503",), script=(None, None)) as proxy:
        endpoint = InferenceEndpoint(
            f"{proxy.url}/v2/models/lenet", max_batch=10, concurrency=1, retries=2, backoff=0.01
        )
        bb = BlackBox(endpoint, journal=tmp_path / "q.sqlite", model_id="lenet-mnist v1")  # behind any URL
        batch = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(6))
        started = time.monotonic()
        with pytest.raises(
            ModelCallError, match=rf"{proxy.url}/v2/models/lenet failed 3 times.*HTTP 503.*20 of the 40"
        ):
            bb(batch)
        assert time.monotonic() - started < 5 and len(bb.journal) == 20 and bb.sent == 50 and bb.requests == 5
    endpoint = InferenceEndpoint(f"{kserve.url}/v2/models/lenet", max_batch=10)
    again = BlackBox(endpoint, journal=tmp_path / "q.sqlite", model_id="lenet-mnist v1")
    again(batch)
    assert again.journal_hits == 20 and again.sent == 20


def test_queries_work_inside_a_running_event_loop(kserve, lenet):
    """As in Jupyter, where a loop is already running: the requests in flight are threads."""
    bb = BlackBox(InferenceEndpoint(f"{kserve.url}/v2/models/lenet", max_batch=8, concurrency=4))
    batch = torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(7))

    async def in_a_notebook_cell():
        return bb(batch)

    assert torch.allclose(asyncio.run(in_a_notebook_cell()), lenet(batch), **TOLERANCE) and bb.requests == 4


def test_the_counters_add_up_against_the_servers_own_log(mlserver):
    before = len(mlserver.requests())
    bb = BlackBox(InferenceEndpoint(f"{mlserver.url}/v2/models/lenet", max_batch=24, concurrency=3))
    batch = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    out = bb(batch)
    served = new_lines(mlserver, before)
    assert out.shape == (100, 10) and bb.requests == len(served) == 5 and bb.retries == 0
    assert bb.sent == bb.queries == sum(line["n"] for line in served) == 100
    assert sorted(h for line in served for h in line["inputs"]) == sorted(input_hashes(batch.numpy()))


def test_a_run_killed_mid_explanation_restarts_from_its_journal(mlserver, lenet, tmp_path):
    journal, url = tmp_path / "queries.sqlite", f"{mlserver.url}/v2/models/lenet"
    before = len(mlserver.requests())
    command = [sys.executable, str(HERE / "journal_run.py"), url, str(journal), str(tmp_path / "values.npy")]
    killed = subprocess.run([*command, "--kill-after", "8"], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]  # SIGKILL after 8 answered requests
    first = new_lines(mlserver, before)
    assert len(first) == 8
    finished = subprocess.run(command, capture_output=True, timeout=120, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    usage = json.loads(finished.stdout)
    served = [h for line in new_lines(mlserver, before) for h in line["inputs"]]
    assert len(served) == len(set(served)) == 402  # no input answered twice, none missing
    assert usage["journal_hits"] == sum(line["n"] for line in first) and usage["sent"] == 402 - usage["journal_hits"]
    expected = lenet_geex(BlackBox(lenet), queries=400).explain(DIGIT)
    assert torch.allclose(torch.from_numpy(np.load(tmp_path / "values.npy")), expected.values, **TOLERANCE)


# -- clear errors, in seconds -------------------------------------------------------------------------


def test_refusals_and_missing_models_are_clear_errors_in_seconds(mlserver):
    url = f"{mlserver.url}/v2/models/lenet"
    started = time.monotonic()
    bb = BlackBox(InferenceEndpoint(url, shape=(-1, -1, -1)))  # told to accept any shape: the server refuses
    with pytest.raises(ModelCallError, match=r"HTTP 400\).*must have shape \[-1, 1, 28, 28\], not \[2, 1, 14, 14\]"):
        bb(torch.rand(2, 1, 14, 14))
    assert bb.requests == 1 and bb.retries == 0  # a 4xx is not retried
    checked = BlackBox(url)  # the metadata's shape: refused before any request
    with pytest.raises(InvalidInputError, match=r"\(1, 28, 28\).*\(1, 14, 14\)"):
        checked(torch.rand(2, 1, 14, 14))
    assert checked.requests == 0
    named = BlackBox(InferenceEndpoint(url, input_name="pixels"))
    with pytest.raises(ModelCallError, match=r"named 'images'.*'pixels'"):
        named(DIGIT[None])
    with pytest.raises(ModelCallError, match=r"nosuch.*not ready.*'nosuch'"):
        BlackBox(f"{mlserver.url}/v2/models/nosuch")
    assert time.monotonic() - started < 10


def test_a_wrong_token_is_a_clear_error_and_a_token_never_leaks(mlserver, tmp_path, monkeypatch):
    secret = "tok-7f3a9-never-print-me"
    monkeypatch.setenv("EVOXPLAIN_TEST_TOKEN", secret)
    from PIL import Image

    Image.fromarray((DIGIT[0].numpy() * 255).astype(np.uint8)).save(tmp_path / "digit.png")
    with FaultProxy(mlserver.url, rate=0.0, token=secret) as gateway:
        url = f"{gateway.url}/v2/models/lenet"
        started = time.monotonic()
        with pytest.raises(ModelCallError, match=r"refused the credentials \(HTTP 401\)") as caught:
            BlackBox(InferenceEndpoint(url, token="wrong-token-123"))
        assert "wrong-token-123" not in str(caught.value) and time.monotonic() - started < 5
        bb = BlackBox(InferenceEndpoint(url, token_env="EVOXPLAIN_TEST_TOKEN"), journal=tmp_path / "q.sqlite")
        exp = lenet_geex(bb, queries=20).explain(DIGIT)
        shown = [repr(bb), repr(bb.model), repr(exp), json.dumps(exp.params, default=str), bb.model.identity()]
        assert all(secret not in text for text in shown)
        cli = subprocess.run(
            [str(Path(sys.executable).parent / "evoxplain"), "explain", str(tmp_path / "digit.png"), "--model", url,
             "--token-env", "EVOXPLAIN_TEST_TOKEN", "--queries", "40", "--concurrency", "2", "--max-batch", "16",
             "--journal", str(tmp_path / "cli.sqlite"), "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=120, env={**os.environ, "EVOXPLAIN_TEST_TOKEN": secret},
        )  # fmt: skip
        refused = subprocess.run(
            [str(Path(sys.executable).parent / "evoxplain"), "explain", str(tmp_path / "digit.png"), "--model", url,
             "--token-env", "EVOXPLAIN_TEST_TOKEN", "--out", str(tmp_path / "refused")],
            capture_output=True, text=True, timeout=60, env={**os.environ, "EVOXPLAIN_TEST_TOKEN": "wrong-" + secret},
        )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "wrote" in cli.stdout and "sent: " in cli.stdout
    assert refused.returncode == 2 and "refused the credentials (HTTP 401)" in refused.stderr
    assert gateway.refused == 2  # the wrong token of each, before any inference request
    for text in (cli.stdout, cli.stderr, refused.stdout, refused.stderr):
        assert secret not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 7 and all(secret.encode() not in p.read_bytes() for p in files)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model"] == url and manifest["extra"]["usage"]["sent"] == 42
