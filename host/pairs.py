"""Blocked all-pairs squared distances: memory O(N · block), never an (N, N, D) tensor.

Used by the float64 reference iteration and by the code metrics, so that both see the same d².
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = [
    "default_block",
    "block_ranges",
    "squared_norms",
    "squared_distances",
    "squared_distance_blocks",
    "pairs_below",
    "min_distance",
    "blas",
]

#: Elements per (block, N) work array: 2¹⁸ float64 = 2 MiB, so a block's passes stay in cache.
_BLOCK_ELEMENTS = 1 << 18


def default_block(n: int) -> int:
    """Rows per block for N points: as many as keep one (block, N) array near 2 MiB, at least 16."""
    return max(16, min(n, _BLOCK_ELEMENTS // max(n, 1)))


def block_ranges(n: int, block: int | None = None) -> list[tuple[int, int]]:
    """The row ranges ``(start, stop)`` that cover ``range(n)`` in blocks."""
    block = block or default_block(n)
    return [(start, min(n, start + block)) for start in range(0, n, block)]


def squared_norms(vectors: np.ndarray) -> np.ndarray:
    """|r_i|² for every row, shape (N,)."""
    return np.einsum("ij,ij->i", vectors, vectors)


def squared_distances(vectors: np.ndarray, norms: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the pairwise squared-distance matrix, a new (stop − start, N) array.

    ``|r_j − r_i|²`` is computed as ``|r_j|² + |r_i|² − 2 r_j·r_i`` (``norms`` from :func:`squared_norms`),
    clipped at 0, with the pair i = j set to +inf so that row minima skip it.
    """
    d2 = vectors[start:stop] @ vectors.T
    d2 *= -2.0
    d2 += norms[start:stop, None]
    d2 += norms[None, :]
    np.maximum(d2, 0.0, out=d2)
    rows = np.arange(stop - start)
    d2[rows, rows + start] = np.inf
    return d2


def squared_distance_blocks(vectors: np.ndarray, block: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, d2)`` for consecutive row blocks (see :func:`squared_distances`)."""
    norms = squared_norms(vectors)
    for start, stop in block_ranges(vectors.shape[0], block):
        yield start, stop, squared_distances(vectors, norms, start, stop)


def pairs_below(r: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs i < j with |r_i − r_j| < cutoff: (i, j, d) with d measured directly as |r_i − r_j|.

    The blocked pass (d² via norms and a dot product, absolute error ~1e-16) only selects candidates, with a
    little slack so that no pair at the cutoff is lost."""
    c2 = (cutoff * (1 + 1e-9) + 1e-12) ** 2
    ii, jj = [], []
    for start, _, d2 in squared_distance_blocks(r):
        rows, cols = np.nonzero(d2 < c2)
        rows += start
        keep = rows < cols
        ii.append(rows[keep])
        jj.append(cols[keep])
    i, j = np.concatenate(ii), np.concatenate(jj)
    d = np.linalg.norm(r[i] - r[j], axis=1)
    keep = d < cutoff
    return i[keep], j[keep], d[keep]


def min_distance(vectors: np.ndarray, on_rows: Callable[[int], None] | None = None) -> float:
    """min_{i≠j} |r_i − r_j| of (N, D) rows as given, with the closest pairs measured directly (the one
    minimum distance of the package). ``on_rows(k)`` is told after each block of k rows (progress; N rows
    in all)."""
    r = np.asarray(vectors, dtype=np.float64)
    best = np.inf
    for start, stop, d2 in squared_distance_blocks(r):
        best = min(best, float(d2.min()))
        if on_rows is not None:
            on_rows(stop - start)
    _, _, d = pairs_below(r, np.sqrt(max(best, 0.0)) * (1 + 1e-6) + 1e-9)
    return float(d.min())


@cache
def blas() -> ThreadpoolController:
    """The process's BLAS thread pools, to limit while blocked work runs (e.g. ``blas().limit(limits=1,
    user_api="blas")``: skinny products, or our own threads over the blocks)."""
    return ThreadpoolController()
