"""RRR (relaxed–reflect–reflect) with divide-and-concur, on the sphere.

V. Elser (*How densely can spheres be packed with moderate effort in high dimensions?*) packs
spheres in a torus with RRR; here the same scheme searches for N points on the unit sphere in R^D whose
pairwise (chord) distances are all at least a target d:

- divide and concur (seed §III): every pair {i, j} holds its own copy x_ij of point i and x_ji of point j, so
  the search space is N(N − 1) vectors of R^D;
- P_A (seed app. C, without the torus, with the sphere added to A): every copy is put on the unit sphere;
  a pair whose copies are then closer than d is turned apart within its plane to distance exactly d — the
  nearest such pair, the turn split between the two copies by their lengths (see :func:`project_apart`);
  pairs already at ≥ d are unchanged. (Measured, one attempt at a fixed d on D = 4, N = 24, 8 starts, success
  at ε < 10⁻¹⁰: at d = 0.995 the paper's move along the difference, the sphere left to P_B, solved 2 in 20000
  iterations, a symmetric turn on the sphere 3 in 5000, this split 0 in 5000; at d = 0.99 and 15000
  iterations the symmetric turn 3, this split 4. Kept: the exact projection, RRR's local theory needs one.)
- P_B (seed app. D, with the weights of app. E): the copies of each point are replaced by their weighted
  centroid, scaled onto the unit sphere — the nearest point of B = {all copies of i equal and of length 1}
  in the weighted metric (Σ_j g_ij |x_ij − y|² over |y| = 1 is least at y = centroid / |centroid|);
- the RRR map (the paper's eq. 1) x ↦ x + β (P_B(2 P_A(x) − x) − P_A(x)), β = 0.5 (the paper's value);
- the metric weights (seed app. E): g_ij = g_ji start at 1 and follow g ← g + γ (ε²_ij / ⟨ε²⟩ − g), where
  ε²_ij = |x^A_ij − x^B_ij|² + |x^A_ji − x^B_ji|² is the pair's discrepancy between the two projections in
  the current step and ⟨⟩ the mean over pairs; they only enter P_B; γ = 10⁻² (the paper's value for its hard
  instance, Best's packing; 10⁻³ for its easy ones);
- the error ε = |x′ − x| / √N (seed §V); an attempt succeeds when ε falls below :data:`SOLVED` (10⁻⁵; the
  seed stops at 10⁻⁴), then runs on, converging locally, until ε < :data:`FINE` or a quarter more of its
  allowance has passed; the concurred points P_B(2 P_A(x) − x) are the solution, their smallest distance
  the distance found.

Around the paper's fixed-target search, the target is set by bisection: an attempt at target d runs at most
``attempt_iterations`` RRR iterations (fresh weights, copies concurred) from the best solution so far (at
first the start); success raises the lower end of the bracket of targets to d, failure lowers the upper end
to d (a failure is not a proof of infeasibility: the bracket can close below the optimum; a success may be
a hair short of d). The best solution is the one with the largest distance found. The bracket starts at
[smallest distance of the start, √(2N/(N − 1))] (the simplex bound; √2 once N > D + 1, Rankin's bound)
and the next target is its midpoint; the search ends when the whole budget is spent or the bracket is
narrower than :data:`BRACKET_TOL`.

Layout (our choice): the copies are one (N, N, D) array X with X[i, j] = x_ij — all pairs, no cutoff; the
diagonal X[i, i] is unused (weight 0). P_A pairs X[i, j] with X[j, i] (the transposed array), P_B is a
weighted sum over axis 1. Memory 3 · N² · D float64 (N = 1000, D = 8: 190 MB); each iteration O(N² · D).

Contract: :func:`rrr_optimize` returns unit float64 vectors (N, D) at least as far apart as the start,
deterministic for the same inputs; at most ``iterations`` RRR iterations, ``on_iteration(k)`` after each.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np

from .descent import unit_rows
from ..pairs import min_distance

__all__ = [
    "rrr_optimize",
    "project_apart",
    "concur",
    "BETA",
    "GAMMA",
    "SOLVED",
    "FINE",
    "ATTEMPTS",
    "ATTEMPT_MIN",
    "BRACKET_TOL",
]

#: RRR step (Elser: β = 0.5 in all its experiments).
BETA = 0.5
#: Metric-weight rate (Elser: 10⁻² for its hard instance, 10⁻³ otherwise).
GAMMA = 1e-2
#: An attempt succeeds when the error ε = |x′ − x|/√N falls below SOLVED (Elser stops at 10⁻⁴); it then
#: goes on, locally converging, until ε < FINE or a quarter of its allowance more has passed, so that the
#: distances found are good to ~1e-9. Measured (D = 4, N = 24, 6 starts, 30000 iterations, 3000 an
#: attempt): SOLVED = 1e-10 alone found the 24-cell in none, 1e-5 in one.
SOLVED, FINE = 1e-5, 1e-12
#: RRR iterations allowed to one attempt (one target distance) unless told: the budget / ATTEMPTS, at least
#: ATTEMPT_MIN (a bisection to BRACKET_TOL takes ~35 attempts, about half of them failures that use their
#: whole allowance; an easy success takes ~50 iterations).
ATTEMPTS, ATTEMPT_MIN = 20, 100
#: The bisection stops once the bracket of target distances is narrower than this.
BRACKET_TOL = 1e-10


def project_apart(x: np.ndarray, d: float, tie: np.ndarray) -> np.ndarray:
    """P_A: the nearest copies on the unit sphere with every pair at chord distance ≥ ``d`` (angle ≥ θ,
    d = 2 sin(θ/2)), from copies X (N, N, D), X[i, j] paired with X[j, i]. A new array.

    Each copy is first scaled onto the sphere (x̂ = x/|x|). A pair already at angle α ≥ θ stays there.
    Otherwise both copies turn apart within their plane, away from their bisector, by angles u (copy
    x_ij) and v (copy x_ji) with u + v = θ − α; the distance-minimising split weights them by length:
    |x_ij| sin u = |x_ji| sin v, so tan u = |x_ji| sin(θ − α) / (|x_ij| + |x_ji| cos(θ − α)). ``tie``
    (N, N, D), antisymmetric in (i, j), gives the direction for pairs whose copies coincide."""
    length = np.sqrt(np.einsum("ijk,ijk->ij", x, x))
    length[length == 0.0] = 1.0  # a zero copy (never met from the start in B): leave it at the origin's tie
    h = x / length[:, :, None]
    ht = h.swapaxes(0, 1)
    diff = h - ht  # along e2 = the in-plane direction away from the partner, antisymmetric
    chord = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    np.fill_diagonal(chord, np.inf)
    short = chord < d
    if not short.any():
        return h
    theta = 2.0 * math.asin(min(1.0, 0.5 * d))
    i, j = np.nonzero(short)
    hs, ds, cs = h[i, j], diff[i, j], chord[i, j]
    zero = cs == 0.0
    if zero.any():
        ds[zero] = tie[i[zero], j[zero]]
        cs[zero] = np.linalg.norm(ds[zero], axis=1)
    e2 = ds / cs[:, None]
    alpha = 2.0 * np.arcsin(np.minimum(1.0, 0.5 * chord[i, j]))
    e1 = hs - np.sin(0.5 * alpha)[:, None] * e2  # the bisector's component: ĥ = cos(α/2) e1 + sin(α/2) e2
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    gap = theta - alpha
    mine, other = length[i, j], length[j, i]
    u = np.arctan2(other * np.sin(gap), mine + other * np.cos(gap))
    turn = 0.5 * alpha + u
    out = h.copy()
    out[i, j] = np.cos(turn)[:, None] * e1 + np.sin(turn)[:, None] * e2
    return out


def concur(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P_B, as the points: for each i, Σ_j g_ij x_ij / Σ_j g_ij scaled to unit length, shape (N, D)
    (``weights`` (N, N), symmetric, zero diagonal). A centroid of length 0 (copies cancelling exactly) keeps
    the direction of the plain sum of the copies, or of the first axis."""
    c = np.einsum("ij,ijk->ik", weights, x)
    length = np.linalg.norm(c, axis=1, keepdims=True)
    bad = length[:, 0] == 0.0
    if bad.any():
        c[bad] = x[bad].sum(axis=1)
        c[bad & (np.linalg.norm(c, axis=1) == 0.0), 0] = 1.0
        length = np.linalg.norm(c, axis=1, keepdims=True)
    return c / length


def _attempt(y0: np.ndarray, d: float, budget: int, tie: np.ndarray, count_iteration) -> tuple[np.ndarray | None, int]:
    """RRR at target ``d`` from the concurred points ``y0`` (N, D). Returns (the solution's points, or None
    when ε stayed above :data:`SOLVED` for ``budget`` iterations; iterations used)."""
    n = y0.shape[0]
    x = np.broadcast_to(y0[:, None, :], (n, n, y0.shape[1])).copy()
    g = np.ones((n, n))
    np.fill_diagonal(g, 0.0)
    off = ~np.eye(n, dtype=bool)
    solved_at = 0
    y = y0
    for k in range(1, budget + 1):
        a = project_apart(x, d, tie)
        y = concur(2.0 * a - x, g)
        step = y[:, None, :] - a  # P_B(R_A(x)) − P_A(x), copy by copy
        count_iteration()
        e2 = np.einsum("ijk,ijk->ij", step, step)
        e2 *= off
        eps = math.sqrt(float(e2.sum())) * BETA / math.sqrt(n)
        if eps < FINE or (solved_at and k - solved_at >= budget // 4):
            return y, k
        if eps < SOLVED and not solved_at:
            solved_at = k
        x += BETA * step
        pair = e2 + e2.T  # ε²_ij of the pair {i, j}
        mean = float(pair.sum()) / (n * (n - 1))
        if mean > 0.0:
            g += GAMMA * (pair / mean - g)
            np.fill_diagonal(g, 0.0)
    return (y if solved_at else None), budget


def _default_rng(vectors: np.ndarray) -> np.random.Generator:
    digest = hashlib.sha256(np.ascontiguousarray(vectors).tobytes() + str(vectors.shape).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def rrr_optimize(
    vectors: np.ndarray,
    iterations: int,
    on_iteration: Callable[[int], None] | None = None,
    *,
    attempt_iterations: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict]:
    """Raise the smallest distance of ``vectors`` (N, D) by RRR attempts at bisected targets (module doc).

    Returns (unit vectors (N, D), stats): ``attempts``, ``solved`` (attempts that succeeded),
    ``rrr_iterations`` (≤ ``iterations``), ``target_low`` / ``target_high`` (the final bracket of chord
    distances), ``attempt_iterations`` (default: ``iterations`` / ATTEMPTS, at least ATTEMPT_MIN). ``rng``
    (default: seeded by the input's bytes) only draws the tie directions for coinciding copies. Raises
    ``ValueError`` for N < 2, D < 1, non-finite or zero rows, a negative ``iterations`` or
    ``attempt_iterations`` < 1.
    """
    x = unit_rows(vectors, iterations, "rrr")
    if attempt_iterations is None:
        attempt_iterations = max(ATTEMPT_MIN, iterations // ATTEMPTS)
    if int(attempt_iterations) != attempt_iterations or attempt_iterations < 1:
        raise ValueError(f"attempt_iterations must be a positive integer, not {attempt_iterations!r}")
    n, dim = x.shape
    rng = rng if rng is not None else _default_rng(x)
    t = rng.standard_normal((n, n, dim))
    tie = t - t.swapaxes(0, 1)  # antisymmetric: the two copies of a pair get opposite directions

    best = x
    best_distance = low = min_distance(x)
    high = math.sqrt(2.0 * n / (n - 1)) if n <= dim + 1 else math.sqrt(2.0)
    high = max(high, low)
    done = attempts = solved = 0
    counter = [0]

    def count_iteration():
        counter[0] += 1
        if on_iteration is not None:
            on_iteration(counter[0])

    while done < iterations and high - low > BRACKET_TOL:
        target = 0.5 * (low + high)
        y, used = _attempt(best, target, min(attempt_iterations, iterations - done), tie, count_iteration)
        done += used
        attempts += 1
        if y is None:
            high = target
            continue
        solved += 1
        low = target
        found = min_distance(y)
        if found > best_distance:
            best, best_distance = y, found
    stats = {
        "attempts": attempts,
        "solved": solved,
        "rrr_iterations": done,
        "target_low": low,
        "min_distance": best_distance,
        "target_high": high,
        "attempt_iterations": int(attempt_iterations),
    }
    return best, stats
