"""Attribution maps in shares of the change, report pages and run folders, without a browser."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from report_folders import benchmark_file, dataset_folder, exemplar_folders, explanation_folder, row_folder

from evoxplain import GEEX, BlackBox, EvoxplainError, Explanation
from evoxplain.exemplars.run_folder import read_exemplar_run
from evoxplain.report.benchmark import row_curves
from evoxplain.report.build import build_report, write_report
from evoxplain.runs import read_manifest
from evoxplain.viz import AttributionMap, cell_index, explanation_figure
from evoxplain.viz.maps import overlay_colours

WEIGHTS = torch.tensor([3.0, -1.0, 0.5, 0.0])  # one per 4×4 cell of an 8×8 image


def cell_logits(x: torch.Tensor) -> torch.Tensor:
    """Logit 0 = Σ_c w_c · (mean of cell c): linear in the cells, so the regression is exact."""
    cells = x.reshape(-1, 1, 2, 4, 2, 4).mean((1, 3, 5)).reshape(-1, 4)
    return torch.stack([cells @ WEIGHTS, torch.zeros(len(x))], 1)


def cell_explanation() -> Explanation:
    explainer = GEEX(
        BlackBox(cell_logits, output="logits"), queries=64, distribution="bernoulli", mask_size=(2, 2),
        estimator="regression", integrated=False, fitness="logit", baseline=0.0, seed=0,
    )  # fmt: skip
    return explainer.explain(torch.ones(1, 8, 8), 0)


def test_a_map_holds_one_value_per_mask_cell_in_shares_of_the_change():
    exp = cell_explanation()
    amap = AttributionMap.of(exp)
    assert amap.cells and amap.values.shape == (2, 2)
    np.testing.assert_allclose(amap.values.ravel(), WEIGHTS.numpy(), atol=1e-5)  # exact for a model linear in cells
    assert amap.change == pytest.approx(2.5, abs=1e-5)  # f(x) − f(0) = Σ w
    np.testing.assert_allclose(amap.shares.ravel(), WEIGHTS.numpy() / 2.5, atol=1e-5)
    assert amap.in_shares and amap.unit().startswith("share of the change in the score (logit), per cell")
    assert amap.pixels(amap.values).shape == (8, 8) and amap.pixels(amap.values)[7, 0] == amap.values[1, 0]
    (box, share), *_ = amap.boxes(sign=1, k=1)
    assert box == (0, 4, 0, 4) and share == pytest.approx(1.2, abs=1e-4)


def test_values_within_two_standard_errors_are_muted():
    values = np.array([[1.0, 0.0], [0.3, -0.9]])
    stderr = np.array([[0.1, 0.1], [0.2, np.nan]])
    amap = AttributionMap(values, stderr, cells=True, size=(4, 4), score=0.9, baseline_score=0.1)
    assert amap.significant.tolist() == [[True, False], [False, False]]  # NaN: not known to stand out
    layer, top = overlay_colours(amap)
    assert layer.shape == (4, 4, 4) and top == pytest.approx(1.0 / 0.8)  # limit from the values that stand out
    assert (layer[:2, :2, 3] > 0).all() and (layer[:2, 2:, 3] == 0).all() and (layer[2:, :, 3] == 0).all()


def test_without_a_baseline_score_the_values_stay_in_the_scores_units():
    amap = AttributionMap.from_values(torch.tensor([0.2, -0.1]), score=0.7)
    assert amap.change is None and not amap.in_shares and amap.unit() == "the probability, per feature"
    assert amap.shares.tolist() == pytest.approx([0.2, -0.1])


def test_cell_index_follows_nearest_resizing_of_uneven_sizes():
    index = cell_index((3, 2), (7, 5))
    z = torch.arange(6.0).view(1, 1, 3, 2)
    np.testing.assert_array_equal(index, torch.nn.functional.interpolate(z, size=(7, 5), mode="nearest")[0, 0])


def test_explanation_figure_states_the_probability_and_the_muted_cells(tmp_path):
    exp = cell_explanation()
    fig = explanation_figure(torch.ones(1, 8, 8), exp, label="bright", path=tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert "logit(bright) = " in fig._suptitle.get_text() and "change +2.500" in fig._suptitle.get_text()
    assert "muted: " in fig.axes[1].get_title() and "of 4 cells" in fig.axes[1].get_title()


def test_explanations_keep_a_copy_of_their_input_and_save_it():
    x = torch.rand(1, 8, 8)
    before = x.clone()
    exp = GEEX(BlackBox(cell_logits, output="logits"), queries=16, seed=0).explain(x)
    assert torch.equal(exp.input, x) and exp.input.data_ptr() != x.data_ptr() and torch.equal(x, before)
    batch = GEEX(BlackBox(cell_logits, output="logits"), queries=16, seed=0).explain(torch.rand(2, 1, 8, 8))
    assert batch.input.shape == (2, 1, 8, 8) and torch.equal(batch[1].input, batch.input[1])


def test_explanation_files_round_trip_the_input(tmp_path):
    exp = cell_explanation()
    exp.save(tmp_path / "e.evx")
    assert torch.equal(Explanation.load(tmp_path / "e.evx").input, exp.input)


def test_explain_writes_the_explanation_the_input_and_the_report(tmp_path):
    folder = explanation_folder(tmp_path)
    manifest = read_manifest(folder)
    assert {"explanation", "input", "heatmap", "report"} <= set(manifest.files)
    assert all((folder / name).is_file() for name in manifest.files.values())
    html = (folder / "report.html").read_text()
    assert "Explained class" in html and "802 queries" in html


def test_pages_are_self_contained(tmp_path):
    folders = [explanation_folder(tmp_path), row_folder(tmp_path), dataset_folder(tmp_path), benchmark_file(tmp_path)]
    for folder in folders + list(exemplar_folders(tmp_path).values()):
        html = build_report(folder)
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert not re.findall(r'(?:src|href)="(?!data:)', html), folder  # nothing to fetch
        assert 'header class="run"' in html and "evoxplain:" in html


def test_the_row_report_sorts_features_by_their_contribution(tmp_path):
    html = build_report(row_folder(tmp_path))
    names = re.findall(r"<tr><td>(x\d)</td>", html)
    assert names == ["x5", "x4", "x3", "x2", "x1", "x0"]  # weights 5..0 on class 0, every value 0.5


def test_exemplar_run_folders_keep_one_record_per_search(tmp_path):
    folders = exemplar_folders(tmp_path)
    run = read_exemplar_run(folders["image"])
    assert run["modality"] == "image" and len(run["records"]) == 6  # 2 classes × 3 runs
    assert sum(record["shown"] for record in run["records"]) == 4  # 2 per class
    assert run["records"][0]["top"][0][0] == "top"  # its own class is its largest probability
    manifest = read_manifest(folders["image"])
    assert manifest.kind == "exemplars" and manifest.extra["queries"] == sum(r["queries"] for r in run["records"])
    assert read_exemplar_run(folders["text"])["records"][0]["exemplar"] in ("a good film", "a bad film")


def test_benchmark_rows_give_their_curves_either_way():
    assert row_curves({"deletion_curve": [1, 0]}) == {"deletion": [1.0, 0.0]}
    assert row_curves({"curves": {"insertion": [0, 1]}, "deletion_curve": [1, 0]}) == {
        "insertion": [0.0, 1.0],
        "deletion": [1.0, 0.0],
    }
    assert row_curves({"method": "IG"}) == {}


def test_report_errors_say_what_to_give(tmp_path):
    with pytest.raises(EvoxplainError, match="does not exist"):
        build_report(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvoxplainError, match="holds no manifest.json"):
        build_report(tmp_path / "empty")
    (tmp_path / "notes.json").write_text(json.dumps({"rows": "not a list"}))
    with pytest.raises(EvoxplainError, match="no benchmark results"):
        build_report(tmp_path / "notes.json")


def test_report_command_writes_the_page(tmp_path):
    from typer.testing import CliRunner

    from evoxplain.cli import app

    path = benchmark_file(tmp_path)
    result = CliRunner().invoke(app, ["report", str(path), "-o", str(tmp_path / "out" / "b.html")])
    assert result.exit_code == 0, result.output
    assert "LIME" in (tmp_path / "out" / "b.html").read_text()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert write_report(path, tmp_path / "again.html").is_file()


def test_the_summary_gives_each_region_its_share_of_the_change():
    from evoxplain.cli import summary_text

    text = summary_text("m", cell_explanation(), torch.tensor([0.9, 0.1]), ["bright", "dark"], (1, 8, 8), 66, "bgeex")
    assert "logit(bright) = 2.5000 on the input and 0.0000 on the input at 0.0: a change of +2.5000" in text
    assert "raises it: rows 0-3, columns 0-3: +120.0% of the change" in text  # w = 3 of Σw = 2.5
    assert "lowers it: rows 0-3, columns 4-7: -40.0% of the change" in text
    assert "sum of values: 2.5000 (+100% of the change)" in text
