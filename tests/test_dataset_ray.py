"""The Ray engine on a local cluster (2 CPUs, no dashboard, no usage statistics): the same rows as
the local engine, also when a worker is killed mid-run; exemplar searches with the same seeds."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import torch

from evoxplain.dataset import RayOptions, explain_dataset, read_results, search_many

ray = pytest.importorskip("ray", reason="the Ray engine needs Ray: pip install -e '.[ray]'")
pytestmark = pytest.mark.slow
SETTINGS = {"queries": 64, "distribution": "bernoulli", "mask_size": (7, 7)}


@pytest.fixture(scope="module")
def cluster():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test's models travel to the workers
    yield
    ray.shutdown()


class DiesOnce(torch.nn.Module):
    """A model whose process kills itself (SIGKILL) the first time it answers after ``marker``
    appears as a file: a worker lost mid-run."""

    def __init__(self, marker: str):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(196, 5))
        self.marker = marker
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), 9)
        return self.net(x)


def rows(out):
    table = read_results(out).to_pylist()
    ids = [row["id"] for row in table]
    assert len(ids) == len(set(ids)), "an id was written twice"
    return {row["id"]: row for row in table}


def test_ray_gives_the_local_rows_even_when_a_worker_is_killed(cluster, tmp_path):
    x = torch.rand(12, 1, 14, 14, generator=torch.Generator().manual_seed(1))
    marker = str(tmp_path / "killed-once")
    options = RayOptions(actors=2, cpus_per_actor=0.5)
    run = explain_dataset(
        DiesOnce(marker).eval(), x, tmp_path / "ray", settings=SETTINGS, engine="ray", shard_size=3,
        progress=False, ray=options, model_name="net",
    )  # fmt: skip
    assert os.path.exists(marker), "no worker was killed"
    local = explain_dataset(
        DiesOnce(marker).eval(), x, tmp_path / "local", settings=SETTINGS, shard_size=5, progress=False,
        model_name="net",
    )  # fmt: skip
    on_ray, here = rows(tmp_path / "ray"), rows(tmp_path / "local")
    assert sorted(on_ray, key=int) == [str(i) for i in range(12)] == sorted(here, key=int)
    assert all(on_ray[i]["values"] == here[i]["values"] and on_ray[i]["seed"] == here[i]["seed"] for i in here)
    assert run.summary["inputs"] == local.summary["inputs"] == 12 and run.summary["queries"] == 12 * 66


def test_searches_on_ray_actors_match_the_local_ones(cluster, tmp_path):
    from evoxplain.exemplars import ExemplarSearch

    def make_search():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4)).eval()
        generator = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Unflatten(1, (1, 4, 4))).eval()
        return ExemplarSearch(model, generator, latent_dim=4, max_queries=400)

    targets = [0, 1, 2, 3, 0, 1]
    search_many(make_search, targets, tmp_path / "ray", seed=3, chunk=2, engine="ray", progress=False,
                ray=RayOptions(actors=2, cpus_per_actor=0.5))  # fmt: skip
    search_many(make_search, targets, tmp_path / "local", seed=3, chunk=4, progress=False)
    alone = make_search()
    alone.settings = dataclasses.replace(alone.settings, seed=3)
    together = alone.run_many(targets)
    on_ray, here = rows(tmp_path / "ray"), rows(tmp_path / "local")
    for i, result in enumerate(together):
        assert on_ray[str(i)]["latent"] == here[str(i)]["latent"] == result.latent.tolist()
        assert on_ray[str(i)]["queries"] == result.queries


def test_ray_data_reads_tables_and_datasets_with_their_ids(cluster, tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evoxplain.dataset import open_source

    rows = np.random.default_rng(0).random((5, 3))
    pq.write_table(pa.table({"key": list("abcde"), "f1": rows[:, 0], "f2": rows[:, 1], "f3": rows[:, 2]}),
                   tmp_path / "rows.parquet")  # fmt: skip
    table = open_source(tmp_path / "rows.parquet", id_column="key")
    read = sorted(table.ray_dataset({"b"}).take_all(), key=lambda r: r["id"])
    assert [r["id"] for r in read] == ["a", "c", "d", "e"] and list(read[0]["data"]) == list(rows[0])
    dataset = ray.data.from_items([{"name": f"s{i}", "text": t} for i, t in enumerate(["a good film", "so bad"])])
    source = open_source(dataset, id_column="name", column="text")
    assert source.kind == "text" and source.ids() == ["s0", "s1"]

    def words(texts):
        return torch.tensor([[t.count("bad"), t.count("good")] for t in texts], dtype=torch.float32) * 3 - 1

    explain_dataset(words, source, tmp_path / "texts", settings={"queries": 16}, progress=False)
    assert sorted(rows_["id"] for rows_ in read_results(tmp_path / "texts").to_pylist()) == ["s0", "s1"]
