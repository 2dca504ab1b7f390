"""bGEEX's regression estimator: least squares of mirrored score differences on the mask cells.

A Bernoulli mask with crisp cells (each input element follows one cell) is a sign vector
s ∈ {−1, 1}^k; its mirrored pair is −s. At path position α (1 when not integrated) the pair's
score difference is y = f(x̊ + α b ⊙ Δ) − f(x̊ + α (1 − b) ⊙ Δ), which for a model linear in the
cells is exactly α sᵀw, w the cells' attributions. The mean estimator takes
``w ≈ Σ s·y / Σ α``; this one solves the normal equations ``(Σ α s sᵀ) w = Σ s·y`` (weighted
least squares, weights 1/α). Both have the same expectation, since E[Σ α s sᵀ] = Σ α · I, but the
regression removes the scatter every other cell adds to a cell's estimate: it is exact for a
linear model as soon as the masks span the cells, and its error on a real model comes only from
the model's non-linearity (the idea of Kernel Banzhaf, Liu et al. 2024, on GEEX's integrated path).

With fewer pairs than cells the system is singular; the Gram matrix is then shrunk toward its
expectation, ``(1 − γ)·Σ α s sᵀ + γ·Σ α·I`` with γ = k / (k + pairs) (γ = 1 gives the mean
estimator back).

Example:
    >>> fit = CellRegression(cells=4)
    >>> signs = torch.tensor([[1., 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    >>> fit.add(signs, torch.ones(4), signs @ torch.tensor([1., 2, 3, 4]))
    >>> fit.solve().tolist()
    [1.0, 2.0, 3.0, 4.0]
    >>> fit.stderr(fit.solve()).tolist()      # four pairs, four cells: no residual left to measure
    [nan, nan, nan, nan]
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError

MAX_CELLS = 4096
"""The most cells a regression fits (its Gram matrix takes MAX_CELLS² float64 entries: 128 MiB)."""


class CellRegression:
    """Accumulates ``Σ α s sᵀ`` and ``Σ s·y`` over mask pairs, then solves for the cells' values.

    Memory is ``cells²`` however many queries are made: the masks themselves are not kept.
    """

    def __init__(self, cells: int, device: torch.device | str = "cpu"):
        if cells > MAX_CELLS:
            raise InvalidInputError(
                f"estimator='regression' fits one value per mask cell, and these masks have {cells} cells "
                f"(at most {MAX_CELLS}): draw smaller masks with mask_size, e.g. mask_size=(14, 14)"
            )
        self.cells = cells
        self.gram = torch.zeros((cells, cells), dtype=torch.float64, device=device)
        self.moment = torch.zeros(cells, dtype=torch.float64, device=device)
        self.weighted_squares = torch.zeros((), dtype=torch.float64, device=device)  # Σ y² / α
        self.alpha_total = torch.zeros((), dtype=torch.float64, device=device)
        self.pairs = 0

    def add(self, signs: torch.Tensor, alpha: torch.Tensor, differences: torch.Tensor) -> None:
        """One block of pairs: ``signs`` ``(n, cells)`` in {−1, 1}, ``alpha`` and ``differences`` ``(n,)``."""
        device = self.gram.device
        signs, alpha = signs.to(device, torch.float64), alpha.to(device, torch.float64).reshape(-1)
        self.gram += (signs * alpha[:, None]).T @ signs
        differences = differences.to(device, torch.float64)
        self.moment += differences @ signs
        self.weighted_squares += (differences.square() / alpha.clamp_min(1e-30)).sum()
        self.alpha_total += alpha.sum()  # sums stay on the device: no synchronisation per block
        self.pairs += len(signs)

    @property
    def shrinkage(self) -> float:
        """γ: 0 once there are twice as many pairs as cells, rising to 1 with none."""
        return 0.0 if self.pairs >= 2 * self.cells else self.cells / (self.cells + self.pairs)

    def _system(self) -> torch.Tensor:
        """A: the Gram matrix, shrunk toward its expectation while pairs are few."""
        gamma = self.shrinkage
        identity = torch.eye(self.cells, dtype=torch.float64, device=self.gram.device)
        return (1 - gamma) * self.gram + gamma * self.alpha_total * identity

    def solve(self) -> torch.Tensor:
        """The cells' values ``w`` (float64, ``(cells,)``)."""
        return torch.linalg.solve(self._system(), self.moment)

    def stderr(self, values: torch.Tensor) -> torch.Tensor:
        """The standard errors of ``values`` (:meth:`solve`'s result): float64, ``(cells,)``.

        NaN when the pairs leave no degree of freedom for the residuals (about as many pairs as cells).
        """
        values = values.to(self.gram)
        residual = float(self.weighted_squares - 2 * values @ self.moment + values @ self.gram @ values)
        inverse = torch.linalg.inv(self._system())  # symmetric, as A is
        freedom = self.pairs - float((self.gram * inverse).sum())  # pairs − tr(G A⁻¹): effective parameters
        if freedom < 1:
            return torch.full_like(values, float("nan"))
        # diag(A⁻¹ G A⁻¹), which is diag(G⁻¹) when A = G (no shrinkage)
        variances = ((inverse @ self.gram) * inverse).sum(dim=1) if self.shrinkage > 0 else inverse.diagonal()
        return (max(residual, 0.0) / freedom * variances.clamp_min(0)).sqrt()
