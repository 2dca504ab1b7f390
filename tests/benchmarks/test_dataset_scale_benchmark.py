"""benchmarks/dataset_scale.py: the projection is computed from the committed GPU measurement, and a
killed run resumes to the uninterrupted run's values."""

from __future__ import annotations

import json

import pytest

from benchmarks import dataset_scale
from benchmarks.harness import REPOSITORY


@pytest.fixture(scope="module")
def bench():
    return dataset_scale


def test_the_projection_scales_the_measured_seconds_per_query(bench):
    measured = json.loads((REPOSITORY / bench.GPU_SPEED).read_text())
    projection = bench.projection()
    source = projection["source"]
    assert any(e["seconds"] == source["seconds_per_explanation"] for e in measured["explanations"])
    per_query = source["seconds_per_explanation"] / source["queries"]
    rows = {(r["queries"], r["gpus"]): r for r in projection["rows"]}
    assert set(rows) == {(q, g) for q in (1000, 5000) for g in (1, 8, 64)}
    assert rows[5000, 1]["gpu_hours"] == pytest.approx(1e6 * 5002 * per_query / 3600, abs=0.05)
    assert rows[5000, 8]["wall_hours"] == pytest.approx(rows[5000, 1]["gpu_hours"] / 8, abs=0.01)
    assert rows[1000, 1]["model_alone_wall_hours"] < rows[1000, 1]["wall_hours"]


def test_a_killed_run_resumes_to_the_same_values(bench, data_env, tmp_path):
    from evoxplain_zoo.data import load_mnist

    from evoxplain import recommended_settings
    from evoxplain.dataset import explain_dataset
    from evoxplain.plugins import builtin_model

    x = load_mnist("test")[0][:12]
    settings = {"queries": 40, **recommended_settings((1, 28, 28), 40)}
    lenet = builtin_model("lenet-mnist").load()
    whole = explain_dataset(lenet, x, tmp_path / "whole", settings=settings, shard_size=3, progress=False,
                            blackbox={"output": "logits"}, model_name="lenet-mnist")  # fmt: skip
    row = {"inputs_per_s": 12 / whole.seconds}
    result = bench.resumption(x, settings, 3, tmp_path, {"model": lenet, "out": tmp_path / "whole", "row": row})
    assert result["all_ids_once"] and result["redone_written_inputs"] == 0
    assert result["written_when_killed"] + result["resumed_inputs"] == 12
    assert result["largest_difference_to_uninterrupted"] == 0.0
