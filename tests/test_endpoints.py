"""Endpoint models and the query journal, without a server: encodings, URLs, secrets, errors that
come before (or instead of) a request, the journal on local models. The real servers are in
tests/servers (marked ``server``)."""

from __future__ import annotations

import json
import pickle
import socket
import sqlite3
import threading
import time

import numpy as np
import pytest
import torch

from evoxplain import GEEX, BlackBox, InvalidInputError, ModelCallError, QueryBudgetExceeded
from evoxplain.endpoints import InferenceEndpoint, JSONEndpoint, MLflowEndpoint, RetryPolicy, Secret, endpoint_from_url
from evoxplain.endpoints.http import MalformedAnswer, Response
from evoxplain.endpoints.json_endpoints import mlflow_body, mlflow_predictions
from evoxplain.endpoints.oip import decode_response, encode_request, loads, split_model_url
from evoxplain.journal import Journal, JournalError, input_keys, model_identity


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answer_of(request: bytes, headers: dict, outputs: np.ndarray, binary: bool) -> Response:
    """What a server would answer to ``request``: ``outputs`` as JSON or binary."""
    length = headers.get("Inference-Header-Content-Length")
    parsed = loads(request[: int(length)] if length else request)
    output = {"name": "logits", "shape": list(outputs.shape), "datatype": "FP32"}
    if not (binary and parsed.get("parameters", {}).get("binary_data_output")):
        return Response(200, {}, json.dumps({"outputs": [{**output, "data": outputs.ravel().tolist()}]}).encode())
    raw = outputs.astype("<f4").tobytes()
    header = json.dumps({"outputs": [{**output, "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return Response(200, {"Inference-Header-Content-Length": str(len(header))}, header + raw)


# -- the Open Inference Protocol's encodings ---------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True])
def test_tensors_round_trip_exactly_as_json_and_binary(binary):
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0)).numpy()
    body, headers = encode_request(x, name="images", datatype="FP32", binary=binary)
    length = headers.get("Inference-Header-Content-Length")
    request = loads(body[: int(length)] if length else body)
    tensor = request["inputs"][0]
    assert tensor["name"] == "images" and tensor["shape"] == [3, 1, 4, 4] and tensor["datatype"] == "FP32"
    if binary:
        assert tensor["parameters"]["binary_data_size"] == x.nbytes == len(body) - int(length)
        sent = np.frombuffer(body[int(length) :], dtype="<f4").reshape(x.shape)
    else:
        sent = np.asarray(tensor["data"], dtype=np.float64).astype(np.float32).reshape(x.shape)
    assert np.array_equal(sent, x)  # the server reads the very same float32 values
    answer = decode_response(answer_of(body, headers, x.reshape(3, 16), binary))
    assert answer.dtype == np.float32 and np.array_equal(answer, x.reshape(3, 16))


def test_json_costs_more_bytes_than_binary():
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)).numpy()
    json_body, _ = encode_request(x, name="images", datatype="FP32", binary=False)
    binary_body, _ = encode_request(x, name="images", datatype="FP32", binary=True)
    assert len(binary_body) < x.nbytes + 300 < len(json_body) / 2


@pytest.mark.parametrize("binary", [False, True])
def test_strings_go_as_bytes(binary):
    texts = ["good film", "naïve plot", ""]
    body, headers = encode_request(texts, name="text", datatype="BYTES", binary=binary)
    length = headers.get("Inference-Header-Content-Length")
    tensor = loads(body[: int(length)] if length else body)["inputs"][0]
    assert tensor["datatype"] == "BYTES" and tensor["shape"] == [3]
    if binary:
        raw, found = body[int(length) :], []
        while raw:
            size = int.from_bytes(raw[:4], "little")
            found.append(raw[4 : 4 + size].decode())
            raw = raw[4 + size :]
        assert found == texts
    else:
        assert tensor["data"] == texts


def test_a_body_that_is_not_an_answer_is_malformed():
    for body in (b"<html>oops</html>", b'{"outputs": []}', b'{"outputs": [{"name": "y", "shape": [2, 2], '
                 b'"datatype": "FP32", "data": [1, 2, 3]}]}'):  # fmt: skip
        with pytest.raises(MalformedAnswer):
            decode_response(Response(200, {}, body))


def test_model_urls_are_split_and_wrong_ones_refused():
    assert split_model_url("http://127.0.0.1:9/v2/models/lenet") == ("http://127.0.0.1:9", "lenet", None)
    assert split_model_url("https://127.0.0.1/prefix/v2/models/m/versions/3/infer") == (
        "https://127.0.0.1/prefix",
        "m",
        "3",
    )
    with pytest.raises(InvalidInputError, match="v2/models/NAME"):
        split_model_url("http://127.0.0.1:9/v1/models/lenet:predict")
    with pytest.raises(InvalidInputError, match="JSONEndpoint"):
        endpoint_from_url("http://127.0.0.1:9/predict")
    assert isinstance(endpoint_from_url("http://127.0.0.1:9/invocations", ready=False), MLflowEndpoint)


def test_credentials_in_a_url_are_refused_and_a_token_never_shows(monkeypatch):
    with pytest.raises(InvalidInputError, match="token") as caught:
        InferenceEndpoint("http://user:hunter2@127.0.0.1:9/v2/models/m", ready=False)
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("EVOXPLAIN_TEST_TOKEN", "tok-hunter2")
    endpoint = InferenceEndpoint("http://127.0.0.1:9/v2/models/m", token_env="EVOXPLAIN_TEST_TOKEN", ready=False)
    for text in (repr(endpoint), str(endpoint), repr(endpoint.http), repr(BlackBox(endpoint))):
        assert "hunter2" not in text
    assert "***" in repr(endpoint) and repr(Secret("x")) == "Secret(***)"
    assert endpoint.http.scrub("echo: Bearer tok-hunter2") == "echo: Bearer ***"
    with pytest.raises(TypeError):
        pickle.dumps(Secret("tok-hunter2"))
    with pytest.raises(InvalidInputError, match="NOT_SET_ANYWHERE"):
        InferenceEndpoint("http://127.0.0.1:9/v2/models/m", token_env="NOT_SET_ANYWHERE", ready=False)


def test_bad_settings_are_refused():
    with pytest.raises(InvalidInputError, match="max_batch"):
        InferenceEndpoint("http://127.0.0.1:9/v2/models/m", max_batch=0, ready=False)
    with pytest.raises(InvalidInputError, match="concurrency"):
        InferenceEndpoint("http://127.0.0.1:9/v2/models/m", concurrency=1.5, ready=False)
    with pytest.raises(InvalidInputError, match="retries"):
        RetryPolicy(retries=-1)
    with pytest.raises(InvalidInputError, match="datatype"):
        InferenceEndpoint("http://127.0.0.1:9/v2/models/m", datatype="FLOAT", ready=False)
    with pytest.raises(InvalidInputError, match="format"):
        MLflowEndpoint("http://127.0.0.1:9", format="records", ready=False)
    with pytest.raises(InvalidInputError, match="encode and decode"):
        JSONEndpoint("http://127.0.0.1:9/score", encode=None, decode=None, ready=False)


def test_backoff_is_bounded_jittered_and_seeded():
    policy = RetryPolicy(backoff=0.1, backoff_max=1.0, seed=3)
    waits = [policy.wait(attempt, request=7) for attempt in range(1, 8)]
    assert waits == [policy.wait(attempt, request=7) for attempt in range(1, 8)]  # the same seed, the same waits
    assert all(0.05 <= w <= 1.0 for w in waits) and waits[0] <= 0.1 and max(waits) > 0.5
    assert waits != [RetryPolicy(backoff=0.1, backoff_max=1.0, seed=4).wait(a, request=7) for a in range(1, 8)]


def test_a_server_that_is_down_is_a_clear_error_in_seconds():
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(ModelCallError, match=rf"127.0.0.1:{port}.*(connection refused).*server is running"):
        BlackBox(f"http://127.0.0.1:{port}/v2/models/lenet")
    with pytest.raises(ModelCallError, match="connection refused"):
        BlackBox(f"http://127.0.0.1:{port}/invocations")
    assert time.monotonic() - started < 5


def test_mlflow_bodies_and_predictions():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert loads(mlflow_body(x, "dataframe_split", ["a", "b", "c"])) == {
        "dataframe_split": {"columns": ["a", "b", "c"], "data": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}
    }
    assert loads(mlflow_body(["hi", "yo"], "inputs", None)) == {"inputs": ["hi", "yo"]}
    assert np.allclose(mlflow_predictions({"predictions": [{"a": 0.2, "b": 0.8}]}), [[0.2, 0.8]])
    with pytest.raises(MalformedAnswer):
        mlflow_predictions({"outputs": [1]})
    with pytest.raises(InvalidInputError, match="columns"):
        mlflow_body(x, "dataframe_split", ["a"])


# -- the journal ---------------------------------------------------------------------------------------


def test_the_journal_serves_answered_inputs_unsent_and_unbilled(tmp_path, logging_model):
    model = logging_model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval())
    x = torch.rand(1, 4, 4, generator=torch.Generator().manual_seed(0))
    journal = tmp_path / "queries.sqlite"
    first = BlackBox(model, journal=journal, budget=1000)
    reference = GEEX(first, queries=200, seed=1).explain(x)
    assert model.seen == first.sent == first.queries == 202 and first.journal_hits == 0
    again = BlackBox(model, journal=journal, budget=4)  # only inputs never answered cost
    repeat = GEEX(again, queries=200, seed=1).explain(x)
    assert torch.equal(repeat.values, reference.values) and repeat.queries == 202
    assert model.seen == 202 and again.sent == 0 and again.journal_hits == again.queries == 202
    more = GEEX(again, queries=4, seed=2).explain(x)  # new inputs: 4 perturbations; x and the baseline known
    assert more.queries == 6 and model.seen == 206
    assert again.usage == {"queries": 208, "sent": 4, "requests": 1, "retries": 0, "bytes_sent": 0, "journal_hits": 204}
    with pytest.raises(QueryBudgetExceeded):  # the budget is spent: new inputs are not sent
        GEEX(again, queries=4, seed=3).explain(x)
    assert again.sent == 4 and model.seen == 206


def test_the_journal_sends_each_distinct_input_once(tmp_path, logging_model):
    model = logging_model(torch.nn.Linear(2, 3).eval())
    bb = BlackBox(model, journal=tmp_path / "j.sqlite")
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    out = bb(x)
    assert model.batches == [2] and bb.sent == 2 and bb.queries == 3 and bb.journal_hits == 1
    assert torch.equal(out[0], out[2]) and torch.allclose(out, model.model(x), atol=1e-6)


def test_a_journal_of_another_model_or_a_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    BlackBox(torch.nn.Linear(2, 3).eval(), journal=path)(torch.zeros(1, 2))
    with pytest.raises(JournalError, match="another model"):
        BlackBox(torch.nn.Linear(2, 3).eval(), journal=path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="not a query journal"):
        BlackBox(torch.nn.Linear(2, 3).eval(), journal=garbage)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(JournalError, match="not a query journal"):
        Journal(other, model="m")
    with pytest.raises(InvalidInputError, match="model_id"):
        BlackBox(lambda b: b, journal=tmp_path / "f.sqlite")
    assert BlackBox(lambda b: b, journal=tmp_path / "f.sqlite", model_id="identity-v1").journal.model == "identity-v1"


def test_the_journal_is_safe_from_several_threads(tmp_path, logging_model):
    model = logging_model(torch.nn.Linear(4, 3).eval())
    bb = BlackBox(model, journal=tmp_path / "j.sqlite")
    rows = torch.rand(64, 4, generator=torch.Generator().manual_seed(0))
    answers: dict[int, torch.Tensor] = {}

    def work(i: int) -> None:
        answers[i] = bb(rows[i * 8 : i * 8 + 16])  # overlapping slices: shared inputs

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bb.journal) == 56 and bb.queries == 96 and bb.sent + bb.journal_hits == 96 and bb.sent >= 56
    for i, answer in answers.items():
        assert torch.allclose(answer, model.model(rows[i * 8 : i * 8 + 16]), atol=1e-6)


def test_input_keys_and_identities():
    a = input_keys(torch.zeros(2, 3))
    assert a[0] == a[1] and a[0] != input_keys(torch.zeros(1, 3, dtype=torch.float64))[0]
    assert input_keys(torch.zeros(1, 3))[0] != input_keys(torch.zeros(1, 1, 3))[0]  # shape counts
    assert input_keys(["a b"])[0] != input_keys(["a  b"])[0]
    module = torch.nn.Linear(2, 2)
    assert model_identity(module) == model_identity(module) != model_identity(module, "bf16")
    assert model_identity(lambda b: b) is None


def test_the_budget_caps_inputs_sent_and_a_journal_hit_costs_nothing(tmp_path):
    bb = BlackBox(torch.nn.Linear(2, 3).eval(), budget=3, journal=tmp_path / "j.sqlite")
    rows = torch.arange(6.0).view(3, 2)
    bb(rows)
    bb(rows.flip(0))  # all known: nothing sent
    with pytest.raises(QueryBudgetExceeded) as caught:
        bb(torch.full((1, 2), -1.0))
    assert caught.value.used == 3 and bb.sent == 3 and bb.queries == 6 and bb.remaining == 0
