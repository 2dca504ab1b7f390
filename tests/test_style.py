"""The house style, checked on the source: no function over 60 lines of code, and keyword arguments
in every call of the project's own functions and classes that passes more than three arguments."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "evoxplain"
ZOO = ROOT / "zoo" / "src"
MOST_LINES = 60
MOST_POSITIONAL = 3


def code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    """Lines of a function that are neither blank, comments, nor its docstring."""
    body = function.body
    doc = body[0] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else None
    skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc else set()
    lines = range(function.lineno, function.end_lineno + 1)
    return sum(
        1 for n in lines if n not in skip and source[n - 1].strip() and not source[n - 1].strip().startswith("#")
    )


def parsed(*folders: Path) -> dict[str, ast.Module]:
    """Every Python file under ``folders``, parsed, by its path relative to the checkout."""
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for folder in folders
        for path in sorted(folder.rglob("*.py"))
    }


def long_functions(path: str, tree: ast.Module) -> dict[str, int]:
    """``path:name`` → code lines of each function in ``tree`` over :data:`MOST_LINES`."""
    source = (ROOT / path).read_text(encoding="utf-8").splitlines()
    functions = (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))
    counts = {f"{path}:{node.lineno}:{node.name}": code_lines(node, source) for node in functions}
    return {name: count for name, count in counts.items() if count > MOST_LINES}


def defined_names(trees: dict[str, ast.Module]) -> set[str]:
    """The names of every function, method and class defined in ``trees`` (and ``cls``, a class's own)."""
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return {node.name for tree in trees.values() for node in ast.walk(tree) if isinstance(node, kinds)} | {"cls"}


def callee(call: ast.Call) -> str | None:
    """The name a call calls: ``f`` for ``f(...)`` and ``obj.f(...)``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def positional_calls(trees: dict[str, ast.Module], names: set[str]) -> dict[str, int]:
    """``path:line:callee`` → positional arguments of each call of one of ``names`` with more than
    :data:`MOST_POSITIONAL` of them (``*args`` not counted)."""
    found = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and callee(node) in names:
                count = sum(1 for arg in node.args if not isinstance(arg, ast.Starred))
                if count > MOST_POSITIONAL:
                    found[f"{path}:{node.lineno}:{callee(node)}"] = count
    return found


def test_code_lines_counts_code_only():
    source = (
        'def f(a,\n      b):\n    """Doc,\n    two lines."""\n\n    # a comment\n    x = a  # trailing\n    return x\n'
    )
    function = ast.parse(source).body[0]
    assert code_lines(function, source.splitlines()) == 4


def test_no_function_in_the_library_or_the_zoo_is_over_60_lines_of_code():
    trees = parsed(LIBRARY, ZOO)
    assert len(trees) > 20
    long = {name: count for path, tree in trees.items() for name, count in long_functions(path, tree).items()}
    assert long == {}


def test_calls_of_the_library_s_own_functions_pass_more_than_three_arguments_by_keyword():
    trees = parsed(LIBRARY)
    names = defined_names(trees)
    assert {"BlackBox", "explain_dataset", "ChunkWorker"} <= names
    assert positional_calls(trees, names) == {}


def test_the_positional_call_check_finds_a_call_of_a_project_function():
    tree = ast.parse("def f(a, b, c, d): ...\nf(1, 2, 3, 4)\nf(1, 2, 3, d=4)\nf(*range(4))\nzip(1, 2, 3, 4)\n")
    trees = {"example.py": tree}
    assert positional_calls(trees, defined_names(trees)) == {"example.py:2:f": 4}
