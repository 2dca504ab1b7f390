"""Image attributions as a reader can take them: at the resolution they were estimated at, in
shares of the explained change, with what sampling noise cannot tell from zero muted.

* Crisp mask cells (Bernoulli masks resized by nearest neighbour, e.g. the large-image default)
  were estimated one value per cell: the map holds one value per cell (the sum of its pixels) and
  is drawn as blocks. Anything else (bilinear masks, Gaussian noise, pixel methods) is drawn
  smoothly, one value per pixel.
* Values are shown as shares of ``|f(x) − f(baseline)|``, the change in the explained score
  between the input and its baseline (e.g. the photo and its blurred copy), stated beside the map.
  Without a baseline score the raw values are shown, in the score's own units.
* A cell (or pixel) whose value lies within two standard errors of zero is muted: the photo shows
  through uncoloured.

Example:
    >>> from evoxplain import GEEX
    >>> exp = GEEX(model, queries=200, distribution="bernoulli", mask_size=(7, 7), estimator="regression",
    ...            seed=0).explain(image)
    >>> amap = AttributionMap.of(exp)
    >>> amap.values.shape, amap.cells          # one value per mask cell
    ((7, 7), True)
    >>> fig = explanation_figure(image, exp, label="tabby", path="tabby.png")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError
from .plots import _array, _display_image, heatmap

SIGNIFICANCE = 2.0
"""Standard errors a value must stand from zero to be coloured."""


def cell_index(mask_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Which mask cell each pixel of an image of ``size`` follows when ``mask_size`` masks are
    resized by nearest neighbour (as the samplers do): an ``(H, W)`` array of flat cell indices.

    Example:
        >>> cell_index((2, 2), (4, 4))
        array([[0, 0, 1, 1],
               [0, 0, 1, 1],
               [2, 2, 3, 3],
               [2, 2, 3, 3]])
    """
    rows, cols = mask_size
    grid = torch.arange(rows * cols, dtype=torch.float64).view(1, 1, rows, cols)
    index = torch.nn.functional.interpolate(grid, size=tuple(size), mode="nearest")
    return index[0, 0].round().long().numpy()


def _crisp_cells(params: dict[str, Any]) -> tuple[int, int] | None:
    """The mask size when the values were estimated one per crisp cell, else None."""
    mask = params.get("mask_size")
    crisp = params.get("distribution") == "bernoulli" and params.get("mask_interpolation") == "nearest"
    return (int(mask[0]), int(mask[1])) if crisp and mask is not None else None


@dataclass
class AttributionMap:
    """One image's attributions, ready to draw or describe.

    Attributes:
        values: ``(rows, cols)`` per cell when ``cells``, else ``(H, W)`` per pixel (summed over channels);
            ``(D,)`` for features or tokens.
        stderr: their standard errors (same shape), or None where the method gives none.
        cells: whether ``values`` are per crisp mask cell (drawn as blocks) or per pixel (drawn smoothly).
        size: the image's ``(H, W)`` (``(1, D)`` for features or tokens).
        score: the explained score at the input, ``f(x)``, if known.
        baseline_score: at the baseline, ``f(x̊)``, if known.
        fitness: what the score is (``"prob"``: the class probability).
    """

    values: np.ndarray
    stderr: np.ndarray | None
    cells: bool
    size: tuple[int, int]
    score: float | None = None
    baseline_score: float | None = None
    fitness: str = "prob"

    @classmethod
    def of(cls, exp: Any, index: int | None = None) -> AttributionMap:
        """The map of an image :class:`~evoxplain.Explanation` (input ``index`` of a batch)."""
        if exp.batched:
            exp = exp[0 if index is None else index]
        return cls.from_values(
            exp.values, exp.stderr, exp.params, score=_scalar(exp.score), baseline_score=_scalar(exp.baseline_score)
        )

    @classmethod
    def from_values(
        cls,
        values: Any,
        stderr: Any = None,
        params: dict[str, Any] | None = None,
        *,
        score: float | None = None,
        baseline_score: float | None = None,
    ) -> AttributionMap:
        """The map of attributions ``(C, H, W)`` or ``(H, W)`` made with settings ``params``."""
        params = params or {}
        common = {"score": score, "baseline_score": baseline_score, "fitness": str(params.get("fitness", "prob"))}
        if _array(values).ndim == 1:  # features or tokens: one value each
            flat = _array(values)
            errors = None if stderr is None else _array(stderr).reshape(flat.shape)
            return cls(values=flat, stderr=errors, cells=False, size=(1, flat.size), **common)
        heat = heatmap(values)
        errors = None if stderr is None else heatmap(stderr)
        if errors is not None and errors.shape != heat.shape:
            raise InvalidInputError(f"stderr {errors.shape} does not match the values {heat.shape}")
        mask = _crisp_cells(params)
        if mask is not None and mask[0] <= heat.shape[0] and mask[1] <= heat.shape[1]:
            index = cell_index(mask, heat.shape).ravel()
            count = mask[0] * mask[1]
            heat = np.bincount(index, heat.ravel(), minlength=count).reshape(mask)
            if errors is not None:  # a cell's pixels share its error in proportion: their sum is the cell's
                errors = np.bincount(index, errors.ravel(), minlength=count).reshape(mask)
        return cls(
            values=heat,
            stderr=errors,
            cells=mask is not None,
            size=tuple(int(s) for s in _array(values).shape[-2:]),
            **common,
        )

    @property
    def change(self) -> float | None:
        """``f(x) − f(baseline)``, or None where the baseline's score was not measured."""
        if self.score is None or self.baseline_score is None:
            return None
        return self.score - self.baseline_score

    @property
    def scale(self) -> float:
        """What the values are divided by to show them: ``|change|`` (shares of it), or 1 where the
        change is unknown or too small to divide by (then the values are shown as they are)."""
        change = self.change
        return abs(change) if change is not None and abs(change) > 1e-6 else 1.0

    @property
    def in_shares(self) -> bool:
        """Whether :attr:`shares` are shares of the change (else raw values)."""
        return self.scale != 1.0 or (self.change is not None and abs(self.change) == 1.0)

    @property
    def shares(self) -> np.ndarray:
        """The values divided by :attr:`scale`: 0.25 is a quarter of the change."""
        return self.values / self.scale

    @property
    def significant(self) -> np.ndarray:
        """Where a value lies more than two standard errors from zero (all True without errors;
        False where the error could not be estimated)."""
        if self.stderr is None:
            return np.ones(self.values.shape, dtype=bool)
        known = np.isfinite(self.stderr)
        with np.errstate(invalid="ignore"):
            return known & (np.abs(self.values) > SIGNIFICANCE * np.where(known, self.stderr, 0.0))

    def unit(self) -> str:
        """The unit of :attr:`shares` in words, e.g. ``"share of the change in the probability, per cell"``."""
        where = "per cell" if self.cells else ("per pixel" if self.values.ndim == 2 else "per feature")
        what = "the probability" if self.fitness == "prob" else f"the score ({self.fitness})"
        return f"share of the change in {what}, {where}" if self.in_shares else f"{what}, {where}"

    def pixels(self, array: np.ndarray) -> np.ndarray:
        """A per-cell (or per-pixel) array ``(rows, cols, ...)`` at the image's size (cells as blocks)."""
        if not self.cells:
            return array
        rows, cols = self.values.shape
        return array.reshape(rows * cols, *array.shape[2:])[cell_index((rows, cols), self.size)]

    def boxes(self, sign: int = 1, k: int = 3) -> list[tuple[tuple[int, int, int, int], float]]:
        """The ``k`` cells with the largest (``sign=-1``: most negative) shares that stand out of the
        noise, as ``((row0, row1, col0, col1), share)`` in pixels, end-exclusive. For a per-pixel map,
        the cells of a 7 × 7 grid (:func:`~evoxplain.viz.top_regions`), by their summed shares."""
        if not self.cells:
            from .plots import top_regions

            return top_regions(self.shares, sign=sign, k=k)
        index = cell_index(self.values.shape, self.size)
        order = np.argsort(-sign * self.shares.ravel(), kind="stable")
        picked = []
        for cell in order:
            share = float(self.shares.ravel()[cell])
            if share * sign <= 0 or not self.significant.ravel()[cell]:
                continue
            rows, cols = np.nonzero(index == cell)
            picked.append(((int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1), share))
            if len(picked) == k:
                break
        return picked


def _scalar(value: Any) -> float | None:
    return None if value is None else float(torch.as_tensor(value).reshape(-1)[0])


def overlay_colours(amap: AttributionMap, cmap: str = "bwr", strength: float = 0.7) -> tuple[np.ndarray, float]:
    """The coloured layer over the photo, ``(H, W, 4)``, and its colour limit: significant values
    coloured, with opacity rising with their size; muted ones transparent."""
    from matplotlib import colormaps

    shares = amap.shares
    significant = amap.significant
    shown = np.abs(shares[significant]) if significant.any() else np.abs(shares).ravel()
    top = float(shown.max()) if shown.size and np.isfinite(shown.max()) and shown.max() > 0 else 1.0
    colours = colormaps[cmap]((np.clip(shares / top, -1, 1) + 1) / 2)
    colours[..., 3] = np.where(significant, 0.25 + (strength - 0.25) * np.clip(np.abs(shares) / top, 0, 1), 0.0)
    return amap.pixels(colours), top


def describe_change(amap: AttributionMap, label: str, baseline: str = "baseline") -> str:
    """One line saying what the shares are shares of, e.g.
    ``"p(tabby) = 0.930 on the input, 0.020 on the blurred copy: change 0.910"``."""
    name = f"p({label})" if amap.fitness == "prob" else f"{amap.fitness}({label})"
    if amap.score is None:
        return f"{name}: not measured"
    if amap.baseline_score is None:
        return f"{name} = {amap.score:.3f} on the input (no baseline measured: values in the score's units)"
    return (
        f"{name} = {amap.score:.3f} on the input, {amap.baseline_score:.3f} on the {baseline}: "
        f"change {amap.change:+.3f}"
    )


def explanation_figure(
    image: Any,
    exp: Any,
    *,
    label: str = "",
    path: str | Path | None = None,
    baseline: str | None = None,
    dpi: int = 100,
    cmap: str = "bwr",
):
    """The photo (left) and its explanation over it (right), with a colour bar in shares of the
    explained change, the explained probability stated, and noise-level cells muted.

    Args:
        image: ``(C, H, W)`` or ``(H, W)`` in [0, 1].
        exp: an image :class:`~evoxplain.Explanation` of ``image`` (one input).
        label: the explained class's name (the title reads ``p(label)``).
        path: where to save the PNG.
        baseline: what the baseline is in words (default from the settings: "blurred copy", ...).
        dpi: resolution of the PNG.
        cmap: a diverging matplotlib colormap (red raises the score, blue lowers it).

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> from evoxplain import GEEX
        >>> exp = GEEX(model, queries=100, distribution="bernoulli", mask_size=(7, 7), seed=0).explain(image)
        >>> fig = explanation_figure(image, exp, label="tabby", path="tabby.png")
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    picture = _display_image(image)
    amap = AttributionMap.of(exp)
    if amap.size != picture.shape[:2]:
        raise InvalidInputError(f"values of size {amap.size} do not match the image's size {picture.shape[:2]}")
    layer, top = overlay_colours(amap, cmap)
    baseline = baseline or baseline_words(exp.params)
    fig = Figure(figsize=(9.6, 4.9), dpi=dpi, layout="constrained")
    left, right = fig.subplots(1, 2)
    gray = picture.ndim == 2
    left.imshow(picture, cmap="gray" if gray else None, vmin=0, vmax=1)
    left.set_title("input", fontsize=10)
    faded = 0.55 + 0.45 * (picture if gray else picture.mean(axis=-1, keepdims=True) * 0.5 + picture * 0.5)
    right.imshow(faded, cmap="gray" if gray else None, vmin=0, vmax=1)
    right.imshow(layer, interpolation="nearest" if amap.cells else "bilinear")
    muted = int((~amap.significant).sum())
    what = "cells" if amap.cells else "pixels"
    right.set_title(
        f"red raises p({label or exp.target}), blue lowers it\nmuted: {muted} of {amap.significant.size} {what} "
        f"within {SIGNIFICANCE:g} standard errors of 0",
        fontsize=9,
    )
    for axis in (left, right):
        axis.set_axis_off()
    scale = ScalarMappable(Normalize(-top * 100, top * 100), cmap) if amap.in_shares else None
    scale = scale or ScalarMappable(Normalize(-top, top), cmap)
    bar = fig.colorbar(scale, ax=right, shrink=0.8)
    bar.set_label(("%, " if amap.in_shares else "") + amap.unit(), fontsize=8)
    fig.suptitle(f"{label or exp.target}: {describe_change(amap, label or str(exp.target), baseline)}", fontsize=10)
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig


def baseline_words(params: dict[str, Any]) -> str:
    """The baseline in words: ``"blurred copy"``, ``"mean image"``, ``"input at 0"`` ...

    Example:
        >>> baseline_words({"baseline": "blur"}), baseline_words({"baseline": 0.0})
        ('blurred copy', 'input at 0.0')
    """
    baseline = params.get("baseline", 0.0)
    if baseline == "blur":
        return "blurred copy"
    if baseline == "mean":
        return "mean image"
    if isinstance(baseline, (int, float)):
        return f"input at {baseline}"
    return "baseline"


__all__ = ["AttributionMap", "baseline_words", "cell_index", "describe_change", "explanation_figure", "overlay_colours"]
