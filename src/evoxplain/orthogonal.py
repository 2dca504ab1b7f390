"""Orthogonal sign designs: random sign vectors that cancel each other's cross terms.

A gradient estimate averages ``y·s`` over random directions ``s``; for one coordinate every other
coordinate ``b`` adds ``Σ s_a s_b`` scatter, zero only on average. Rows of a Hadamard matrix
(Sylvester's, ``H[r, c] = (−1)^popcount(r & c)``, of size N = the power of two above the
dimension) are mutually orthogonal, so over a block of N rows that scatter is exactly zero:
``Σ_r s_r s_rᵀ = N·I``. :class:`OrthogonalSigns` draws such rows at random, block after block:
each block takes ``dims`` random non-constant columns, flips each by a random sign and visits the
rows in random order. The column signs alone make every single row exactly uniform on
{−1, 1}^dims, so each draw has the distribution of independent fair signs: an estimator keeps its
expectation, and only the rows' dependence changes (what makes its variance smaller). Scaled by
independent half-normal magnitudes, ``|g| ⊙ s`` is exactly ``N(0, I)`` row by row, with its cross
terms shrunk by a factor 1 − 4/π² ≈ 0.6 over a block.

Example:
    >>> signs = OrthogonalSigns(5, torch.Generator().manual_seed(0)).draw(8)   # N = 8 rows
    >>> torch.equal(signs.T @ signs, 8 * torch.eye(5))
    True
"""

from __future__ import annotations

import math

import torch

from .errors import InvalidInputError

DESIGNS = ("random", "orthogonal")
"""How directions are drawn: independently, or in orthogonal blocks of sign vectors."""


class OrthogonalSigns:
    """Rows in {−1, 1}^dims, each uniform, orthogonal to the others of its block of N rows.

    Args:
        dims: the length of each row.
        generator: the source of every random choice (its device is where rows are made).
    """

    def __init__(self, dims: int, generator: torch.Generator):
        if dims < 1:
            raise InvalidInputError(f"an orthogonal design needs at least one dimension, not {dims}")
        self.dims = int(dims)
        self.generator = generator
        self.device = generator.device
        self.bits = max(1, math.ceil(math.log2(self.dims + 1)))
        self.size = 1 << self.bits  # N > dims, so the constant column 0 is never needed
        self._shifts = torch.arange(self.bits, device=self.device)
        self._rows = torch.empty(0, dtype=torch.long, device=self.device)
        self._next = 0

    def draw(self, n: int) -> torch.Tensor:
        """The next ``n`` rows, a float32 ``(n, dims)`` tensor of ±1."""
        parts = []
        while n > 0:
            if self._next == len(self._rows):
                self._new_block()
            take = min(n, len(self._rows) - self._next)
            rows = self._rows[self._next : self._next + take]
            self._next += take
            n -= take
            parity = (self._bits_of(rows) @ self._column_bits) % 2  # popcount(row & column) mod 2
            parts.append((1 - 2 * parity) * self._column_signs)
        return torch.cat(parts) if parts else torch.empty((0, self.dims), device=self.device)

    def _new_block(self) -> None:
        g = self.generator
        columns = torch.randperm(self.size - 1, generator=g, device=self.device)[: self.dims] + 1
        self._column_bits = self._bits_of(columns).T.contiguous()  # (bits, dims)
        self._column_signs = torch.randint(0, 2, (self.dims,), generator=g, device=self.device) * 2.0 - 1
        self._rows = torch.randperm(self.size, generator=g, device=self.device)
        self._next = 0

    def _bits_of(self, indices: torch.Tensor) -> torch.Tensor:
        """The binary digits of ``indices`` as float32 ``(len, bits)``: sums of ≤ 31 ones stay exact."""
        return ((indices[:, None] >> self._shifts) & 1).to(torch.float32)
