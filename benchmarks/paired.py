"""Compare two rows of an AOPC results file image by image (the same scored images, per budget).

Usage::

    python -m benchmarks.paired benchmarks/results/aopc/mnist-orthogonal/results.json "bGEEX, orthogonal" bGEEX

prints, for every budget both methods were measured at, the mean of the per-image differences
of AOPC deletion ± its standard error and how many images each wins (``aopc.paired_difference``),
and each method's mean per-image AOPC deletion. ``--also`` adds the rows of runs on other images
of the same data (``benchmarks.aopc --first``), image by image after the first file's::

    python -m benchmarks.paired a/results.json --also b/results.json "bGEEX + regression, orthogonal" LIME
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks.aopc import paired_difference, recorded_setup
from benchmarks.harness import BenchmarkError
from evoxplain.metrics import normalised_aopc


def joined(runs: list[dict]) -> list[dict]:
    """The rows of several runs on disjoint images as one run's: per (method, budget), the
    per-image scores concatenated run after run (rows missing from any run are dropped), and the
    AOPC deletion of the curve averaged over all images where every run kept its averaged curve."""
    images = [recorded_setup(run)["scored images"] for run in runs]
    if len(set(images)) < len(images):
        raise BenchmarkError(f"two of these runs scored the same images ({images}): --also takes runs on other images")
    keyed = [{(r["method"], r["budget"]): r for r in run["rows"] if "deletion_per_instance" in r} for run in runs]
    rows = []
    for key, first in keyed[0].items():
        if all(key in run for run in keyed[1:]):
            parts = [run[key] for run in keyed]
            scores = [v for part in parts for v in part["deletion_per_instance"]]
            row = {k: v for k, v in first.items() if k not in ("deletion", "deletion_curve", "deletion_se")}
            if all("deletion_curve" in part for part in parts):  # weighted by each run's number of images
                sizes = torch.tensor([len(part["deletion_per_instance"]) for part in parts], dtype=torch.float64)
                curves = torch.tensor([part["deletion_curve"] for part in parts], dtype=torch.float64)
                curve = (sizes[:, None] * curves).sum(0) / sizes.sum()
                row.update(deletion=float(normalised_aopc(curve, "deletion")), deletion_curve=curve.tolist())
            rows.append({**row, "deletion_per_instance": scores})
    return rows


def mean_line(rows: list[dict], method: str) -> list[str]:
    """Each budget's mean per-image AOPC deletion ± standard error of ``method`` (and its row's AOPC
    deletion of the averaged curve, where known)."""
    lines = []
    for r in rows:
        if r["method"] == method and "deletion_per_instance" in r:
            d = torch.tensor(r["deletion_per_instance"], dtype=torch.float64)
            se = float(d.std() / len(d) ** 0.5) if len(d) > 1 else float("nan")
            budget = f"{r['budget']} queries" if r["budget"] else "any budget"
            line = (
                f"{method} @ {budget}: mean per-image AOPC deletion {float(d.mean()):.4f} ± {se:.4f} ({len(d)} images)"
            )
            if "deletion" in r:
                line += f"; AOPC deletion of the averaged curve {r['deletion']:.4f}"
            lines.append(line)
    return lines


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
        raise BenchmarkError(f"no budget has per-image scores for both {first!r} and {second!r}; rows: {known}")
    return [f"{budget or 'any'} queries: {paired_difference(a[budget], b[budget])}" for budget in budgets]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the results.json of a run of benchmarks.aopc")
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument(
        "--also", type=Path, action="append", default=[], help="the results of the same methods on other images"
    )
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in [args.results, *args.also]]
    try:
        rows = joined(runs) if args.also else runs[0]["rows"]
        print("\n".join(compare(rows, args.first, args.second)))
    except BenchmarkError as err:
        raise SystemExit(f"paired: {err}") from err
    print("\n".join(mean_line(rows, args.first) + mean_line(rows, args.second)))


if __name__ == "__main__":
    main()
