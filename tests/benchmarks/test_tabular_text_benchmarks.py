"""The tabular and text benchmarks on tiny cases: their exact values are exact, their curves are
the curves they say, every method spends the budget it is given, and resume runs only what is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import feature_scores as fs
from benchmarks import tabular, text


def test_curves_remove_or_restore_the_top_features_first():
    values = np.array([[0.5, -1.0, 2.0]])
    deletion = fs.step_masks(values, "deletion")[0]
    assert deletion.tolist() == [[1, 1, 1], [1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert fs.step_masks(values, "insertion")[0].tolist() == (~deletion).tolist()
    curve = np.array([[1.0, 0.5, 0.0, 0.0]])
    assert fs.aopc(curve, "deletion")["score"] == pytest.approx(1 - 1.5 / 4)


def small_table(settings: tabular.Settings, features: int) -> tabular.Table:
    """The breast cancer table cut to its first ``features`` columns (few enough to enumerate)."""
    table = tabular.load_table(settings)
    cut = lambda x: x[..., :features]  # noqa: E731
    ids = table.ids[:features]
    return table._replace(
        train=cut(table.train),
        held_out=cut(table.held_out),
        scored=cut(table.scored),
        ids=ids,
        baseline=cut(table.baseline),
    )


@pytest.mark.parametrize("name", ["forest", "boosting"])
def test_enumerated_shapley_values_equal_shaps_tree_explainer(name):
    """The forest's probability and the boosting's log-odds: TreeSHAP is exact there, and so is enumeration."""
    shap = pytest.importorskip("shap", reason="shap is in the benchmarks extra: pip install -e '.[benchmarks]'")

    settings = tabular.Settings(dataset="breast_cancer", rows=4, held_out=1)
    table = small_table(settings, 6)
    model = tabular.wrap(name, tabular.fit_model(name, table, seed=0).estimator, logit=name == "boosting")
    targets = tabular.probabilities(model, table.scored).argmax(1)
    enumerated = tabular.exact_values(model, table=table, x=table.scored, targets=targets)  # 6 features: enumerated
    output = "raw" if name == "boosting" else "probability"
    reference = shap.TreeExplainer(
        model.estimator,
        data=table.baseline[None].astype(float),
        feature_perturbation="interventional",
        model_output=output,
    ).shap_values(table.scored.astype(float))
    reference = np.asarray(reference)
    if name == "forest":
        reference = reference[np.arange(4), :, targets]
    else:  # the log-odds z of class 1; the black box's logits are ±z/2
        reference = np.where(targets[:, None] == 1, reference, -reference) / 2
    assert np.allclose(enumerated, reference, atol=1e-6)
    assert np.allclose(
        enumerated.sum(1),
        tabular.score_of(model, table.scored, targets)
        - tabular.score_of(model, np.repeat(table.baseline[None], 4, 0), targets),
        atol=1e-5,
    )


def test_a_tiny_tabular_run_measures_every_method_and_resumes(data_root, tmp_path):
    pytest.importorskip("shap", reason="shap is in the benchmarks extra: pip install -e '.[benchmarks]'")
    common = {"rows": 3, "held_out": 2, "models": ["logistic", "forest"], "train_rows": 600}
    common.update(data=data_root, out=tmp_path)
    rows = tabular.run(tabular.Settings(dataset="adult", budgets=[40], **common))
    by = {(r["model"], r["method"], r["budget"]): r for r in rows}
    assert len(rows) == 3 + 2 * len(tabular.CANDIDATES)  # Banzhaf values for the forest, the logit is additive
    assert ("forest", "exact Banzhaf", None) in by and ("logistic", "exact Banzhaf", None) not in by
    for model in ("logistic", "forest"):
        exact = by[(model, "exact Shapley", None)]
        assert exact["completeness_gap"] < 1e-5 and exact["spearman"][0] == pytest.approx(1.0)
        assert by[(model, "shap KernelExplainer", 40)]["queries"] == 42
        assert by[(model, "KernelSHAP", 40)]["queries"] == 40 and by[(model, "LIME", 40)]["queries"] == 41
        regression = by[(model, "bGEEX regression", 40)]
        assert regression["queries"] == 42 and len(regression["held_out"]) == 4
        assert regression["settings"] == regression["held_out"][0]["settings"]  # the held-out choice is scored
    # enumerated coalitions: every forest row is measured against the exact Banzhaf values too
    assert all("banzhaf_spearman" in r for r in rows if r["model"] == "forest" and r["budget"])
    assert not any("banzhaf_spearman" in r for r in rows if r["model"] == "logistic")
    # a linear logit in 14 features: the regression is exact once the pairs span the features
    assert by[("logistic", "bGEEX regression", 40)]["spearman"][0] > 0.95
    again = tabular.run(tabular.Settings(dataset="adult", budgets=[40, 60], methods=["bGEEX"], resume=True, **common))
    kept = lambda found: sorted((r for r in found if r["budget"] == 40), key=tabular.key)  # noqa: E731
    assert kept(again) == kept(json.loads(json.dumps(rows)))  # kept as measured (as saved), not run again
    assert {(r["model"], r["budget"]) for r in again if r["method"] == "bGEEX"} == {
        (m, b) for m in ("logistic", "forest") for b in (40, 60)
    }
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["status"] == "complete" and "&&" in meta["command"]


def test_a_tiny_text_run_scores_every_method(data_root, tmp_path):
    settings = text.Settings(sentences=2, held_out=1, budgets=[20], data=data_root, out=tmp_path)
    rows = {r["method"]: r for r in text.run(settings)}
    scored = json.loads((tmp_path / "results.json").read_text())["sentences"]["scored"]
    tokens = [len(s.split()) for s in scored]
    assert rows["bGEEX"]["queries_per_sentence"] == [22, 22] and rows["LIME"]["queries_per_sentence"] == [21, 21]
    assert rows["Occlusion"]["queries_per_sentence"] == [t + 1 for t in tokens] and rows["Occlusion"]["budget"] is None
    assert rows["Occlusion"]["stability"][0] == pytest.approx(1.0)  # deterministic
    for row in rows.values():
        assert all(-1 <= v <= 1 for v in row["stability_per_sentence"]) and row["deletion"][0] < 1
