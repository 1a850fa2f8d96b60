"""The float64 reference iteration (the ``reference`` backend): the paper's steps 1–5, Jacobi order.

For every j, from the old set only (Stanojević, Šenk, Milutinović, §II.B, eqs. 8–12):

1. δ_j = min_{i≠j} |r_j − r_i|²
2. F*_j = Σ_{i≠j} (δ_j / |r_j − r_i|²)^(β/2) (r_j − r_i)
3. F_j = F*_j / |F*_j|
4. r*_j = r_j + (δ_j / 2β) F_j
5. r'_j = r*_j / |r*_j|

Degenerate cases, defined so that no NaN can appear: a coincident pair (d² = 0) has weight 1 (the limit of
the nearest neighbour's weight) and contributes r_j − r_i = 0; a zero total force leaves F_j = 0, so the
vector does not move. A point with a coincident twin therefore has δ_j = 0 and keeps its place — the
method's step δ_j/2β is zero there — which random Gaussian starts never hit.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import Backend, Update, loosening_mode
from ..pairs import blas, block_ranges, squared_distances, squared_norms

__all__ = ["ReferenceBackend", "reference_update", "naive_update", "random_start"]


def random_start(points: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian samples normalised to unit length (paper eq. 4): shape (points, dim), float64."""
    g = rng.standard_normal((points, dim))
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    # A zero Gaussian sample has probability 0; redraw rather than divide by it.
    while np.any(norms == 0):
        bad = norms[:, 0] == 0
        g[bad] = rng.standard_normal((int(bad.sum()), dim))
        norms = np.linalg.norm(g, axis=1, keepdims=True)
    return g / norms


def _step(vectors: np.ndarray, force: np.ndarray, delta: np.ndarray, beta: float) -> tuple[np.ndarray, float]:
    """Steps 3–5 and the move norm, for all rows at once."""
    fnorm = np.linalg.norm(force, axis=1, keepdims=True)
    direction = np.divide(force, fnorm, out=np.zeros_like(force), where=fnorm > 0)
    step = (delta / (2.0 * beta))[:, None]
    # r* = r + α F; only its direction is kept, so a long step (α > 1, only for β < 2) uses r/α + F instead:
    # the same direction, finite even where α overflows (β → 0).
    with np.errstate(over="ignore", divide="ignore"):
        long = step > 1.0
        moved = np.where(long, vectors / np.where(long, step, 1.0) + direction, vectors + step * direction)
    new = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    return new, float(np.sum((new - vectors) ** 2))


def _rows(r: np.ndarray, norms: np.ndarray, start: int, stop: int, half_beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1–2 for the rows ``start:stop``: (δ_j, F*_j)."""
    w = squared_distances(r, norms, start, stop)
    d = w.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        np.divide(d[:, None], w, out=w)  # ratio δ_j / d², in (0, 1]; 0 on the masked diagonal
        if np.any(d == 0):  # coincident pairs: 0/0 → weight 1 (their r_j − r_i is 0 anyway)
            np.nan_to_num(w, copy=False, nan=1.0)
        np.log(w, out=w)
        w *= half_beta
        np.exp(w, out=w)
    return d, r[start:stop] * w.sum(axis=1)[:, None] - w @ r


def reference_update(
    vectors: np.ndarray,
    beta: float,
    block: int | None = None,
    threads: int = 1,
    on_rows: Callable[[int], None] | None = None,
) -> Update:
    """One iteration of steps 1–5 on ``vectors`` (N, D) with exponent ``beta`` > 0, blocked over rows.

    Memory is O(N · block · threads); the force is accumulated as r_j Σ_i w_ji − Σ_i w_ji r_i, a matrix
    product. With ``threads`` > 1 the row blocks are shared among threads (NumPy releases the GIL in its
    kernels); the result does not depend on the number of threads. ``on_rows(k)`` is told after each block
    of k rows (progress).
    """
    r = np.ascontiguousarray(vectors, dtype=np.float64)
    n, _ = r.shape
    if n < 2:
        raise ValueError("need at least 2 points")
    if not beta > 0:
        raise ValueError("beta must be positive")
    norms = squared_norms(r)
    ranges = block_ranges(n, block)

    def work(rows):
        part = _rows(r, norms, *rows, 0.5 * beta)
        if on_rows is not None:
            on_rows(rows[1] - rows[0])
        return part

    if threads > 1 and len(ranges) > 1:
        # Our threads share the blocks; BLAS threads on top of them would only contend for the cores.
        with blas().limit(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(work, ranges))
    else:
        parts = [work(rows) for rows in ranges]
    delta = np.concatenate([d for d, _ in parts])
    force = np.concatenate([f for _, f in parts])
    new, s = _step(r, force, delta, beta)
    return Update(new, s, delta)


def naive_update(vectors: np.ndarray, beta: float) -> Update:
    """The textbook NumPy broadcast version, building the (N, N, D) difference tensor.

    Kept as an independent oracle for tests and as the baseline of ``benchmarks/reference_vs_naive.py``.
    """
    r = np.asarray(vectors, dtype=np.float64)
    n = r.shape[0]
    diff = r[:, None, :] - r[None, :, :]
    d2 = np.sum(diff**2, axis=2)
    np.fill_diagonal(d2, np.inf)
    delta = d2.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (delta[:, None] / d2) ** (beta / 2)
    w = np.where(d2 == 0, 1.0, w)
    w[np.arange(n), np.arange(n)] = 0.0
    force = np.sum(w[:, :, None] * diff, axis=1)
    new, s = _step(r, force, delta, beta)
    return Update(new, s, delta)


class ReferenceBackend(Backend):
    """float64 NumPy execution of the method: the quality oracle. No command-line options of its own;
    its options are the ``threads`` the CLI gives it.

    Parameters
    ----------
    block : int, optional
        Rows per block of the pairwise computation (default: about 2 MiB of work array).
    threads : int
        Threads sharing the row blocks (1: none). Independent starts in worker processes use 1.
    """

    name = "reference"

    @classmethod
    def options(cls, args, threads: int) -> dict:
        """``{"threads": threads}``; ``ValueError`` for ``--loosening chip`` (float64 loosens on the host)."""
        loosening_mode(args, cls.name)
        return {"threads": threads}

    def __init__(self, block: int | None = None, threads: int = 1):
        self.block = block
        self.threads = threads
        self.on_rows: Callable[[int], None] | None = None  #: progress: told after each block of rows

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        return reference_update(vectors, beta, self.block, self.threads, self.on_rows)
