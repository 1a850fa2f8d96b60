"""The penalty formulation of the max–min problem (the penalty baseline of a Stack Exchange thread).

The Computational Science Stack Exchange thread "Algorithms for generating spherical codes", answer by
nicoguaro with F. Poloni's correction): a code is the solution of min t subject to x_i · x_j ≤ t (i ≠ j) and
|x_i| = 1 — the smallest bound t on the cosines, i.e. the largest angle — and a penalty method replaces the
constraints by a quadratic penalty (μ/2) Σ (violation)² with μ driven to its limit stage by stage. Here the
pair constraints are penalised and the sphere is kept exactly (tangent projection and renormalisation, as
the thread's gradient answers do):

    F_μ(x) = min_t [ t + (μ/2) Σ_{i<j} max(0, x_i · x_j − t)² ],

a pair "violating" when its cosine is above t, i.e. when it is closer than the distance that t stands for.
For fixed x the best t solves Σ_{i<j} max(0, g_ij − t) = 1/μ (g_ij = x_i · x_j; piecewise linear, solved
exactly from the sorted cosines above max g − 1/μ, the only ones that can be active), so
max g − 1/μ ≤ t* ≤ max g and F_μ → max_{i<j} g_ij as μ → ∞. By the envelope theorem
∇_i F_μ = μ Σ_j max(0, g_ij − t*) x_j — a repulsion from the pairs above t*, whose weights sum to 1 per pair
set. Stages μ = MU_FIRST · MU_GROWTH^k up to MU_FINAL (our values; the thread fixes none) each descend
(:mod:`.descent`: Armijo backtracking, renormalised moves) from the previous stage's optimum; the budget
(``iterations`` accepted steps) is split evenly over the stages left.

Pairs come from one BLAS Gram matrix: memory O(N²), time O(N² D) an evaluation; one BLAS thread.

Contract: :func:`penalty_optimize` returns unit float64 rows (N, D), deterministic for the same inputs; at
most ``iterations`` steps, ``on_iteration(k)`` after step k.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .descent import staged_descent, unit_rows

__all__ = [
    "penalty_optimize",
    "penalty_and_gradient",
    "best_threshold",
    "MU_FIRST",
    "MU_GROWTH",
    "MU_FINAL",
    "MAX_MOVE",
    "TOL",
]

#: The first penalty weight: t* may sit up to 1/μ = 100 below the largest cosine, so that from a random
#: start every pair is active and all of them repel (with μ = 10 only the few closest pairs moved, and
#: 300 steps left D = 3, N = 12 at 42–50°, measured).
MU_FIRST = 1e-2
#: Each stage multiplies μ by this.
MU_GROWTH = 4.0
#: The last μ: t* is within 1/μ ≈ 1e-10 of the largest cosine (21 stages from MU_FIRST).
MU_FINAL = 1e-2 * 4.0**20
#: No point moves by more than this fraction of the smallest distance in one step.
MAX_MOVE = 0.25
#: A stage ends when F fell by less than TOL/μ in 3 steps in a row (F is only within 1/μ of the largest
#: cosine anyway).
TOL = 1e-6


def best_threshold(cosines: np.ndarray, mu: float) -> float:
    """The t solving Σ max(0, c − t) = 1/μ over the values ``cosines`` (1-D, any order)."""
    top = float(cosines.max())
    c = np.sort(cosines[cosines > top - 1.0 / mu])[::-1]  # only these can be above t* ≥ max − 1/μ
    k = np.arange(1, c.size + 1)
    t = (np.cumsum(c) - 1.0 / mu) / k  # t if exactly the k largest are active
    below = np.append(c[1:], -np.inf)
    ok = (t >= below) & (t < c)
    return float(t[np.argmax(ok)]) if ok.any() else float(t[-1])


def penalty_and_gradient(x: np.ndarray, mu: float) -> tuple[float, np.ndarray, float]:
    """(F_μ(x), ∇F_μ(x), smallest distance) for unit rows ``x`` (N, D) (module doc)."""
    g = x @ x.T
    upper = g[np.triu_indices(x.shape[0], 1)]
    t = best_threshold(upper, mu)
    v = g - t
    np.maximum(v, 0.0, out=v)
    np.fill_diagonal(v, 0.0)
    value = t + 0.25 * mu * float(np.einsum("ij,ij->", v, v))  # every pair twice
    return value, mu * (v @ x), math.sqrt(max(0.0, 2.0 - 2.0 * float(upper.max())))


def penalty_optimize(
    vectors: np.ndarray, iterations: int, on_iteration: Callable[[int], None] | None = None
) -> tuple[np.ndarray, dict]:
    """Minimise F_μ from ``vectors`` (N, D) for μ = MU_FIRST … MU_FINAL (module doc).

    Returns (unit vectors (N, D), stats): ``stages``, ``final_mu`` (of the last stage run), ``steps``,
    ``evaluations``, ``converged_stages``. Raises ``ValueError`` for N < 2, D < 1, non-finite or zero rows or
    a negative ``iterations``.
    """
    x = unit_rows(vectors, iterations, "penalty")
    mus = []
    mu = MU_FIRST
    while mu <= MU_FINAL * (1 + 1e-12):
        mus.append(mu)
        mu *= MU_GROWTH
    return staged_descent(
        x,
        mus,
        lambda mu: lambda y: penalty_and_gradient(y, mu),
        lambda mu: TOL / mu,
        iterations,
        on_iteration,
        max_move=MAX_MOVE,
        final="final_mu",
    )
