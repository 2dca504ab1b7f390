"""The layers: the library never imports the papers' apparatus (the evoxplain-zoo distribution)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "src" / "evoxplain"
APPARATUS = ("evoxplain_zoo", "benchmarks")
ZOO_HINT = "needs the evoxplain-zoo distribution (the built-in models): pip install -e ./zoo"


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_library_imports_the_apparatus():
    offenders = {
        str(path.relative_to(LIBRARY)): sorted(n for n in imported_modules(path) if n.split(".")[0] in APPARATUS)
        for path in LIBRARY.rglob("*.py")
    }
    assert len(offenders) > 30  # the walk found the library
    assert {k: v for k, v in offenders.items() if v} == {}


def test_import_evoxplain_loads_no_plugin_and_no_apparatus():
    code = (
        "import sys, evoxplain, evoxplain.attribution, evoxplain.exemplars, evoxplain.metrics; "
        "print(sorted(m for m in sys.modules if m.startswith(('evoxplain_zoo', 'evoxplain.cli'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_library_folder_holds_no_models_or_data():
    assert not list(LIBRARY.rglob("*.pt")) + list(LIBRARY.rglob("*.safetensors")) + list(LIBRARY.rglob("*.npz"))
    assert not (LIBRARY / "zoo").exists() and not (LIBRARY / "data").exists()


def test_the_zoo_is_installed():
    """The zoo's tests and the built-in models need it; CI installs it (a skip here says how)."""
    if importlib.util.find_spec("evoxplain_zoo") is None:
        pytest.skip(ZOO_HINT)
    from evoxplain.plugins import builtin_models, scenarios

    assert {"efficientnet-lite0", "lenet-mnist", "lenet-fashion-mnist"} <= set(builtin_models())
    assert {"adult", "fer", "fashion-mnist", "imdb"} <= set(scenarios())
