"""What an explanation says, in sentences a reader can place: the report's and the summary's words.

Values are read as shares of the explained change ``f(x) − f(baseline)`` (see
:class:`evoxplain.viz.AttributionMap`); these functions turn an explanation into the lines that
both ``evoxplain explain``'s summary and the HTML report print.

Example:
    >>> class_label(["cat", "dog"], 1), percent(0.253)
    ('dog (class 1)', '+25.3%')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..viz.maps import SIGNIFICANCE, AttributionMap, baseline_words


def class_label(classes: Any, index: int) -> str:
    """``"tabby (class 281)"``, or ``"class 281"`` without names.

    Example:
        >>> class_label(None, 3)
        'class 3'
    """
    if isinstance(classes, dict):
        name = classes.get(index)
    elif classes is not None and 0 <= index < len(classes):
        name = classes[index]
    else:
        name = None
    return f"{name} (class {index})" if name is not None else f"class {index}"


def short_label(classes: Any, index: int) -> str:
    """The class's name alone (its index without names)."""
    label = class_label(classes, index)
    return label.split(" (class ")[0] if "(class " in label else str(index)


def percent(share: float, digits: int = 1) -> str:
    """A share as a signed percentage, ``0.253`` → ``"+25.3%"``."""
    return f"{share * 100:+.{digits}f}%"


def score_name(params: dict[str, Any], label: str) -> str:
    """``p(tabby)`` for probabilities, else ``logit(tabby)`` and so on."""
    fitness = params.get("fitness", "prob")
    return f"p({label})" if fitness == "prob" else f"{fitness}({label})"


def change_line(exp: Any, label: str) -> str:
    """What the values are shares of, in one sentence (or why they are raw values)."""
    name = score_name(exp.params, label)
    score = _scalar(exp.score)
    base = _scalar(exp.baseline_score)
    if score is None:
        return f"{name} was not measured: values are in the score's own units."
    if base is None:
        return f"{name} = {score:.4f}; the baseline was not measured, so values are in the score's own units."
    change = score - base
    where = baseline_words(exp.params)
    if abs(change) <= 1e-6:
        return (
            f"{name} = {score:.4f} on the input and {base:.4f} on the {where}: no change to share out, "
            "so values are in the score's own units."
        )
    return (
        f"{name} = {score:.4f} on the input and {base:.4f} on the {where}: a change of {change:+.4f}. "
        f"Values are shares of it: +10% means that part of the input raises {name} by a tenth of {abs(change):.4f}."
    )


def total_line(exp: Any) -> str:
    """How the values add up against the change (completeness), in words."""
    total = float(torch.as_tensor(exp.totals))
    score, base = _scalar(exp.score), _scalar(exp.baseline_score)
    if score is None or base is None:
        return f"sum of values: {total:.4f} (no baseline measured: no completeness check)"
    change = score - base
    share = f" ({percent(total / change, 0)} of the change)" if abs(change) > 1e-6 else ""
    if exp.params.get("integrated") is False:
        return (
            f"sum of values: {total:.4f}{share}; not integrated: each part's own effect, present against "
            "absent, so the parts add up to the change only for a model additive in them"
        )
    return f"sum of values: {total:.4f}{share}; gap to the change: {abs(total - change):.4f} (complete: 0)"


def noise_summary(amap: AttributionMap, upper_bounds: bool = False, noun: str | None = None) -> str:
    """How many cells (pixels, features) stand out of the sampling noise, in words."""
    what = noun or ("cells" if amap.cells else ("pixels" if amap.values.ndim == 2 else "values"))
    if amap.stderr is None:
        return "sampling noise: not estimated by this method"
    if not np.isfinite(amap.stderr).any():
        return "sampling noise: not estimable (about as few query pairs as mask cells: use more queries)"
    count, total = int(amap.significant.sum()), amap.significant.size
    bounds = " (the errors are upper bounds: orthogonal design)" if upper_bounds else ""
    return (
        f"sampling noise: {count} of {total} {what} ({count / total:.0%}) stand more than {SIGNIFICANCE:g} "
        f"standard errors from 0; the others are muted{bounds}. Errors shrink as 1/sqrt(queries)"
    )


def region_lines(amap: AttributionMap, k: int = 3) -> list[str]:
    """The parts of the image that raise and lower the score most, one line each."""
    lines = []
    for sign, verb in ((1, "raise"), (-1, "lower")):
        found = amap.boxes(sign=sign, k=k)
        if not found:
            lines.append(f"no region clearly {verb}s it")
        for (r0, r1, c0, c1), share in found:
            lines.append(f"{verb}s it: rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1}: {percent(share)} of the change")
    return lines


def _scalar(value: Any) -> float | None:
    return None if value is None else float(torch.as_tensor(value).reshape(-1)[0])


__all__ = [
    "change_line",
    "class_label",
    "noise_summary",
    "percent",
    "region_lines",
    "score_name",
    "short_label",
    "total_line",
]
