"""Projected gradient descent on the Riesz s-energy with a rising exponent (a gradient baseline).

The Computational Science Stack Exchange thread "Algorithms for generating spherical codes" (answers by
nicoguaro and Futurologist): minimise the Thomson/Riesz energy Σ_{i<j} 1/|x_i − x_j|^p, whose gradient is
∇_i = p Σ_{j≠i} (x_j − x_i)/|x_i − x_j|^(p+2), by gradient descent — each point's gradient projected onto the
tangent space of the sphere at that point, a short step, every point renormalised onto the sphere — from
random starts. As the exponent grows the smallest distances dominate the energy and its minimisers approach
the max–min codes, so here the exponent rises in stages, each started from the previous stage's optimum:
s = S_FIRST · GROWTH^k up to S_FINAL (our values, below; the thread fixes none).

The objective is log E_s (same minimisers as E_s; scale-free): with m = min d² of the current points,
E_s = m^(−s/2) Σ_{i<j} (m/d²)^(s/2), every term ≤ 1 and the sum ≥ 1, so nothing overflows at any s; terms
below 1e-300 are dropped. The step rule is :mod:`.descent`'s (Armijo backtracking along the renormalised
move, no point moving more than MAX_MOVE × the stage's smallest distance). The budget (``iterations``
accepted steps) is split evenly over the stages left; steps a stage does not use pass on.

Pairs come from one BLAS Gram matrix (:mod:`.pairs`): memory O(N²) (N = 3000: 72 MB an array), time O(N² D)
an evaluation; one BLAS thread.

Contract: :func:`riesz_optimize` returns unit float64 rows (N, D), deterministic for the same inputs; at most
``iterations`` steps, ``on_iteration(k)`` after step k.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .descent import staged_descent, unit_rows
from ..pairs import squared_distances, squared_norms

__all__ = ["riesz_optimize", "log_energy_and_gradient", "S_FIRST", "S_FINAL", "GROWTH", "MAX_MOVE", "TOL"]

#: The first exponent: 1, the Coulomb energy of the thread's Thomson problem.
S_FIRST = 1.0
#: Each stage multiplies the exponent by this.
GROWTH = 2.0
#: The last exponent (2¹⁷: 18 stages from 1).
S_FINAL = 2.0**17
#: No point moves by more than this fraction of the smallest distance in one step.
MAX_MOVE = 0.25
#: A stage ends when log E fell by less than this in 3 steps in a row.
TOL = 1e-13


def log_energy_and_gradient(x: np.ndarray, s: float) -> tuple[float, np.ndarray, float]:
    """(log E_s, ∇ log E_s, smallest distance) for rows ``x`` (N, D), E_s = Σ_{i<j} |x_i − x_j|^(−s);
    (+inf, zeros, 0) when two rows coincide."""
    n = x.shape[0]
    d2 = squared_distances(x, squared_norms(x), 0, n)  # (N, N), the diagonal at +inf
    m = float(d2.min())
    if not m > 0.0:
        return math.inf, np.zeros_like(x), 0.0
    r = m / d2
    cut = math.exp(-690.0 / (0.5 * s))  # (m/d²)^(s/2) < 1e-300 below this ratio
    w = np.power(r, 0.5 * s, out=np.zeros_like(r), where=r > cut)
    total = 0.5 * float(w.sum())  # ≥ 1: the closest pair's term
    w /= d2
    grad = x * w.sum(axis=1)[:, None] - w @ x
    grad *= -s / total
    return 0.5 * s * math.log(1.0 / m) + math.log(total), grad, math.sqrt(m)


def riesz_optimize(
    vectors: np.ndarray, iterations: int, on_iteration: Callable[[int], None] | None = None
) -> tuple[np.ndarray, dict]:
    """Minimise E_s from ``vectors`` (N, D) for s = S_FIRST … S_FINAL (module doc).

    Returns (unit vectors (N, D), stats): ``stages``, ``final_exponent`` (of the last stage run),
    ``steps``, ``evaluations``, ``converged_stages``. Raises ``ValueError`` for N < 2, D < 1, non-finite or
    zero rows or a negative ``iterations``.
    """
    x = unit_rows(vectors, iterations, "riesz")
    exponents = []
    s = S_FIRST
    while s <= S_FINAL:
        exponents.append(s)
        s *= GROWTH
    return staged_descent(
        x,
        exponents,
        lambda s: lambda y: log_energy_and_gradient(y, s),
        lambda s: TOL,
        iterations,
        on_iteration,
        max_move=MAX_MOVE,
        final="final_exponent",
    )
