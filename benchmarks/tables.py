"""Headline tables and numbers as Markdown, made from the runs' ``results.json``: for FINDINGS.md and the docs.

    python -m benchmarks.tables aopc aopc/imagenet-gpu                  # AOPC by method and budget
    python -m benchmarks.tables aopc aopc/mnist aopc/mnist-exact-logprob  # runs on the same images, merged
    python -m benchmarks.tables seconds gpu_speed/h200                  # seconds per explanation
    python -m benchmarks.tables exemplars exemplar_convergence/gpu-fer-dcgan-fitted
    python -m benchmarks.tables --fill benchmarks/FINDINGS.md           # refresh the marked tables and values
    python -m benchmarks.tables --check benchmarks/FINDINGS.md          # exit with 1 if any is stale

A run is named by its folder under ``benchmarks/results`` (``aopc/imagenet-gpu``). In a Markdown
file, a generated table sits between ``<!-- table KIND RUN... -->`` and ``<!-- /table -->``, a
generated number between ``<!-- value KIND ARGS... -->`` and ``<!-- /value -->`` (arguments as in
a shell: quote names with spaces); ``--fill`` rewrites what is between the markers. The value
kinds: ``aopc RUN METHOD BUDGET`` (AOPC deletion ± s.e.), ``paired RUN A B BUDGET`` (A − B image by
image, :mod:`benchmarks.paired`), ``gain RUN METHOD LOW HIGH`` (a method's gain from one budget to
another, image by image), ``json RUN FORMAT KEY...`` (any number in ``results.json``; a
``field=value`` key picks from a list the elements whose field has that value; ``KEY... / KEY...`` the
ratio of two; FORMAT ``%`` for percent). ``RUN+RUN`` in ``aopc`` and ``paired`` values joins two
AOPC runs on the same images (rows one run measured and another did, compared image by image).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.harness import RESULTS, markdown_table


@cache
def results_of(run: str) -> dict[str, Any]:
    """The ``results.json`` of a run (its folder under ``benchmarks/results``)."""
    return json.loads((RESULTS / run / "results.json").read_text(encoding="utf-8"))


def rows_of(run: str) -> list[dict[str, Any]]:
    """A run's rows (exemplar runs written before the harness kept them by method; gpu_speed's as
    ``explanations``). ``RUN+RUN``: the rows of AOPC runs on the same images, one after the other
    (for values that compare rows measured by two runs, image by image).

    Example:
        >>> len(rows_of("aopc/mnist-fresh+aopc/mnist-fresh-reference")) > len(rows_of("aopc/mnist-fresh"))
        True
    """
    if "+" in run:
        runs = run.split("+")
        images = {results_of(part)["setup"]["scored images"] for part in runs}
        if len(images) > 1:
            raise ValueError(f"{run}: these runs scored other images ({sorted(images)}); join only runs on the same")
        return [row for part in runs for row in rows_of(part)]
    found = results_of(run)
    if "methods" in found and not found.get("rows"):
        return [{"method": name, **row} for name, row in found["methods"].items()]
    return found.get("rows") or found.get("explanations", [])


# -- tables --------------------------------------------------------------------------------------


def budget_label(budget: int | None) -> str:
    return "no budget" if budget is None else f"{budget} queries"


def aopc_table(*runs: str, base: str = "results/") -> list[str]:
    """AOPC deletion (± s.e.) by method and budget, rows of several runs on the same images merged
    (a later run's row replaces an earlier one's), each row's run linked (``base`` + run).

    Example:
        >>> aopc_table("aopc/imagenet-gpu")[0]
        '| method | 1000 queries | 5000 queries | no budget | run |'
    """
    merged: dict[tuple[str, int | None], tuple[str, dict]] = {}
    for run in runs:
        for row in rows_of(run):
            merged[row["method"], row["budget"]] = (run, row)
    budgets = sorted({budget for _, budget in merged if budget is not None})
    budgets += [None] if any(budget is None for _, budget in merged) else []
    lines = []
    for method in dict.fromkeys(method for method, _ in merged):
        cells, sources = [], []
        for budget in budgets:
            run, row = merged.get((method, budget), (None, None))
            cells.append("—" if row is None else f"{row['deletion']:.3f} ± {row['deletion_se']:.3f}")
            sources += [run] if run and run not in sources else []
        lines.append([method, *cells, ", ".join(f"[{run.split('/')[-1]}]({base}{run}/)" for run in sources)])
    return markdown_table(["method", *map(budget_label, budgets), "run"], lines)


def seconds_table(run: str) -> list[str]:
    """Seconds per explanation: a ``gpu_speed`` run's timed settings, or an ``aopc`` run's rows
    (with 'x forward', the seconds over the model's own time for the same queries)."""
    rows = rows_of(run)
    if run.startswith("gpu_speed/"):
        lines = [[r["method"], varied_settings(r, rows), r["precision"], r["batch_size"], f"{r['queries']:.0f}",
                  f"{r['seconds']:.3f}", f"{r['x_forward']:.2f}"] for r in rows]  # fmt: skip
        header = ["method", "settings", "precision", "batch", "queries", "s / explanation", "x forward"]
        return markdown_table(header, lines)
    lines = [[r["method"], r["budget"] or "—", f"{r['queries']:.0f}", f"{r['seconds']:.3f}",
              f"{r['x_forward']:.1f}" if "x_forward" in r else "—"] for r in rows]  # fmt: skip
    return markdown_table(["method", "budget", "queries", "s / explanation", "x forward"], lines)


def varied_settings(row: dict, rows: list[dict]) -> str:
    """The settings of ``row`` that differ between the rows of its method (all of them if it has one row)."""
    mine = [r["settings"] for r in rows if r["method"] == row["method"]]
    keys = [k for k in row["settings"] if len(mine) == 1 or len({str(s.get(k)) for s in mine}) > 1]
    return ", ".join(f"{k}={row['settings'][k]}" for k in keys)


def exemplars_table(run: str) -> list[str]:
    """Per search method: runs, converged (the paper's rule), mean queries of the converged runs,
    model rounds and wall seconds per converged exemplar."""

    def number(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    lines = [[r["method"], r["runs"], f"{r['converged']} ({100 * r['success_rate']:.1f} %)",
              number(r["queries"]["mean"], ".0f"), number(r.get("rounds_per_converged"), ".1f"),
              number(r["wall_s_per_converged"], ".3f")] for r in rows_of(run)]  # fmt: skip
    header = ["method", "runs", "converged", "queries (mean, converged)", "rounds / converged", "s / converged"]
    return markdown_table(header, lines)


TABLES: dict[str, Callable[..., list[str]]] = {
    "aopc": aopc_table,
    "seconds": seconds_table,
    "exemplars": exemplars_table,
}


# -- values --------------------------------------------------------------------------------------


def aopc_value(run: str, method: str, budget: str) -> str:
    """``0.922 ± 0.009``: one row's AOPC deletion (``budget`` ``-`` for a method without one)."""
    wanted = None if budget == "-" else int(budget)
    (row,) = [r for r in rows_of(run) if r["method"] == method and r["budget"] == wanted]
    return f"{row['deletion']:.3f} ± {row['deletion_se']:.3f}"


def paired_value(run: str, first: str, second: str, budget: str) -> str:
    """``+0.0160 ± 0.0050 (64 images; better on 45, worse on 19)``: first − second, image by image."""
    from benchmarks.paired import compare

    for line in compare(rows_of(run), first, second):
        if line.startswith(f"{budget} queries: "):
            return line.split(" = ", 1)[1]
    raise KeyError(f"{run}: no {budget}-query comparison of {first!r} and {second!r}")


def gain_value(run: str, method: str, low: str, high: str) -> str:
    """``+0.0110 ± 0.0030 (100 images; better on 70, worse on 30)``: what ``method`` gains from
    budget ``low`` to ``high``, image by image."""
    from benchmarks.aopc import paired_difference

    by_budget = {r["budget"]: r for r in rows_of(run) if r["method"] == method and "deletion_per_instance" in r}
    return paired_difference(by_budget[int(high)], by_budget[int(low)]).split(" = ", 1)[1]


def json_value(run: str, spec: str, *keys: str) -> str:
    """Any number of a run's ``results.json``, formatted by ``spec`` (``%``: as a percentage, one
    decimal); ``KEYS / KEYS``: the ratio of two numbers of the run."""
    if "/" in keys:
        cut = keys.index("/")
        value = found(results_of(run), keys[:cut]) / found(results_of(run), keys[cut + 1 :])
    else:
        value = found(results_of(run), keys)
    return f"{100 * value:.1f} %" if spec == "%" else format(value, spec)


def found(value: Any, keys: tuple[str, ...] | list[str]) -> Any:
    """The item of nested dicts and lists at ``keys``: ``field=value`` keys (one after another)
    keep the list elements whose field (``a.b`` for a nested one) has that value, and the next key
    applies to the one element left."""
    filtered = False
    for key in keys:
        if "=" in key and isinstance(value, list):
            field, wanted = key.split("=", 1)
            value, filtered = [item for item in value if str(dig(item, field)) == wanted], True
            continue
        if filtered:
            (value,), filtered = value, False
        value = value[int(key)] if isinstance(value, list) else value[key]
    if filtered:
        (value,) = value
    return value


def dig(item: Any, path: str) -> Any:
    """``item[a][b]`` for ``path`` ``a.b``, None where there is no such key."""
    for key in path.split("."):
        item = item.get(key) if isinstance(item, dict) else None
    return item


VALUES: dict[str, Callable[..., str]] = {
    "aopc": aopc_value,
    "paired": paired_value,
    "gain": gain_value,
    "json": json_value,
}


# -- filling a Markdown file ---------------------------------------------------------------------

TABLE = re.compile(r"(<!-- table (.+?) -->\n)(.*?)(<!-- /table -->)", re.S)
VALUE = re.compile(r"(<!-- value (.+?) -->)(.*?)(<!-- /value -->)", re.S)


def filled(text: str, base: str = "results/") -> str:
    """``text`` with every marked table and value made again from the results."""

    def table(match: re.Match) -> str:
        kind, *args = shlex.split(match.group(2))
        made = TABLES[kind](*args, base=base) if kind == "aopc" else TABLES[kind](*args)
        return match.group(1) + "\n".join(made) + "\n" + match.group(4)

    def value(match: re.Match) -> str:
        kind, *args = shlex.split(match.group(2))
        return match.group(1) + VALUES[kind](*args) + match.group(4)

    return VALUE.sub(value, TABLE.sub(table, text))


def results_base(path: Path) -> str:
    """How a Markdown file at ``path`` links to ``benchmarks/results`` (``results/`` from FINDINGS.md).

    Example:
        >>> results_base(RESULTS.parent / "FINDINGS.md"), results_base(RESULTS.parents[1] / "README.md")
        ('results/', 'benchmarks/results/')
    """
    return os.path.relpath(RESULTS, Path(path).resolve().parent).replace(os.sep, "/") + "/"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=sorted(TABLES), help="the table to print")
    parser.add_argument("runs", nargs="*", help="run folders under benchmarks/results, e.g. aopc/imagenet-gpu")
    parser.add_argument("--fill", type=Path, help="a Markdown file whose marked tables and values to refresh")
    parser.add_argument("--check", type=Path, help="a Markdown file to check: exit with 1 if any is stale")
    args = parser.parse_args(argv)
    for path, write in ((args.fill, True), (args.check, False)):
        if path is not None:
            text, base = path.read_text(encoding="utf-8"), results_base(path)
            if write:
                path.write_text(filled(text, base), encoding="utf-8")
            elif filled(text, base) != text:
                raise SystemExit(
                    f"{path}: generated tables or values are stale: python -m benchmarks.tables --fill {path}"
                )
    if args.kind:
        print("\n".join(TABLES[args.kind](*args.runs)))


if __name__ == "__main__":
    main()
