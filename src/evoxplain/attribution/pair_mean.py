"""Running sums behind GEEX's mean estimators: the estimate and its standard error.

Every mirrored pair i contributes a term t_i = y_i · d_i (its score difference times its
direction, element-wise) and a weight α_i (its path position for Bernoulli masks, 1 otherwise).
The estimate is the ratio R = Σ t / Σ α, and its sampling error, the delta-method (ratio
estimator) formula, is

    se(R)² = n / (n − 1) · Σ (t_i − R α_i)² / (Σ α)²,

computed from Σ t, Σ α t, Σ t² and Σ α² without keeping any pair. With α = 1 it is the usual
standard error of a mean. Along the integrated path, whose α are stratified, it is slightly
conservative (the strata remove part of the spread it counts).

Example:
    >>> sums = PairMean(size=2)
    >>> sums.add(torch.tensor([1.0, 3.0]), torch.tensor([[1.0, 1.0], [1.0, -1.0]]), torch.ones(2))
    >>> sums.total.tolist(), sums.stderr().tolist()
    ([4.0, -2.0], [1.0, 2.0])
"""

from __future__ import annotations

import torch


class PairMean:
    """Accumulates ``Σ t``, ``Σ α t``, ``Σ t²`` and ``Σ α``, ``Σ α²`` over blocks of pairs.

    Memory: three tensors of ``size`` elements, however many pairs are added.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu"):
        self.total = torch.zeros(size, device=device)
        self.weighted = torch.zeros(size, device=device)
        self.squares = torch.zeros(size, device=device)
        self.alpha_total = torch.zeros((), device=device)
        self.alpha_squares = torch.zeros((), device=device)
        self.pairs = 0

    def add(self, differences: torch.Tensor, directions: torch.Tensor, alpha: torch.Tensor, *,
            consume: bool = False) -> None:  # fmt: skip
        """One block: ``differences`` and ``alpha`` ``(n,)``, ``directions`` ``(n, size)``;
        ``consume``: ``directions`` may be overwritten (squared in place: no copy of them is made)."""
        alpha = alpha.reshape(-1)
        self.total += differences @ directions
        self.weighted += (differences * alpha) @ directions
        self.squares += differences.square() @ (directions.square_() if consume else directions.square())
        self.alpha_total += alpha.sum()
        self.alpha_squares += alpha.square().sum()  # sums stay on the device: no synchronisation
        self.pairs += len(differences)

    def stderr(self) -> torch.Tensor:
        """The standard error of ``total / alpha_total``, element-wise (NaN with fewer than 2 pairs)."""
        n = self.pairs
        if n < 2:
            return torch.full_like(self.total, float("nan"))
        ratio = self.total / self.alpha_total
        spread = self.squares - 2 * ratio * self.weighted + ratio.square() * self.alpha_squares
        return (spread.clamp_min(0) * (n / (n - 1))).sqrt() / self.alpha_total
