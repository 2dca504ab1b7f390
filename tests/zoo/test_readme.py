"""The README is a short guide whose examples run as pasted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoxplain.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_is_at_most_150_lines_and_every_command_it_names_exists():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150
    commands = {line.split()[1] for block in blocks("bash") for line in block.splitlines() if line.startswith("evox")}
    assert commands == {"explain", "exemplars"}
    for name in ("explain", "exemplars", "models", "data"):
        assert CliRunner().invoke(app, [name, "--help"]).exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("index", range(3))
def test_the_readme_python_examples_run_as_pasted(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[index]
    exec(compile(code, f"README python block {index + 1}", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert printed.strip(), "each example prints its result"


def test_the_readme_endpoint_example_names_real_objects():
    code = next(block for block in blocks("python") if "evoxplain.endpoints" in block)
    offline, query = code.rsplit("\n", 2)[0], code.strip().splitlines()[-1]
    names: dict = {}
    exec(compile(offline, "README endpoint block", "exec"), names)
    from evoxplain.endpoints import JSONEndpoint

    assert isinstance(names["any_api"], JSONEndpoint)
    assert names["lenet"].startswith("http://127.0.0.1") and ".explain(digit)" in query
