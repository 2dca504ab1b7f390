"""Compare two rows of an AOPC results file image by image (the same scored images, per budget).

Usage::

    python benchmarks/paired.py benchmarks/results/orthogonal/aopc_mnist.json "bGEEX, orthogonal" bGEEX

prints, for every budget both methods were measured at, the mean of the per-image differences
of AOPC deletion ± its standard error and how many images each wins (``aopc.paired_difference``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aopc import paired_difference  # noqa: E402


def compare(rows: list[dict], first: str, second: str) -> list[str]:
    """One line per budget at which both ``first`` and ``second`` have per-image scores.

    A row without a budget (the white-box methods) is compared at every budget of the other."""
    scored = [r for r in rows if "deletion_per_instance" in r]
    a = {r["budget"]: r for r in scored if r["method"] == first}
    b = {r["budget"]: r for r in scored if r["method"] == second}
    if list(a) == [None]:
        a = dict.fromkeys(b, a[None]) if any(b) else a
    if list(b) == [None]:
        b = dict.fromkeys(a, b[None]) if any(a) else b
    budgets = sorted(set(a) & set(b), key=lambda budget: budget or 0)
    if not budgets:
        known = sorted({r["method"] for r in scored})
        raise SystemExit(f"no budget has per-image scores for both {first!r} and {second!r}; rows: {known}")
    return [f"{budget or 'any'} queries: {paired_difference(a[budget], b[budget])}" for budget in budgets]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an aopc_<dataset>.json written by benchmarks/aopc.py")
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args(argv)
    rows = json.loads(args.results.read_text())
    rows = rows["rows"] if isinstance(rows, dict) else rows
    print("\n".join(compare(rows, args.first, args.second)))


if __name__ == "__main__":
    main()
