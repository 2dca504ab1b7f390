"""Pictures of attributions: heatmaps over images, bar charts, coloured tokens, image grids.

Figures use matplotlib's non-interactive "Agg" backend: nothing opens a window.
:func:`explanation_figure` draws an image explanation as a reader can take it (at the resolution it
was estimated at, in shares of the explained change, noise muted); :func:`overlay` draws any
attribution map as it is.

Example:
    >>> from evoxplain import GEEX
    >>> from evoxplain.viz import explanation_figure, overlay
    >>> exp = GEEX(model, queries=500, seed=0).explain(image)
    >>> fig = overlay(image, exp.values, path="cat_heatmap.png", title="tabby")
    >>> fig = explanation_figure(image, exp, label="tabby", path="cat_explained.png")
"""

from .maps import AttributionMap, baseline_words, cell_index, describe_change, explanation_figure
from .plots import bars, heatmap, image_grid, limits, overlay, text_html, top_regions

__all__ = [
    "AttributionMap",
    "bars",
    "baseline_words",
    "cell_index",
    "describe_change",
    "explanation_figure",
    "heatmap",
    "image_grid",
    "limits",
    "overlay",
    "text_html",
    "top_regions",
]
