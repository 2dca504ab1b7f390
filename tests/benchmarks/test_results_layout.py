"""benchmarks/results as a reader walks it: run folders with their metadata, a generated index that is
up to date, and FINDINGS.md whose numbers all come from the results."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks import index, paired, tables
from benchmarks.harness import RESULTS

FINDINGS = RESULTS.parent / "FINDINGS.md"


def test_every_result_lies_in_a_run_folder_with_its_metadata():
    assert index.loose_files() == []
    folders = index.run_folders()
    assert len(folders) >= 40
    for folder in folders:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert meta["benchmark"] == folder.parent.name, folder
        assert meta["status"] == "complete" and meta["title"] and meta["date"] and meta["machine"], folder
        assert (folder / "results.md").exists() or (folder / "README.md").exists(), folder
        if meta.get("superseded_by"):
            assert (RESULTS / meta["superseded_by"] / "run.json").exists(), folder
    assert {f.relative_to(RESULTS).parts[0] for f in folders} >= {"aopc", "exemplar_convergence", "archive"}


def test_the_index_is_up_to_date():
    assert (RESULTS / index.INDEX).read_text(encoding="utf-8") == index.render(), "run: python -m benchmarks.index"


def test_findings_are_generated_from_the_results():
    text = FINDINGS.read_text(encoding="utf-8")
    assert tables.filled(text) == text, "run: python -m benchmarks.tables --fill benchmarks/FINDINGS.md"
    assert len(tables.TABLE.findall(text)) >= 5 and len(tables.VALUE.findall(text)) >= 15
    for folder in re.findall(r"\]\((results/[^)#]+)", text):  # every link leads somewhere
        assert (RESULTS.parent / folder).exists(), folder
    assert "DESIGN §" not in text


def test_tables_and_values_read_the_rows():
    rows = tables.rows_of("aopc/imagenet-gpu")
    lime = next(r for r in rows if r["method"] == "LIME" and r["budget"] == 5000)
    assert (
        tables.aopc_value("aopc/imagenet-gpu", "LIME", "5000") == f"{lime['deletion']:.3f} ± {lime['deletion_se']:.3f}"
    )
    line = next(line for line in tables.aopc_table("aopc/imagenet-gpu") if line.startswith("| LIME |"))
    assert (
        f"{lime['deletion']:.3f} ± {lime['deletion_se']:.3f}" in line
        and "[imagenet-gpu](results/aopc/imagenet-gpu/)" in line
    )
    (compared,) = paired.compare(rows, "bGEEX + regression, orthogonal", "KernelSHAP")
    assert compared.endswith(
        tables.paired_value("aopc/imagenet-gpu", "bGEEX + regression, orthogonal", "KernelSHAP", "5000")
    )
    gpu = "exemplar_convergence/gpu-fer-dcgan-fitted"  # written before the harness: rows kept by method
    assert tables.json_value(gpu, "%", "methods", "ES", "success_rate") == "97.8 %"
    ratio = tables.results_of(gpu)["batching"]["all_per_s"] / tables.results_of(gpu)["batching"]["sequential_per_s"]
    assert tables.json_value(gpu, ".3f", "batching", "all_per_s", "/", "batching", "sequential_per_s") == f"{ratio:.3f}"
    designs = "stderr_calibration/mnist-designs"  # two filters, one of a nested field
    picked = tables.found(
        tables.results_of(designs), ("rows", "method=GE (σ 0.1)", "settings.design=orthogonal", "elements")
    )
    assert picked == tables.results_of(designs)["rows"][1]["elements"]
    with pytest.raises(ValueError):  # a filter that leaves two rows is refused, not guessed
        tables.found(tables.results_of(designs), ("rows", "method=GE (σ 0.1)", "elements"))


def test_the_docs_numbers_are_generated_from_the_results():
    page = RESULTS.parents[1] / "docs" / "method.md"
    text = page.read_text(encoding="utf-8")
    stale = "run: python -m benchmarks.tables --fill docs/method.md"
    assert tables.filled(text, tables.results_base(page)) == text, stale
    assert len(tables.VALUE.findall(text)) >= 6  # the small-image default's own numbers, and against IG
