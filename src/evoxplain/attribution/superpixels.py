"""Feature groups for perturbation methods: a regular grid of square superpixels.

An image ``(C, H, W)`` (or any tensor whose last two axes are spatial) is cut into a grid of
``cell × cell`` squares shared by all channels (the last row and column may be smaller); a
flat row ``(D,)`` gives every feature its own group. :func:`spread` turns one value per group
back into values of the input's shape, shared equally by the group's elements, so the values
of a group sum to the group's value.

Example:
    >>> ids = grid_mask((3, 28, 28), 4)        # (3, 28, 28) of group ids 0..48: a 7×7 grid
    >>> int(ids.max()) + 1
    49
    >>> spread(torch.arange(49.0), ids).shape
    torch.Size([3, 28, 28])
"""

from __future__ import annotations

import math

import torch

GRID = 14
"""Default superpixels per side: 16-pixel squares at 224 px, 2-pixel squares at 28 px."""


def default_cell(shape: tuple[int, ...], cells: int = GRID) -> int:
    """The side of a square superpixel giving about ``cells`` squares along the shorter side."""
    if len(shape) < 2:
        return 1
    return max(1, round(min(shape[-2:]) / cells))


def grid_mask(shape: tuple[int, ...], cell: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Group ids (long, of ``shape``): square superpixels over the last two axes, or one per feature.

    Args:
        shape: one input's shape: ``(D,)`` (each feature its own group) or ``(..., H, W)``.
        cell: the side of a superpixel in pixels (ignored for 1-D inputs).
        device: where the mask is built.
    """
    if len(shape) == 1:
        return torch.arange(shape[0], device=device)
    h, w = shape[-2:]
    columns = math.ceil(w / cell)
    rows = torch.arange(h, device=device) // cell
    cols = torch.arange(w, device=device) // cell
    ids = rows[:, None] * columns + cols[None, :]
    return ids.expand(shape).contiguous()


def spread(group_values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Share each group's value equally among its elements: values of ``ids``' shape.

    Example:
        >>> spread(torch.tensor([2.0, 6.0]), torch.tensor([0, 0, 1, 1, 1]))
        tensor([1., 1., 2., 2., 2.])
    """
    group_values = group_values.flatten().to(ids.device)
    counts = torch.bincount(ids.flatten(), minlength=len(group_values)).clamp_min(1)
    return (group_values / counts)[ids]
