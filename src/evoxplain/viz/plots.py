"""Plain pictures of attributions: heatmaps over images, bars, coloured tokens, image grids.

Figures use matplotlib's non-interactive "Agg" backend: nothing opens a window.

Example:
    >>> from evoxplain import GEEX
    >>> from evoxplain.viz import overlay
    >>> exp = GEEX(model, queries=500, seed=0).explain(image)
    >>> fig = overlay(image, exp.values, path="cat_heatmap.png", title="tabby")
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..constraints import Integer, Optional, check_all
from ..errors import InvalidInputError


def _array(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def heatmap(values: Any) -> np.ndarray:
    """Attributions ``(C, H, W)`` or ``(H, W)`` to an ``(H, W)`` map: the sum over channels.

    Example:
        >>> heatmap(torch.ones(3, 4, 5)).shape
        (4, 5)
    """
    array = _array(values)
    if array.ndim == 3:
        return array.sum(axis=0)
    if array.ndim == 2:
        return array
    raise InvalidInputError(f"a heatmap needs values of shape (C, H, W) or (H, W), not {array.shape}")


def limits(values: Any) -> tuple[float, float]:
    """Colour limits symmetric around 0: ``(-m, m)`` with ``m`` the largest ``|value|`` (1 if all 0).

    Example:
        >>> limits(np.array([-1.0, 3.0]))
        (-3.0, 3.0)
    """
    array = _array(values)
    m = float(np.abs(array).max()) if array.size else 0.0
    m = m if np.isfinite(m) and m > 0 else 1.0
    return -m, m


def _display_image(image: Any) -> np.ndarray:
    array = _array(image)
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array[:3], 0, -1)
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[-1] == 3):
        raise InvalidInputError(f"an image must be (C, H, W) or (H, W), not {_array(image).shape}")
    return np.clip(array, 0.0, 1.0)


def overlay(
    image: Any,
    values: Any,
    path: str | Path | None = None,
    title: str | None = None,
    cmap: str = "bwr",
    alpha: float = 0.6,
    dpi: int = 100,
):
    """The image (left) and its attributions over a grayscale copy (right), with a colorbar.

    Positive attributions are red, negative blue, with colour limits symmetric around 0. Saved as
    a PNG at ``path`` when given.

    Args:
        image: ``(C, H, W)`` or ``(H, W)`` in [0, 1].
        values: attributions of the image's shape (or ``(H, W)``); channels are summed.
        path: where to save the PNG.
        title: a title over the figure (e.g. the class explained).
        cmap: a diverging matplotlib colormap.
        alpha: opacity of the heatmap over the image.
        dpi: resolution of the saved PNG.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> values = torch.zeros(3, 224, 224); values[:, 96:128, 64:96] = 1.0
        >>> fig = overlay(image, values, path="out.png", title="tabby (p=0.27)")
    """
    from matplotlib.figure import (
        Figure,  # a Figure without pyplot: no GUI backend, no global state
    )

    picture = _display_image(image)
    heat = heatmap(values)
    if heat.shape != picture.shape[:2]:
        raise InvalidInputError(f"values {heat.shape} do not match the image's size {picture.shape[:2]}")
    low, high = limits(heat)
    fig = Figure(figsize=(9, 4.2), dpi=dpi, layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
    left.set_title("input")
    gray = picture if picture.ndim == 2 else picture.mean(axis=-1)
    right.imshow(gray, cmap="gray", vmin=0, vmax=1)
    shown = right.imshow(heat, cmap=cmap, vmin=low, vmax=high, alpha=alpha)
    right.set_title("attribution (red +, blue -)")
    for axis in (left, right):
        axis.set_axis_off()
    fig.colorbar(shown, ax=right, shrink=0.85)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig


def top_regions(
    values: Any, sign: int = 1, k: int = 3, cells: int = 7
) -> list[tuple[tuple[int, int, int, int], float]]:
    """The ``k`` cells of a ``cells`` × ``cells`` grid with the largest (``sign=-1``: most negative)
    sums of attributions, as ``((row0, row1, col0, col1), sum)`` with end-exclusive bounds.

    Example:
        >>> values = torch.zeros(3, 224, 224); values[:, 96:128, 64:96] = 0.5
        >>> top_regions(values, k=1)
        [((96, 128, 64, 96), 1536.0)]
    """
    heat = heatmap(_array(values).reshape(-1, *np.shape(values)[-2:]).sum(axis=0))
    height, width = heat.shape
    rows = np.linspace(0, height, min(cells, height) + 1).round().astype(int)
    cols = np.linspace(0, width, min(cells, width) + 1).round().astype(int)
    found = [
        ((int(r0), int(r1), int(c0), int(c1)), float(heat[r0:r1, c0:c1].sum()))
        for r0, r1 in zip(rows[:-1], rows[1:])
        for c0, c1 in zip(cols[:-1], cols[1:])
    ]
    found = [cell for cell in found if cell[1] * sign > 0]
    return sorted(found, key=lambda cell: -cell[1] * sign)[:k]


def bars(values: Any, path: str | Path | None = None, title: str | None = None, dpi: int = 100):
    """A bar chart of 1-D attributions (one bar per feature, red +, blue -); saved when ``path`` given.

    Example:
        >>> fig = bars(torch.tensor([0.3, -0.1, 0.05]), path="row.png")
    """
    from matplotlib.figure import Figure

    array = _array(values).reshape(-1)
    fig = Figure(figsize=(max(4.0, min(12.0, 0.3 * len(array) + 2)), 3.5), dpi=dpi, layout="constrained")
    axis = fig.subplots()
    axis.bar(np.arange(len(array)), array, color=np.where(array >= 0, "tab:red", "tab:blue"))
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel("feature")
    axis.set_ylabel("attribution")
    if title:
        axis.set_title(title)
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig


def text_html(tokens: Sequence[str], values: Any) -> str:
    """Tokens as HTML ``<span>``s shaded red (positive) or blue (negative) by their attribution.

    Example:
        >>> text_html(["good", "movie"], [0.5, -0.1])
        '<div ...><span style="background: rgba(255,0,0,1.00)" title="0.5">good</span> ...'
    """
    array = _array(values).reshape(-1)
    if len(tokens) != len(array):
        raise InvalidInputError(f"{len(tokens)} tokens but {len(array)} values; give one value per token")
    _, top = limits(array)
    spans = []
    for token, value in zip(tokens, array):
        colour = "255,0,0" if value >= 0 else "0,0,255"
        spans.append(
            f'<span style="background: rgba({colour},{abs(value) / top:.2f})" '
            f'title="{value:.4g}">{html.escape(str(token))}</span>'
        )
    return '<div style="line-height: 1.8">' + " ".join(spans) + "</div>"


__all__ = ["bars", "heatmap", "limits", "overlay", "text_html", "top_regions"]


def _grid_cells(images: Any) -> list[np.ndarray | None]:
    """Images to a list of ``(H, W)`` or ``(H, W, 3)`` arrays in [0, 1] (None: an empty cell)."""
    if isinstance(images, (torch.Tensor, np.ndarray)):
        array = _array(images)
        if array.ndim == 3:  # (N, H, W)
            array = array[:, None]
        if array.ndim != 4:
            raise InvalidInputError(f"images must be (N, C, H, W), (N, H, W) or a list of images, not {array.shape}")
        images = list(array)
    return [None if image is None else _display_image(image) for image in images]


_LINE_HEIGHT = 12  # pixels per caption line in PIL's default font


@dataclass(frozen=True)
class _GridLayout:
    """Where :func:`image_grid` puts its cells: ``cols`` × ``rows`` cells of ``width`` × ``height``
    pixels, a caption band of ``caption`` under each, ``margin`` for the row labels, ``pad`` between."""

    cols: int
    rows: int
    width: int
    height: int
    caption: int
    margin: int
    pad: int

    @classmethod
    def of(cls, cells: list, labels, row_labels, *, cols: int | None, scale: int, pad: int, font) -> _GridLayout:
        """The layout of ``cells``, after checking that the labels fit it."""
        cols = cols or int(np.ceil(np.sqrt(len(cells))))
        rows = int(np.ceil(len(cells) / cols))
        if labels is not None and len(labels) != len(cells):
            raise InvalidInputError(f"{len(labels)} labels for {len(cells)} images")
        if row_labels is not None and len(row_labels) != rows:
            raise InvalidInputError(f"{len(row_labels)} row labels for {rows} rows")
        lines = max((str(text).count("\n") + 1 for text in labels or []), default=0)
        margin = int(max(font.getlength(str(text)) for text in row_labels)) + 2 * pad if row_labels else 0
        shown = [cell for cell in cells if cell is not None]
        return cls(
            cols=cols, rows=rows, width=max(cell.shape[1] for cell in shown) * scale,
            height=max(cell.shape[0] for cell in shown) * scale, caption=lines * _LINE_HEIGHT + (2 if lines else 0),
            margin=margin, pad=pad,
        )  # fmt: skip

    @property
    def size(self) -> tuple[int, int]:
        return (
            self.margin + self.cols * (self.width + self.pad) + self.pad,
            self.rows * (self.height + self.caption + self.pad) + self.pad,
        )

    def origin(self, index: int) -> tuple[int, int]:
        """The top-left pixel of cell ``index`` (filled row by row)."""
        row, col = divmod(index, self.cols)
        x = self.margin + self.pad + col * (self.width + self.pad)
        return x, self.pad + row * (self.height + self.caption + self.pad)


def image_grid(
    images: Any,
    path: str | Path | None = None,
    *,
    cols: int | None = None,
    labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    scale: int = 3,
    pad: int = 4,
):
    """A grid of images with a caption under each (e.g. class and probability), as a PIL image.

    Cells are filled row by row, ``cols`` per row (default ``⌈√N⌉``); ``None`` entries leave a
    cell empty. Each image is enlarged ``scale`` times (nearest neighbour); ``row_labels`` are
    written left of the rows. Saved as a PNG at ``path`` when given.

    Size in pixels: width ``L + cols·(w·scale + pad) + pad``, height
    ``rows·(h·scale + T + pad) + pad``, with ``T`` the caption band (0 without ``labels``) and
    ``L`` the row-label margin (0 without ``row_labels``); the cells take the largest image size.

    Args:
        images: ``(N, C, H, W)`` / ``(N, H, W)`` in [0, 1], or a list of ``(C, H, W)``/``(H, W)``
            images or None.
        path: where to save the PNG.
        cols: images per row.
        labels: one caption per image (``"\\n"`` splits lines).
        row_labels: one label per row.
        scale: enlargement factor of every image.
        pad: white pixels between cells.

    Example:
        >>> probs = [0.97, 0.99, 0.96, 0.95, 0.98, 0.97, 0.99, 0.96]
        >>> grid = image_grid(torch.rand(8, 1, 48, 48), "grid.png", cols=4,
        ...                   labels=[f"p={p:.2f}" for p in probs], row_labels=["happy", "surprise"])
        >>> grid.size                     # with the labels' margins
        (642, 328)
    """
    from PIL import Image, ImageDraw, ImageFont

    cells = _grid_cells(images)
    if not cells or all(cell is None for cell in cells):
        raise InvalidInputError("image_grid needs at least one image")
    sizes = {"scale": Optional(Integer(low=1)), "pad": Optional(Integer(low=0)), "cols": Optional(Integer(low=1))}
    scale, pad, cols = check_all(sizes, scale=scale, pad=pad, cols=cols).values()
    font = ImageFont.load_default()
    grid = _GridLayout.of(cells, labels, row_labels, cols=cols, scale=scale, pad=pad, font=font)
    canvas = Image.new("RGB", grid.size, "white")
    draw = ImageDraw.Draw(canvas)
    for index, cell in enumerate(cells):
        x, y = grid.origin(index)
        if cell is not None:
            pixels = (cell * 255).round().astype(np.uint8)
            picture = Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB")
            size = (cell.shape[1] * scale, cell.shape[0] * scale)
            canvas.paste(picture.resize(size, Image.NEAREST).convert("RGB"), (x, y))
        if labels is not None:
            draw.multiline_text((x, y + grid.height + 1), str(labels[index]), fill="black", font=font, spacing=1)
    for row, text in enumerate(row_labels or []):
        y = grid.origin(row * grid.cols)[1] + grid.height // 2 - _LINE_HEIGHT // 2
        draw.text((pad, y), str(text), fill="black", font=font)
    if path is not None:
        canvas.save(Path(path), format="PNG")
    return canvas
