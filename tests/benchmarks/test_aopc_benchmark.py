"""The AOPC benchmark (benchmarks/aopc.py) on a tiny MNIST case: settings chosen on held-out
images, finalists carried to the larger budget, and ``--resume`` running only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import aopc as bench
from benchmarks import paired
from benchmarks.harness import BenchmarkError
from evoxplain import BlackBox as bench_blackbox


def rows_of(folder: Path) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["rows"]


def tiny(data_root: Path, **settings) -> bench.Settings:
    """MNIST, two scored and two held-out images, small batches."""
    return bench.Settings(**{"dataset": "mnist", "data": str(data_root), "images": 2, "held_out": 2, "batch_size": 64,
                             **settings})  # fmt: skip


def test_resume_keeps_earlier_rows_and_runs_only_the_missing_ones(data_root, tmp_path, monkeypatch):
    common = ["--dataset", "mnist", "--data", str(data_root), "--images", "2", "--held-out", "2"]
    common += ["--batch-size", "64", "--out", str(tmp_path)]
    monkeypatch.setattr(bench, "forward_seconds_per_query", lambda *args: 0.001)  # each run measures its own
    bench.main(common + ["--budgets", "20", "--methods", "bGEEX"])
    (first,) = rows_of(tmp_path)
    assert (first["method"], first["budget"], first["queries"]) == ("bGEEX", 20, 22)
    assert len(first["finalists"]) == bench.FINALISTS
    assert first["settings"] == first["finalists"][0]  # the best on held-out images is the one scored
    assert len(first["held_out"]) == 10 and first["held_out"][0]["settings"] == first["settings"]
    scores = [c["deletion"] for c in first["held_out"]]
    assert scores == sorted(scores, reverse=True)  # every candidate's held-out score, best first
    md = (tmp_path / "results.md").read_text()
    assert f"- bGEEX @ 20: {scores[0]:.3f} (" in md and md.count("distribution=bernoulli") == 10 + 1

    monkeypatch.setattr(bench, "forward_seconds_per_query", lambda *args: 0.002)
    bench.main(common + ["--budgets", "20", "40", "--methods", "bGEEX", "RISE", "--resume"])
    rows = rows_of(tmp_path)
    assert [(r["method"], r["budget"]) for r in rows] == [("bGEEX", 20), ("bGEEX", 40), ("RISE", 20), ("RISE", 40)]
    assert rows[0] == first  # kept as measured, not run again
    assert rows[1]["settings"] in first["finalists"]  # the larger budget searches the smaller one's finalists
    assert rows[1]["queries"] == 42
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["command"].count("python -m benchmarks.aopc") == 2 and "&&" in meta["command"]
    assert [r["forward_seconds_per_query"] for r in rows] == [0.001, 0.002, 0.002, 0.002]
    for r in rows:  # 'x forward' against the forward speed its own run measured
        assert r["x_forward"] == pytest.approx(r["seconds"] / (r["queries"] * r["forward_seconds_per_query"]))
    md = (tmp_path / "results.md").read_text()
    assert "run by run**: 0.001 for bGEEX @ 20; 0.002 for bGEEX @ 40, RISE @ 20, RISE @ 40\n" in md
    setup = json.loads((tmp_path / "results.json").read_text())["setup"]
    older = {"meta": {**setup, "forward seconds per query": "0.0322 (the model alone)"}, "rows": [{"method": "X"}]}
    assert bench.earlier_rows(older, setup)[0]["forward_seconds_per_query"] == 0.0322  # rows saved before the key

    with pytest.raises(SystemExit, match="held-out images"):  # another setup is never mixed in
        other = [*common[:7], "3", *common[8:]]  # three held-out images instead of two
        bench.main(other + ["--budgets", "20", "--methods", "RISE", "--resume"])
    assert len(rows_of(tmp_path)) == 4


def test_small_grid_searches_a_few_candidates_around_the_large_image_defaults():
    from evoxplain.attribution.defaults import gaussian_mask, recommended_settings

    full, small = bench.grids("imagenet"), bench.grids("imagenet", "small")
    assert small.keys() == full.keys()
    for name, (cls, candidates) in small.items():
        assert cls is full[name][0] and 0 < len(candidates) <= len(full[name][1])
        assert all(c.get("fitness", "prob") == "prob" for c in candidates)  # the default row: its own
    default = recommended_settings((3, 224, 224))  # the regression at 14×14, not integrated: among the candidates
    regression = small["bGEEX + regression, orthogonal"][1]
    assert any(c["mask_size"] == default["mask_size"][0] and c["integrated"] is False for c in regression)
    assert all(c["design"] == default["design"] for c in regression)
    assert regression == [{**c, "design": "orthogonal"} for c in small["bGEEX + regression"][1]]
    assert len(regression) == 6 and len(small["bGEEX"][1]) == 3
    gers = small["GEEX + resize, shared"][1]  # and the CLI's GERS mask with its σ
    assert any(c["mask_size"] == gaussian_mask((3, 224, 224))[0] and c["sigma"] == 0.2 for c in gers) and len(gers) == 4
    with pytest.raises(BenchmarkError, match="for ImageNet"):
        bench.grids("mnist", "small")


def test_methods_run_in_the_order_named_and_a_misspelt_one_is_refused():
    chosen = bench.chosen_methods(
        "imagenet", "small", [5000, 1000], ["Saliency (white-box)", "RISE", "Saliency (white-box)"]
    )
    assert [(name, budgets) for name, _, _, budgets in chosen] == [
        ("Saliency (white-box)", [None]),
        ("RISE", [1000, 5000]),
    ]
    everything = bench.chosen_methods("imagenet", "small", [1000], None)
    every = [*bench.grids("imagenet", "small"), *bench.unbudgeted("imagenet")]
    assert [m[0] for m in everything] == [name for name in every if name not in bench.NAMED_ONLY]
    with pytest.raises(BenchmarkError, match="no method named 'Rise'.*'RISE'"):
        bench.chosen_methods("imagenet", "small", [1000], ["RISE", "Rise"])


def test_plan_counts_the_inputs_a_run_sends(data_root, tmp_path, monkeypatch, capsys):
    args = ["--dataset", "mnist", "--data", str(data_root), "--images", "2", "--held-out", "2", "--budgets", "20"]
    args += ["--batch-size", "64", "--out", str(tmp_path), "--methods", "RISE", "Occlusion"]
    bench.main([*args, "--plan"])
    assert not (tmp_path / "results.json").exists()  # nothing run
    plan = capsys.readouterr().out.splitlines()
    # RISE: 6 candidates on 2 held-out images, (22 + 80) inputs each; 2 scored, 22 + 2 × 80 each; Occlusion 170
    assert plan == ["RISE @ 20: 2k inputs", "Occlusion @ —: 1k inputs", "in all: 0.00M model inputs for 2 rows"]
    methods = bench.chosen_methods("mnist", "full", [20], ["RISE", "Occlusion"])
    assert bench.planned_inputs(methods, set(), "mnist", 2, 2, 10) == [
        ("RISE", 20, 2 * 6 * (22 + 80) + 2 * (22 + 160)),
        ("Occlusion", None, 2 * (170 + 160)),
    ]
    assert bench.planned_inputs(methods, {("RISE", 20)}, "mnist", 2, 2, 10) == [("Occlusion", None, 660)]

    blackboxes = []  # the run itself: every input its model sees, against the plan
    monkeypatch.setattr(
        bench, "BlackBox", lambda *a, **kw: blackboxes.append(bench_blackbox(*a, **kw)) or blackboxes[-1]
    )
    monkeypatch.setattr(bench, "forward_seconds_per_query", lambda *args: 0.001)
    bench.main(args)
    sent = blackboxes[0].queries - 4  # less the predicted classes of the 2 + 2 images
    planned = sum(inputs for *_, inputs in bench.planned_inputs(methods, set(), "mnist", 2, 2, 10))
    explanations = 6 * 2 + 2 + 2  # the plan allows two extra inputs per explanation (input and baseline)
    assert planned - 2 * explanations <= sent <= planned


def test_resume_never_mixes_a_small_grid_run_with_a_full_one():
    setup = {key: "same" for key in bench.SAME_SETUP if key != "candidate grid"}
    full = {"meta": {**setup, "machine": "m", "date": "d"}, "rows": [{"method": "GE"}]}  # written before the harness
    assert bench.earlier_rows(full, dict(setup))[0] == {"machine": "m", "date": "d", "method": "GE"}
    with pytest.raises(BenchmarkError, match="candidate grid"):
        bench.earlier_rows(full, {**setup, "candidate grid": "small"})
    now = {"setup": setup, "rows": [{"method": "GE", "machine": "n", "date": "e"}]}  # each row says where it ran
    assert bench.earlier_rows(now, dict(setup))[0] == {"method": "GE", "machine": "n", "date": "e"}


def test_paired_comparison_of_two_rows(tmp_path):
    rows = [
        {"method": "A", "budget": 1000, "deletion_per_instance": [0.9, 0.8, 0.7]},
        {"method": "B", "budget": 1000, "deletion_per_instance": [0.8, 0.8, 0.6]},
        {"method": "A", "budget": 5000, "deletion_per_instance": [0.9, 0.9, 0.9]},
        {"method": "B", "budget": None, "deletion": 0.5},  # no per-image scores: not compared
    ]
    # differences 0.1, 0, 0.1: mean 0.0667, standard deviation 0.0577, s.e. 0.0333
    assert paired.compare(rows, "A", "B") == [
        "1000 queries: A − B = +0.0667 ± 0.0333 (3 images; better on 2, worse on 0)"
    ]
    white_box = {"method": "IG", "budget": None, "deletion_per_instance": [0.9, 0.7, 0.8]}
    assert paired.compare([*rows, white_box], "A", "IG") == [  # a row without budget meets every budget
        "1000 queries: A − IG = +0.0000 ± 0.0577 (3 images; better on 1, worse on 1)",
        "5000 queries: A − IG = +0.1000 ± 0.0577 (3 images; better on 2, worse on 0)",
    ]
    assert paired.compare([*rows, white_box], "IG", "B") == [
        "1000 queries: IG − B = +0.0667 ± 0.0882 (3 images; better on 2, worse on 1)"
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"meta": {}, "rows": rows}))
    with pytest.raises(SystemExit, match="no budget has per-image scores for both 'A' and 'C'"):
        paired.main([str(path), "A", "C"])


def test_more_images_scored_with_the_settings_an_earlier_run_chose(data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "forward_seconds_per_query", lambda *args: 0.001)
    bench.run(tiny(data_root, budgets=[20], methods=["RISE"], out=tmp_path / "a"))
    (chosen,) = rows_of(tmp_path / "a")
    calls = []
    evaluate = bench.evaluate
    monkeypatch.setattr(
        bench, "evaluate", lambda *args, **kw: calls.append(kw.get("held_out", False)) or evaluate(*args, **kw)
    )
    earlier = tmp_path / "a" / "results.json"
    rows = bench.run(
        tiny(data_root, budgets=[20], methods=["RISE"], first=2, out=tmp_path / "b", settings_from=earlier)
    )
    assert rows == rows_of(tmp_path / "b")
    (row,) = rows
    assert calls == [False]  # the two scored images only: no candidate was tried on the held-out images
    assert row["settings"] == chosen["settings"] and row["held_out"] == chosen["held_out"]
    assert row["deletion_per_instance"] != chosen["deletion_per_instance"]
    setup = json.loads((tmp_path / "b" / "results.json").read_text())["setup"]
    assert setup["scored images"].startswith("2 (from index 2 of") and "results.json" in setup["settings"]
    four = bench.load_images(tiny(data_root, images=4))[1]
    assert bench.load_images(tiny(data_root, first=2))[1].equal(four[2:])
    with pytest.raises(BenchmarkError, match="held-out images"):  # chosen on other held-out images
        bench.run(
            tiny(
                data_root,
                budgets=[20],
                methods=["RISE"],
                held_out=3,
                first=2,
                out=tmp_path / "c",
                settings_from=earlier,
            )
        )
    with pytest.raises(BenchmarkError, match="no row for RISE @ 40"):
        bench.run(tiny(data_root, budgets=[40], methods=["RISE"], out=tmp_path / "c", settings_from=earlier))
    with pytest.raises(BenchmarkError, match="end at 5000"):
        bench.load_images(tiny(data_root, first=4999))


def test_paired_comparison_over_runs_on_other_images(tmp_path, capsys):
    first = {"meta": {"scored images": "2 (the first …)"}, "rows": [
        {"method": "A", "budget": 5000, "deletion_per_instance": [0.9, 0.8]},
        {"method": "B", "budget": 5000, "deletion_per_instance": [0.8, 0.8]},
        {"method": "C", "budget": 5000, "deletion_per_instance": [0.1, 0.1]},  # not in the second run: dropped
    ]}  # fmt: skip
    second = {"meta": {"scored images": "1 (from index 2 …)"}, "rows": [
        {"method": "B", "budget": 5000, "deletion_per_instance": [0.7]},
        {"method": "A", "budget": 5000, "deletion_per_instance": [0.9]},
    ]}  # fmt: skip
    rows = paired.joined([first, second])
    assert [(r["method"], r["deletion_per_instance"]) for r in rows] == [("A", [0.9, 0.8, 0.9]), ("B", [0.8, 0.8, 0.7])]
    # differences 0.1, 0, 0.2: mean 0.1, standard deviation 0.1
    assert paired.compare(rows, "A", "B") == [
        "5000 queries: A − B = +0.1000 ± 0.0577 (3 images; better on 2, worse on 0)"
    ]
    assert paired.mean_line(rows, "B") == ["B @ 5000 queries: mean per-image AOPC deletion 0.7667 ± 0.0333 (3 images)"]
    with pytest.raises(BenchmarkError, match="the same images"):
        paired.joined([first, first])
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(first))
    b.write_text(json.dumps(second))
    paired.main([str(a), "A", "B", "--also", str(b)])
    assert capsys.readouterr().out.splitlines()[0].endswith("+0.1000 ± 0.0577 (3 images; better on 2, worse on 0)")


def test_runs_on_other_images_join_to_the_score_of_one_run_over_all():
    import torch

    from evoxplain.metrics import aopc_deletion

    generator = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(3, 64, generator=generator))
    x = torch.rand(5, 1, 8, 8, generator=generator)
    attributions = torch.randn(5, 1, 8, 8, generator=generator)

    def run(part: slice, label: str) -> dict:
        result = aopc_deletion(model, x[part], attributions[part], stride=4, target=0)
        row = {"method": "A", "budget": 10, "deletion": result.score, "deletion_curve": result.mean_curve.tolist()}
        row["deletion_per_instance"] = result.per_instance.tolist()
        return {"meta": {"scored images": label}, "rows": [row]}

    everything = run(slice(0, 5), "all")["rows"][0]
    (row,) = paired.joined([run(slice(0, 2), "first two"), run(slice(2, 5), "last three")])
    assert row["deletion"] == pytest.approx(everything["deletion"], abs=1e-6)
    assert row["deletion"] != pytest.approx(sum(row["deletion_per_instance"]) / 5, abs=1e-6)  # not the per-image mean
    assert row["deletion_per_instance"] == pytest.approx(everything["deletion_per_instance"], abs=1e-6)
    assert paired.mean_line([row], "A")[0].endswith(f"; AOPC deletion of the averaged curve {row['deletion']:.4f}")


def test_gpu_job_resumes_the_committed_imagenet_run():
    """gpu.sh imagenet resumes the committed run, written before the harness: the setup it would
    measure now is the one that run recorded, and its rows come back with their machine and date."""
    from types import SimpleNamespace

    committed = bench.default_folder(bench.Settings(dataset="imagenet"), "imagenet-gpu") / "results.json"
    earlier = json.loads(committed.read_text())
    settings = bench.Settings(dataset="imagenet", images=64, held_out=16, grid="small", device="cuda",
                              precision="bf16", batch_size=1000, resume=True)  # fmt: skip
    data = SimpleNamespace(scored=[0] * 64, held=[0] * 16, replacement="blur", stride=100, forward_seconds=5e-5)
    rows = bench.earlier_rows(earlier, bench.setup_of(settings, data))
    assert [r["method"] for r in rows] == [r["method"] for r in earlier["rows"]] and len(rows) >= 5
    assert all(r["machine"] == earlier["meta"]["machine"] and r["date"] == earlier["meta"]["date"] for r in rows)
    with pytest.raises(BenchmarkError, match="held-out images"):
        bench.earlier_rows(earlier, bench.setup_of(settings, SimpleNamespace(**{**vars(data), "held": [0] * 3})))


def test_the_fresh_test_set_is_seeded_and_outside_every_earlier_runs_images():
    picked = bench.fresh_indices(27, 100)
    assert picked == bench.fresh_indices(27, 100) and picked != bench.fresh_indices(28, 100)
    assert len(set(picked)) == 100 and picked == sorted(picked)
    assert all(6000 <= i < 10000 for i in picked)  # scored 0-99 and held out 5000-5049 before
    with pytest.raises(BenchmarkError, match="--pick draws"):
        bench.fresh_indices(0, 4001)


def test_every_baseline_matches_the_replacement_and_the_folder_says_which():
    black = bench.Settings(dataset="mnist")
    mean = bench.Settings(dataset="fashion-mnist", replacement="mean", pick=27)
    assert black.baseline == 0.0 and mean.baseline == bench.DATASET_MEAN["fashion-mnist"] == 0.2860
    assert mean.folder.name == "fashion-mnist-fresh-mean" and black.folder.name == "mnist"
    methods = bench.chosen_methods("fashion-mnist", "full", [1000], None, baseline=mean.baseline)
    methods += bench.chosen_methods("fashion-mnist", "full", [1000], ["default", "GEEX reference"], mean.baseline)
    for _, _, grid, _ in methods:
        assert all(c.get("baseline", mean.baseline) == mean.baseline for c in grid)  # SmoothGrad, Saliency: none
    with pytest.raises(BenchmarkError, match="ImageNet deletes to a blurred copy"):
        _ = bench.Settings(dataset="imagenet", replacement="black").baseline


def test_the_shipped_default_row_is_recommended_settings_at_each_budget():
    import torch

    from evoxplain import recommended_settings

    model = bench_blackbox(lambda x: x.flatten(1)[:, :2].softmax(1))
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    for queries in (64, 5000):
        params = bench.ShippedDefault(model, queries=queries, shape=[1, 28, 28], baseline=0.13, seed=0)._params
        wanted = {**recommended_settings((1, 28, 28), queries), "baseline": 0.13, "queries": queries}
        assert {key: params[key] for key in wanted} == wanted
    assert bench.ShippedDefault(model, queries=8, shape=[1, 28, 28], baseline=0.0).explain(image, 0).queries >= 8


def test_the_reference_geex_integrates_the_first_half_of_the_path_only():
    import torch

    # f = x1² (one pixel, through a softmax over [f, 0]): along the path α x the gradient is 2 α x, so the
    # whole path averages to x and the half path [0, ½) to x / 2: the reference's attribution is x · x / 2
    def f(x):
        square = (x.flatten(1)[:, :1] ** 2) * 4
        return torch.cat([square, torch.zeros_like(square)], 1)

    model = bench_blackbox(f, output="logits")
    x = torch.zeros(1, 4, 4)
    x[0, 0, 0] = 0.5
    reference = bench.NotebookGEEX(model, queries=20000, sigma=0.05, baseline=0.0, seed=0).explain(x, 0)
    whole = bench.GEEX(model, queries=20000, sigma=0.05, baseline=0.0, fitness="prob", seed=0).explain(x, 0)
    halfway = whole.values[0, 0, 0]  # p(x) − p(0) along the whole path, about
    probability = torch.softmax(f(x[None]), 1)[0, 0] - 0.5
    assert float(halfway) == pytest.approx(float(probability), rel=0.05)  # complete
    quarter = torch.softmax(f(x[None] / 2), 1)[0, 0] - 0.5  # the half path: p(x/2) − p(0), doubled
    assert float(reference.values[0, 0, 0]) == pytest.approx(2 * float(quarter), rel=0.05)
    assert float(reference.values[0, 0, 0]) < 0.6 * float(halfway)
