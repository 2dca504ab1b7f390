"""RISE (Petsiuk et al. 2018): randomized input sampling for explanation.

N random binary masks are drawn on a coarse grid (cells of ``cell`` pixels, each kept with
probability ``p``), upsampled bilinearly to ``(grid + 1) · cell`` and cropped at a random shift
in ``[0, cell)`` (so masks are smooth and not aligned to the grid), as in the paper. The query
is ``x̊ + M ⊙ (x − x̊)`` (``M ⊙ x`` for a zero baseline) and the saliency is

    S = Σ_i f(x̊ + M_i ⊙ (x − x̊)) · M_i / (N · p),

an estimate of E[f | the pixel is kept]. Masks are shared by the channels, drawn block by block
(32 at a time) on the model's device from a per-call ``torch.Generator`` — never all at once,
and the result does not depend on ``batch_size``. A row ``(D,)`` gets independent per-feature
masks (no grid).

The values are scores, not additive shares: every channel of a pixel gets the pixel's S, and S
contains the constant offset ≈ E[f] (rankings, and so AOPC, are unaffected).

Example:
    >>> from evoxplain.attribution.rise import RISE
    >>> exp = RISE(model, queries=4000, cell=32, seed=0).explain(image)    # (3, 224, 224)
    >>> exp.queries
    4001
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ..baseline import Baseline, make_baseline
from ..constraints import Integer, Optional, Real, check_all
from ..errors import InvalidInputError
from .base import Explainer, Steps
from .geex import pairs_per_block
from .superpixels import default_cell

SETTINGS = {
    "queries": Integer(low=1, hint="the number of masks"),
    "cell": Optional(Integer(low=1), hint="pixels per side"),
    "p": Real(0, 1, low_open=True, high_open=True, hint="the probability that a cell is kept"),
}


class RISE(Explainer):
    """RISE saliency from random smooth binary masks (see the module docstring).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        queries: masks N; one explanation costs ``queries + 1`` (the prediction query).
        cell: the side of a grid cell in pixels; None: a 7×7 grid (32 px at 224, 4 at 28), the
            paper's setting. Ignored for rows ``(D,)``.
        p: the probability that a cell is kept.
        baseline: what masked-out pixels show: a number (0 = the paper's black), ``"mean"``,
            ``"blur"`` or a tensor.
        fitness: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most inputs per model call; defaults to the BlackBox's.
        seed: seeds a per-call ``torch.Generator`` on the model's device; None draws one,
            recorded in ``params["seed"]``. No global random state is read or changed.

    Example:
        >>> RISE(model, queries=2000, cell=4, seed=0).explain(digits)       # (2, 1, 28, 28)
        Explanation(RISE, values=(2, 1, 28, 28), target=[...], queries=4002, seconds=...)
    """

    name = "RISE"
    stepwise = True

    def __init__(
        self,
        model: Any,
        *,
        queries: int = 4000,
        cell: int | None = None,
        p: float = 0.5,
        baseline: Baseline = 0.0,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
    ):
        own = check_all(SETTINGS, queries=queries, cell=cell, p=p)
        super().__init__(model, baseline=baseline, fitness=fitness, batch_size=batch_size, seed=seed)
        self.queries, self.cell, self.p = own["queries"], own["cell"], own["p"]
        self._params.update(queries=self.queries, cell=self.cell, p=self.p)

    def cost(self, x: torch.Tensor) -> int:
        return self.queries + 1

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim >= 2 and self.cell is not None and self.cell > min(x.shape[-2:]):
            raise InvalidInputError(f"cell={self.cell} is larger than the image {tuple(x.shape[-2:])}")

    def masks(self, count: int, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """``count`` masks ``(count, *shape)`` in [0, 1] for inputs whose spatial shape is ``shape``.

        Example:
            >>> g = torch.Generator().manual_seed(0)
            >>> RISE(model, cell=4).masks(8, (28, 28), g).shape
            torch.Size([8, 28, 28])
        """
        device = generator.device
        if len(shape) == 1:
            return (torch.rand(count, *shape, generator=generator, device=device) < self.p).float()
        h, w = shape
        cell = self.cell if self.cell is not None else default_cell(shape, cells=7)
        rows, cols = math.ceil(h / cell) + 1, math.ceil(w / cell) + 1
        grid = (torch.rand(count, 1, rows, cols, generator=generator, device=device) < self.p).float()
        up = F.interpolate(grid, size=(rows * cell, cols * cell), mode="bilinear", align_corners=False)[:, 0]
        dy = torch.randint(0, cell, (count, 1), generator=generator, device=device)
        dx = torch.randint(0, cell, (count, 1), generator=generator, device=device)
        ys = (dy + torch.arange(h, device=device))[:, :, None]
        xs = (dx + torch.arange(w, device=device))[:, None, :]
        return up[torch.arange(count, device=device)[:, None, None], ys, xs]

    def step_bytes(self, x: torch.Tensor) -> int:
        """A step holds its queries and their masks (and a block's upsampled grid)."""
        return 3 * self._per_step(x.numel()) * x.numel() * x.element_size()

    def _per_step(self, values: int) -> int:
        block = pairs_per_block(values)
        return max(block, self.batch_size // block * block)

    def _steps(self, x: torch.Tensor, target: int | None, seed: int) -> Steps:
        generator = torch.Generator(device=x.device).manual_seed(seed)
        base = make_baseline(self.baseline, x)
        target, scores = self._read_anchor((yield from self._ask(x[None])), target)
        spatial = tuple(x.shape[-2:]) if x.ndim >= 2 else tuple(x.shape)
        broadcast = (1,) * (x.ndim - len(spatial))  # masks are shared by leading (channel) axes
        delta = x - base
        total = torch.zeros(math.prod(spatial), device=x.device)
        block, per_step = pairs_per_block(x.numel()), self._per_step(x.numel())
        for first in range(0, self.queries, per_step):
            last = min(first + per_step, self.queries)
            masks = torch.cat([self.masks(min(block, last - s), spatial, generator) for s in range(first, last, block)])
            batch = base + masks.view(len(masks), *broadcast, *spatial) * delta
            f = self.fitness((yield from self._ask(batch)), target, self.blackbox.output)
            del batch
            total += f @ masks.reshape(len(masks), -1)
            self._progress(len(masks))
        saliency = (total / (self.queries * self.p)).view(spatial).expand_as(x)
        return {"values": saliency.cpu().clone(), "target": target, "score": scores[0]}
