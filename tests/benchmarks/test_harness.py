"""The benchmark harness (benchmarks/harness.py): settings from the command line and back, run folders
written as rows come, resume, and the rules every benchmark module keeps."""

from __future__ import annotations

import ast
import doctest
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from benchmarks import harness
from benchmarks.harness import BenchmarkError, RunFolder, option

BENCHMARKS = Path(harness.__file__).parent


@dataclass
class Toy:
    """A benchmark's settings, every kind of option."""

    benchmark: ClassVar[str] = "toy"
    title: ClassVar[str] = "A toy benchmark"
    dataset: str = option(help="required", choices=["a", "b"])
    images: int = option(100, "an int")
    sigma: float = option(0.5, "a float")
    budgets: list[int] = option([1000, 5000], "a list")
    methods: list[str] | None = option(None, "a list or nothing", nargs="*")
    latent_dims: list[int] = option([8, 32], "a list in one word", sep=",")
    out: Path | None = option(None, "a path or nothing")
    resume: bool = option(False, "a flag")


def command_words(settings) -> list[str]:
    words = shlex.split(harness.command_of(settings))
    return words[words.index(f"benchmarks.{settings.benchmark}") + 1 :]


def test_settings_parse_from_the_command_line_and_back(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    parsed = harness.parse_settings(Toy, ["--dataset", "b", "--budgets", "20", "40", "--latent-dims", "16,32"])
    assert parsed == Toy(dataset="b", budgets=[20, 40], latent_dims=[16, 32])
    assert harness.command_of(parsed) == "python -m benchmarks.toy --dataset b --budgets 20 40 --latent-dims 16,32"
    every = Toy(dataset="a", images=3, sigma=0.1, methods=["LIME", "bGEEX + regression"], out=Path("x y"), resume=True)
    assert harness.parse_settings(Toy, command_words(every)) == every  # the command recorded reruns the run
    assert Toy(dataset="a").budgets is not Toy(dataset="a").budgets  # lists are copied, not shared
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert harness.command_of(parsed).startswith("OMP_NUM_THREADS=1 python -m benchmarks.toy ")
    with pytest.raises(SystemExit):  # the required option
        harness.parse_settings(Toy, [])


def test_run_folder_writes_as_rows_come_and_a_cut_run_keeps_them(tmp_path):
    folder = RunFolder(tmp_path / "run", Toy(dataset="a"), render=lambda results: [f"{len(results['rows'])} rows"])
    folder.rows.append({"x": 1})
    folder.save(status="1 of 2 done")  # the run is cut here
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["status"] == "1 of 2 done" and meta["title"] == "A toy benchmark"
    assert {"command", "date", "commit", "machine", "hardware", "versions"} <= meta.keys()
    assert meta["versions"]["torch"] == torch.__version__ and meta["hardware"]["cores"] >= 1
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["rows"] == [{"x": 1}] and saved["meta"] == meta and saved["settings"]["dataset"] == "a"
    md = (tmp_path / "run" / "results.md").read_text()
    assert md.startswith("# A toy benchmark\n") and "**Incomplete**: 1 of 2 done" in md and md.endswith("1 rows\n")
    assert f"`{meta['command']}`" in md and not list((tmp_path / "run").glob("*.part"))
    folder.finish()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "complete"
    assert "Incomplete" not in (tmp_path / "run" / "results.md").read_text()


def test_resume_hands_back_the_earlier_results_and_chains_the_commands(tmp_path):
    first = RunFolder(tmp_path, Toy(dataset="a", budgets=[20]))
    first.rows.append({"budget": 20})
    first.finish()
    fresh = RunFolder(tmp_path, Toy(dataset="a", budgets=[40]))
    assert fresh.earlier is None  # without resume a run starts over
    again = RunFolder(tmp_path, Toy(dataset="a", budgets=[40], resume=True))
    assert again.earlier["rows"] == [{"budget": 20}]
    assert (
        again.meta["command"] == f"{first.meta['command']} && {harness.command_of(Toy('a', budgets=[40], resume=True))}"
    )
    assert RunFolder(tmp_path / "new", Toy(dataset="a", resume=True)).earlier is None  # nothing to resume yet


def test_main_turns_a_benchmark_error_into_an_exit_with_its_message(monkeypatch):
    def run(settings):
        raise BenchmarkError(f"no dataset {settings.dataset!r} here")

    with pytest.raises(SystemExit, match="toy: no dataset 'b' here"):
        harness.main_of(Toy, run, ["--dataset", "b"])
    assert harness.main_of(Toy, lambda settings: settings.images, ["--dataset", "a", "--images", "7"]) == 7


def test_stopwatch_and_metadata():
    with harness.Stopwatch("cpu") as watch:
        time.sleep(0.01)
    assert watch.seconds >= 0.01
    found = harness.machine("cpu")
    assert found["gpu"] is None and str(found["torch_threads"]) in found["summary"]
    commit = harness.git_commit()
    assert commit is None or commit.rstrip("+").isalnum()
    with harness.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert harness.markdown_table(["a", "b"], [[1, "x|y"]])[-1] == "| 1 | x\\|y |"


def test_the_harness_examples_run(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the examples show commands run without it
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(harness, "harness", globs={**vars(harness), "tmp": tmp_path}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5


def code_lines(function: ast.FunctionDef, source: list[str]) -> int:
    """Lines of a function that are neither blank, comments, nor its docstring."""
    body = function.body
    doc = body[0] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else None
    skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc else set()
    lines = range(function.lineno, function.end_lineno + 1)
    return sum(
        1 for n in lines if n not in skip and source[n - 1].strip() and not source[n - 1].strip().startswith("#")
    )


def test_every_benchmark_function_is_at_most_60_lines_and_every_script_uses_the_harness():
    long = {}
    for path in sorted(BENCHMARKS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and code_lines(node, source.splitlines()) > 60:
                long[f"{path.name}:{node.name}"] = code_lines(node, source.splitlines())
        if "def run(settings" in source:  # a benchmark: a Settings dataclass, run, and main through the harness
            assert "class Settings" in source and "main_of(Settings, run, argv)" in source, path.name
            assert "datetime" not in source and "platform" not in source, f"{path.name} writes its own metadata"
    assert long == {}
