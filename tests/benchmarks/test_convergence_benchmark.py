"""The exemplar convergence benchmark (benchmarks/exemplar_convergence.py) on tiny cases."""

from __future__ import annotations

import json
import shlex

import pytest
import torch
from evoxplain_zoo.models.fer import init_module
from torch import nn

from benchmarks import exemplar_convergence as bench
from benchmarks import momentum_dimension as study
from benchmarks.harness import BenchmarkError, parse_settings


class TinyGenerator(nn.Module):
    """Latents (B, 4) -> 'images' (B, 1, 6, 6) in [0, 1]."""

    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 36, device="meta"), nn.Sigmoid(), nn.Unflatten(1, (1, 6, 6)))
        self.to_empty(device="cpu")
        init_module(self, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def tiny_models():
    """A confident 3-class linear classifier on a linear-sigmoid generator, seeded, no global RNG."""
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(36, 3, device="meta"))
    classifier.to_empty(device="cpu")
    init_module(classifier, 2)
    with torch.no_grad():
        classifier[1].weight.mul_(10)
    info = {
        "source": "test",
        "classifier": "tiny.pt",
        "classifier_sha256": bench.weights_digest(classifier),
        "generator": "tiny",
        "generator_file": None,
        "generator_sha256": "0",
        "latent_dim": 4,
    }
    gen = TinyGenerator()
    return bench.Models(
        classifier.eval().requires_grad_(False), gen.eval().requires_grad_(False), ["a", "b", "c"], info
    )


def tiny(tmp_path, **settings) -> bench.Settings:
    return bench.Settings(no_accuracy=True, out=tmp_path, **settings)


def test_report_rows_criteria_and_counts(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the recorded command is compared without it
    settings = tiny(tmp_path, runs=5, budget=250, methods=["ES-momentum", "CMA-ES", "GD-Adam"], gd_runs=3, chunk=2,
                    sequential_runs=3)  # fmt: skip
    rows = bench.run(settings, models=tiny_models())
    saved = json.loads((tmp_path / "results.json").read_text())
    meta = json.loads((tmp_path / "run.json").read_text())
    md = (tmp_path / "results.md").read_text()
    methods = bench.methods_of(saved)
    assert methods.keys() == {r["method"] for r in rows} == {"ES-momentum", "CMA-ES", "GD-Adam"}
    assert saved["rows"] == rows and meta["status"] == "complete"
    assert meta["command"].startswith("python -m benchmarks.exemplar_convergence --runs 5 --budget 250")
    words = shlex.split(meta["command"])
    assert parse_settings(bench.Settings, words[words.index("benchmarks.exemplar_convergence") + 1 :]) == settings
    assert meta["versions"]["torch"] == torch.__version__ and "logical CPUs" in meta["machine"]
    assert meta["machine"] in md and "`" + meta["command"] + "`" in md
    es_records = methods["ES-momentum"]["records"]
    for method, row in methods.items():
        rec = row["records"]
        runs = 3 if method == "GD-Adam" else 5
        assert row["runs"] == len(rec["run"]) == runs
        assert rec["run"] == rec["stream"] == list(range(runs))  # chunks keep run i on stream i
        assert rec["target"] == [i % 3 for i in range(runs)] == es_records["target"][:runs]
        assert row["converged"] == sum(rec["converged"]) and row["converged_best"] == sum(rec["converged_best"])
        assert row["queries"]["n"] == row["converged"] and row["queries_to_best"]["n"] == row["converged_best"]
        assert max(rec["queries"]) <= 250
        assert row["queries_total"] == sum(rec["queries"]) == row["queries_counted_by_blackbox"]
        assert f"| {method} | {runs} | {row['converged']} (" in md
    assert methods["ES-momentum"]["converged"] >= 3  # a confident model: the check is not 0 == 0
    assert "converged (paper)" in md and "converged (best)" in md
    assert saved["batching"]["runs"] == 3
    assert saved["batching"]["all_runs"] == 5 and "× the one-at-a-time rate" in md  # all 5, in chunks after 3
    both = zip(es_records["converged"], methods["CMA-ES"]["records"]["converged"], strict=True)
    vs_cma = saved["headline"]["ES-momentum vs CMA-ES"]["paper"]
    assert vs_cma["paired"]["runs"] == sum(a and b for a, b in both)
    assert vs_cma["mean_queries"][0] == methods["ES-momentum"]["queries"]["mean"]
    assert "GD-Adam vs ES-momentum (wall)" in saved["headline"] and "logits ×" not in md
    # rounds: batches one after another; ES sends 50 then 20 per generation, GD one input per step
    es, gd = methods["ES-momentum"], methods["GD-Adam"]
    assert es["records"]["rounds"] == [1 + (q - 50) // 20 for q in es["records"]["queries"]]
    assert gd["records"]["rounds"] == gd["records"]["queries"]
    wall = saved["headline"]["GD-Adam vs ES-momentum (wall)"]
    assert wall["rounds_per_converged"][1] == sum(es["records"]["rounds"]) / es["converged"]
    assert wall["rounds_ratio"] == pytest.approx(wall["rounds_per_converged"][0] / wall["rounds_per_converged"][1])
    assert f"model rounds per converged exemplar: {wall['rounds_ratio']:.1f}×" in md
    # one at a time (the paper's timing): the first 3 runs of ES-momentum and of GD, each alone
    for row in (es, gd):
        one = row["one_at_a_time"]
        assert one["runs"] == 3 and len(one["sequential_seconds"]) == 3 and one["same_queries"] == 3
        assert one["sequential_converged"] == row["records"]["converged"][:3]
    alone = wall["one_at_a_time"]
    assert alone["converged"] == [sum(gd["records"]["converged"][:3]), sum(es["records"]["converged"][:3])]
    seconds = [sum(r["one_at_a_time"]["sequential_seconds"]) / c for r, c in zip((gd, es), alone["converged"])]
    assert alone["ratio"] == pytest.approx(seconds[0] / seconds[1])
    assert "each search alone (the paper's timing)" in md
    assert "one_at_a_time" not in methods["CMA-ES"]


def test_logit_scale_is_announced_and_changes_confidence(tmp_path):
    (row,) = bench.run(tiny(tmp_path, runs=2, budget=90, methods=["random"], logit_scale=0.25), models=tiny_models())
    md = (tmp_path / "results.md").read_text()
    body = md.split("\n\n", 2)[2]  # below the title and the run's metadata
    assert body.startswith("> **The black box is the classifier's logits × 0.25**")
    assert json.loads((tmp_path / "results.json").read_text())["settings"]["logit_scale"] == 0.25
    assert row["target_probability"]["mean"] < 0.9  # softened: 3 classes, T = 4


def test_es_hyperparameters_reach_the_search_and_the_report(tmp_path):
    settings = tiny(tmp_path, runs=2, budget=90, methods=["ES-momentum", "ES"], momentum=0.6, step=0.25)
    bench.run(settings, models=tiny_models())
    params = json.loads((tmp_path / "results.json").read_text())["search_params"]
    assert (params["ES-momentum"]["momentum"], params["ES-momentum"]["step"]) == (0.6, 0.25)
    assert (params["ES"]["momentum"], params["ES"]["step"]) == (0.0, 0.25)
    assert "s = 0.25, u = 5, α = 0.6 or 0" in (tmp_path / "results.md").read_text()


def test_chunks_equal_one_run_many():
    models = tiny_models()
    settings = bench.Settings(budget=170, no_accuracy=True).resolved()
    targets = [0, 1, 2, 0, 1]
    for method in ("ES", "GD-momentum"):
        whole = bench.make_search(method, models, settings).run_many(targets)
        search = bench.make_search(method, models, settings)
        parts = [
            r
            for lo, hi in bench.chunk_bounds(5, 2, first=1)
            for r in search.run_many(targets[lo:hi], streams=range(lo, hi))
        ]
        assert [r.queries for r in parts] == [r.queries for r in whole]
        same = torch.equal if method == "ES" else lambda a, b: torch.allclose(a, b, atol=1e-5)  # GD: batched backward
        assert all(same(a.latent, b.latent) for a, b in zip(parts, whole, strict=True))
    assert bench.chunk_bounds(7, 3, first=2) == [(0, 2), (2, 5), (5, 7)]


def test_targets_and_options_are_checked():
    names = ["angry", "disgust", "fear", "happy"]
    assert bench.parse_targets("Happy,0,fear", names) == [3, 0, 2]
    assert bench.parse_targets(None, names) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown target 'joy'"):
        bench.parse_targets("joy", names)
    for bad in ({"methods": ["ES", "annealing"]}, {"gd_runs": 300}, {"budget": 20}):
        with pytest.raises(BenchmarkError):
            bench.Settings(**bad).resolved()
    with pytest.raises(SystemExit, match="--methods: unknown"):  # before anything is loaded
        bench.main(["--methods", "ES,annealing"])


def test_shipped_fer_models_load_by_name():
    models = bench.load_models("fer", "fer-vae")
    images = models.generator(torch.zeros(2, models.generator.latent_dim))
    assert images.shape == (2, 1, 48, 48) and 0 <= images.min() and images.max() <= 1
    assert models.classifier(images).shape == (2, 7) and models.class_names[3] == "happy"
    info = models.info
    assert (info["classifier"], info["generator_file"]) == (
        "fer-classifier.safetensors",
        "fer-vae.safetensors",
    )  # names, not paths
    assert info["classifier_sha256"] == bench.weights_digest(models.classifier) and len(info["generator_sha256"]) == 12
    assert bench.classifier_file("fer", half=0) == "fer-classifier-half0.safetensors"
    fitted = bench.load_models("fer", "fer-dcgan", fitted=True)
    assert fitted.info["classifier"] == "fer-classifier-fitted.safetensors"
    assert fitted.info["classifier_sha256"] != info["classifier_sha256"]
    disjoint = bench.load_models("fer", "fer-vae-disjoint", fitted=True).info  # paired with half 0's
    assert disjoint["classifier"] == "fer-classifier-half0-fitted.safetensors"
    assert disjoint["classifier_sha256"] not in (info["classifier_sha256"], fitted.info["classifier_sha256"])


def test_classifier_check_says_how_far_the_rule_is_from_real_images(data_root):
    from evoxplain_zoo.models.generators import load_exemplar_classifier

    classifier, classes = load_exemplar_classifier("fer")
    check = bench.classifier_check(classifier, "fer", str(data_root), classes, 0.95)
    assert check["test_images"] == 1311 and 0.5 < check["test_accuracy"] < 0.53
    sad, happy = check["per_class"]["sad"], check["per_class"]["happy"]
    assert sad["max_probability"] < 0.95 and sad["own_share_ge_confidence"] == 0  # no real face is that sad
    assert happy["max_probability"] > 0.95 and happy["own_share_ge_confidence"] > 0.2
    rows = {"ES": {"per_class": {name: {"converged": 1, "runs": 2} for name in classes}}}
    lines = bench.per_class_lines(rows, classes, check)
    assert lines[-2].startswith("| *real test images: highest p(class)* |")
    assert f"| {sad['max_probability']:.3f} |" in lines[-2]


def test_momentum_dimension_study_pairs_the_same_runs(tmp_path):
    rows = study.main("--runs 14 --scales 2 --latent-dims 16,32 --out".split() + [str(tmp_path)])
    assert [(r["latent_dim"], r["scale"]) for r in rows] == [(16, 2.0), (32, 2.0)]
    for row in rows:
        assert row["paired_runs"] <= min(row["converged"]) and row["converged"][0] >= 10
        ours, plain = row["paired_mean_queries"]
        assert row["percent_fewer_paired"] == pytest.approx(100 * (1 - ours / plain))
        assert row["percent_fewer_paired_se"] > 0
    again = study.compare(16, 2.0, runs=14, budget=5050, momentum=0.3)
    assert again == rows[0]  # seeded: the same searches again
    md = (tmp_path / "results.md").read_text()
    command = json.loads((tmp_path / "run.json").read_text())["command"]
    assert "| 2 | 32 | " in md and command in md and "--latent-dims 16,32" in command
