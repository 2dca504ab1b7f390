"""Dataset runs on the local engine: rows, seeds by id, resumption after SIGKILL, failures, inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from evoxplain import GEEX, BlackBox, EvoxplainError, InvalidInputError, QueryBudgetExceeded
from evoxplain.dataset import explain_dataset, input_seed, open_source, read_results
from evoxplain.dataset.rows import COLUMNS
from evoxplain.dataset.shards import shard_files

pa = pytest.importorskip("pyarrow", reason="dataset runs need pyarrow: pip install -e '.[dataset]'")
SETTINGS = {"queries": 64, "distribution": "bernoulli", "mask_size": (7, 7)}


def small_model() -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(196, 5)).eval()


def digits(n: int = 9) -> torch.Tensor:
    return torch.rand(n, 1, 14, 14, generator=torch.Generator().manual_seed(1))


def by_id(out) -> dict[str, dict]:
    rows = read_results(out).to_pylist()
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "an id was written twice"
    return {row["id"]: row for row in rows}


def test_rows_hold_the_explanation_of_each_input_with_its_own_seed(tmp_path):
    x = digits(5)
    model = small_model()
    run = explain_dataset(model, x, tmp_path / "run", settings=SETTINGS, seed=7, shard_size=2, progress=False)
    rows = by_id(tmp_path / "run")
    assert sorted(rows) == ["0", "1", "2", "3", "4"] and run.explained_now == 5
    assert set(read_results(tmp_path / "run").column_names) == set(COLUMNS)
    assert len(shard_files(tmp_path / "run" / "results")) == 3  # 2 + 2 + 1
    for i in range(5):
        row = rows[str(i)]
        assert row["seed"] == input_seed(7, str(i))
        again = GEEX(model, seed=row["seed"], **SETTINGS).explain(x[i])  # the row says how to redo it
        assert np.array_equal(np.asarray(row["values"], np.float32), again.values.reshape(-1).numpy())
        assert row["queries"] == again.queries == 66 and row["target"] == again.target
        assert row["shape"] == [1, 14, 14] and row["error"] is None
        assert row["probability"] == pytest.approx(float(again.score))
        assert row["completeness_gap"] == pytest.approx(float(again.completeness_gap))
        assert json.loads(row["settings"])["queries"] == 64
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["inputs"] == 5 and summary["failed"] == 0 and summary["queries"] == 5 * 66
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["kind"] == "dataset" and manifest["finished"] and manifest["settings"]["seed"] == 7


def test_values_depend_on_the_id_not_on_order_or_shard_size(tmp_path):
    x, model = digits(6), small_model()
    explain_dataset(model, x, tmp_path / "a", settings=SETTINGS, shard_size=4, progress=False)
    order = [5, 2, 0, 3, 1, 4]
    shuffled = open_source(x[order], ids=[str(i) for i in order])
    explain_dataset(model, shuffled, tmp_path / "b", settings=SETTINGS, shard_size=1, progress=False)
    a, b = by_id(tmp_path / "a"), by_id(tmp_path / "b")
    assert a.keys() == b.keys()
    for ident in a:
        assert a[ident]["values"] == b[ident]["values"] and a[ident]["seed"] == b[ident]["seed"]


SCRIPT = """
import sys, time, torch
from evoxplain.dataset import explain_dataset

class Slow(torch.nn.Module):
    def __init__(self, delay):
        super().__init__()
        torch.manual_seed(0)
        self.net, self.delay = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(196, 5)), delay
    def forward(self, x):
        time.sleep(self.delay)
        return self.net(x)

x = torch.rand(24, 1, 14, 14, generator=torch.Generator().manual_seed(1))
settings = {"queries": 64, "distribution": "bernoulli", "mask_size": (7, 7)}
explain_dataset(Slow(float(sys.argv[2])).eval(), x, sys.argv[1], settings=settings, shard_size=4, progress=False,
                model_name="slow")
"""


def test_a_run_killed_mid_way_resumes_to_the_same_rows_with_no_id_twice(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    killed, results = tmp_path / "killed", tmp_path / "killed" / "results"
    child = subprocess.Popen([sys.executable, str(script), str(killed), "0.05"])
    deadline = time.monotonic() + 120
    while len(shard_files(results)) < 2 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = len(shard_files(results))
    assert 2 <= before < 6, "the run was not killed mid-way"
    assert not list(results.glob("*.parquet.*"))  # no half-written shard under a shard's name
    subprocess.run([sys.executable, str(script), str(killed), "0"], check=True)
    subprocess.run([sys.executable, str(script), str(tmp_path / "whole"), "0"], check=True)
    resumed, whole = by_id(killed), by_id(tmp_path / "whole")
    assert sorted(resumed, key=int) == [str(i) for i in range(24)] == sorted(whole, key=int)
    assert all(resumed[i]["values"] == whole[i]["values"] for i in whole)
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["extra"]["resumed"] == 1 and manifest["extra"]["inputs"] == 24


def test_shared_calls_send_fewer_larger_batches_with_the_same_values(tmp_path, logging_model):
    x = digits(6)
    alone, shared = logging_model(small_model()).eval(), logging_model(small_model()).eval()
    explain_dataset(alone, x, tmp_path / "alone", settings=SETTINGS, share=1, progress=False, model_name="m")
    started = time.perf_counter()
    explain_dataset(shared, x, tmp_path / "shared", settings=SETTINGS, share=3, progress=False, model_name="m")
    wall = time.perf_counter() - started
    assert alone.seen == shared.seen == 6 * 66  # every query still sent once
    assert len(shared.batches) < len(alone.batches) and max(shared.batches) > max(alone.batches)
    a, b = by_id(tmp_path / "alone"), by_id(tmp_path / "shared")
    for ident in a:
        assert a[ident]["queries"] == b[ident]["queries"] == 66
        assert np.allclose(a[ident]["values"], b[ident]["values"], rtol=0, atol=1e-6)
    assert 0 < sum(row["seconds"] for row in b.values()) <= wall  # each input's own share of the time


def test_sentences_share_calls_and_captum_methods_go_one_at_a_time(tmp_path):
    from evoxplain.attribution import Occlusion

    calls = []

    def words(texts):
        calls.append(len(texts))
        return torch.tensor([[t.count("bad"), t.count("good")] for t in texts], dtype=torch.float32) * 3 - 1

    texts = ["a good film", "so bad", "good and bad", "not good at all"]
    for share in (1, 4):
        explain_dataset(words, texts, tmp_path / f"t{share}", settings={"queries": 16}, share=share, progress=False)
    alone, shared = by_id(tmp_path / "t1"), by_id(tmp_path / "t4")
    assert all(alone[i]["values"] == shared[i]["values"] and alone[i]["tokens"] == shared[i]["tokens"] for i in alone)
    assert max(calls) > 16 + 2  # several sentences' masks in one call

    x = digits(3)
    occlusion = {"window": 7, "stride": 7}
    run = explain_dataset(small_model(), x, tmp_path / "occ", explainer=Occlusion, settings=occlusion, share=3,
                          progress=False)  # fmt: skip
    rows = by_id(tmp_path / "occ")
    again = Occlusion(small_model(), **occlusion).explain(x[1])
    assert run.summary["explained"] == 3 and rows["1"]["queries"] == again.queries == 5
    assert np.allclose(rows["1"]["values"], again.values.reshape(-1).numpy(), atol=1e-6)


class BreaksOnLargeValues(torch.nn.Module):
    """Raises on a batch holding a value above 5 (the input marked so), like a model that fails on
    one malformed input."""

    def __init__(self):
        super().__init__()
        self.net = small_model()

    def forward(self, x):
        if bool((x > 5).any()):
            raise RuntimeError("value out of range")
        return self.net(x)


def test_a_model_error_fails_only_the_input_that_caused_it_in_a_shared_call(tmp_path):
    x = digits(6)
    x[2, 0, 3, 3] = 10.0
    run = explain_dataset(BreaksOnLargeValues().eval(), x, tmp_path / "run", settings=SETTINGS, share=4, progress=False)
    rows = by_id(tmp_path / "run")
    assert [i for i in sorted(rows) if rows[i]["error"]] == ["2"] and "value out of range" in rows["2"]["error"]
    assert run.summary["explained"] == 5


def test_a_corrupt_image_is_recorded_as_failed_and_the_rest_finish(tmp_path):
    from PIL import Image

    from evoxplain.inputs import InputSpec

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.png", "sub/c.png"]):
        Image.fromarray(np.full((14, 14), 40 * i, np.uint8)).save(folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    source = open_source(folder, spec=InputSpec(channels=1, size=(14, 14)))
    run = explain_dataset(small_model(), source, tmp_path / "run", settings=SETTINGS, heatmaps=True, progress=False)
    rows = by_id(tmp_path / "run")
    assert sorted(rows) == ["a.png", "b.png", "broken.png", "sub/c.png"]
    assert rows["broken.png"]["error"].startswith("InvalidInputError: cannot read")
    assert rows["broken.png"]["values"] is None and rows["broken.png"]["queries"] == 0
    assert all(rows[i]["error"] is None and len(rows[i]["values"]) == 196 for i in ("a.png", "b.png", "sub/c.png"))
    assert run.summary["failed"] == 1 and run.summary["failures"][0]["id"] == "broken.png"
    assert (tmp_path / "run" / "heatmaps" / "sub" / "c.png.png").is_file()
    assert not (tmp_path / "run" / "heatmaps" / "broken.png.png").exists()


def test_a_folder_of_another_run_is_refused_before_any_query(tmp_path):
    model = small_model()
    explain_dataset(model, digits(2), tmp_path / "run", settings=SETTINGS, progress=False)
    bb = BlackBox(model)
    with pytest.raises(InvalidInputError, match="holds another run"):
        explain_dataset(bb, digits(2), tmp_path / "run", settings={**SETTINGS, "queries": 32}, progress=False)
    with pytest.raises(InvalidInputError, match="holds another run"):
        explain_dataset(bb, digits(2), tmp_path / "run", settings=SETTINGS, seed=1, progress=False)
    assert bb.queries == 0


def test_a_spent_budget_keeps_the_rows_already_made(tmp_path):
    bb = BlackBox(small_model(), budget=3 * 66 + 10)
    with pytest.raises(QueryBudgetExceeded):
        explain_dataset(bb, digits(8), tmp_path / "run", settings=SETTINGS, shard_size=8, progress=False)
    assert sorted(by_id(tmp_path / "run")) == ["0", "1", "2"]  # the shard in flight was written as far as it got
    run = explain_dataset(small_model(), digits(8), tmp_path / "run", settings=SETTINGS, progress=False)
    assert run.skipped == 3 and run.explained_now == 5 and len(by_id(tmp_path / "run")) == 8


def test_a_second_run_on_the_same_folder_at_once_is_refused(tmp_path):
    from evoxplain.dataset.run import folder_lock

    (tmp_path / "run").mkdir()
    with folder_lock(tmp_path / "run"), pytest.raises(EvoxplainError, match="another run is writing"):
        explain_dataset(small_model(), digits(2), tmp_path / "run", settings=SETTINGS, progress=False)


def test_tables_texts_and_arrays_are_read_with_their_ids(tmp_path):
    rows = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    table = pa.table({"name": ["w", "x", "y", "z"], "f1": rows[:, 0], "f2": rows[:, 1], "f3": rows[:, 2]})
    import pyarrow.csv
    import pyarrow.parquet

    pyarrow.parquet.write_table(table, tmp_path / "rows.parquet")
    pyarrow.csv.write_csv(table, tmp_path / "rows.csv")
    linear = torch.nn.Linear(3, 2).eval()
    for name in ("rows.parquet", "rows.csv"):
        source = open_source(tmp_path / name, id_column="name")
        explain_dataset(linear, source, tmp_path / name.replace(".", "_"), settings={"queries": 32}, progress=False)
        got = by_id(tmp_path / name.replace(".", "_"))
        assert sorted(got) == ["w", "x", "y", "z"] and got["y"]["shape"] == [3]
    assert by_id(tmp_path / "rows_parquet")["y"]["values"] == by_id(tmp_path / "rows_csv")["y"]["values"]

    def words(texts):
        return torch.tensor([[t.count("bad"), t.count("good")] for t in texts], dtype=torch.float32) * 3 - 1

    (tmp_path / "texts.txt").write_text("a good film\n\nso bad\n")
    explain_dataset(words, tmp_path / "texts.txt", tmp_path / "texts", settings={"queries": 16}, progress=False)
    got = by_id(tmp_path / "texts")
    assert sorted(got) == ["1", "3"] and got["1"]["tokens"] == ["a", "good", "film"]

    np.save(tmp_path / "x.npy", digits(3).numpy())
    explain_dataset(small_model(), tmp_path / "x.npy", tmp_path / "npy", settings=SETTINGS, progress=False)
    assert sorted(by_id(tmp_path / "npy")) == ["0", "1", "2"]


def test_bad_inputs_say_what_is_wrong(tmp_path):
    with pytest.raises(InvalidInputError, match="occurs twice"):
        open_source(digits(2), ids=["a", "a"])
    with pytest.raises(InvalidInputError, match="no inputs at"):
        open_source(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no images"):
        open_source(tmp_path / "empty")
    with pytest.raises(InvalidInputError, match="engine must be"):
        explain_dataset(small_model(), digits(2), tmp_path / "run", engine="spark")
    with pytest.raises(InvalidInputError, match="pass the model itself"):
        explain_dataset(BlackBox(small_model()), digits(2), tmp_path / "run", engine="ray")
    assert not (tmp_path / "run").exists()


def test_the_command_explains_a_folder_and_resumes_it(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from evoxplain.cli import app

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(196, 5)).eval()
    torch.jit.script(model).save(str(tmp_path / "model.pt"))
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20), 60 * i, np.uint8)).save(folder / f"{i}.png")
    args = ["explain-dataset", str(folder), "--model", str(tmp_path / "model.pt"), "--size", "14", "--channels", "1",
            "--out", str(tmp_path / "run"), "--queries", "32", "--shard-size", "2"]  # fmt: skip
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "inputs: 3 (3 explained, 0 failed)" in first.output
    rows = by_id(tmp_path / "run")
    assert sorted(rows) == ["0.png", "1.png", "2.png"] and rows["0.png"]["shape"] == [1, 14, 14]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"] == "model.pt" and manifest["settings"]["mask_size"] == {"__tuple__": [7, 7]}
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "this run: 0 inputs" in again.output
    other = CliRunner().invoke(app, [*args[:-2], "--queries", "64"])
    assert other.exit_code == 2 and "holds another run" in other.output
