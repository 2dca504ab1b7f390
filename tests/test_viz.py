"""Heatmaps, overlays and coloured text."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from evoxplain import InvalidInputError
from evoxplain.viz import bars, heatmap, limits, overlay, text_html, top_regions


def test_heatmap_sums_channels():
    values = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)
    np.testing.assert_allclose(heatmap(values), values.sum(0).numpy())
    assert heatmap(np.ones((3, 4))).shape == (3, 4)
    with pytest.raises(InvalidInputError):
        heatmap(torch.ones(5))


def test_overlay_writes_png_of_figure_size(tmp_path):
    image = torch.rand(3, 32, 48)
    values = torch.randn(3, 32, 48)
    fig = overlay(image, values, path=tmp_path / "h.png", title="t", dpi=50)
    with Image.open(tmp_path / "h.png") as png:
        assert png.format == "PNG"
        assert png.size == tuple(round(s * 50) for s in fig.get_size_inches())
    gray = overlay(torch.rand(1, 28, 28), torch.randn(28, 28))  # (1, H, W) image, (H, W) values, no file
    assert len(gray.axes) == 3  # input, attribution, colorbar
    assert [p.name for p in tmp_path.glob("*.png")] == ["h.png"]  # nothing written without a path


def test_limits_are_symmetric_around_zero():
    values = torch.zeros(1, 8, 8)
    values[0, 0, 0], values[0, 1, 1] = -0.5, 2.0
    fig = overlay(torch.rand(1, 8, 8), values)
    low, high = fig.axes[1].images[-1].get_clim()
    assert (low, high) == (-2.0, 2.0)
    assert limits(np.array([-3.0, 1.0])) == (-3.0, 3.0)
    assert limits(np.zeros(4)) == (-1.0, 1.0)


def test_mismatched_values_are_refused():
    with pytest.raises(InvalidInputError, match="do not match"):
        overlay(torch.rand(3, 8, 8), torch.rand(3, 9, 9))


def test_top_regions_finds_the_hot_cell():
    values = torch.zeros(1, 28, 28)
    values[0, 10:12, 20:22] = 1.0
    values[0, 0:2, 0:2] = -1.0
    (box, total), *_ = top_regions(values, k=1)
    assert box == (8, 12, 20, 24) and total == pytest.approx(4.0)
    (box, total), *_ = top_regions(values, sign=-1, k=1)
    assert box == (0, 4, 0, 4) and total == pytest.approx(-4.0)


def test_bars_and_text_html(tmp_path):
    bars(torch.tensor([0.5, -0.2, 0.0]), path=tmp_path / "b.png")
    assert (tmp_path / "b.png").is_file()
    page = text_html(["good", "<bad>"], [0.5, -0.25])
    assert "rgba(255,0,0,1.00)" in page and "rgba(0,0,255,0.50)" in page and "&lt;bad&gt;" in page
    with pytest.raises(InvalidInputError):
        text_html(["one"], [1.0, 2.0])
