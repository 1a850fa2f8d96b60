"""Energy minimisation by nonlinear conjugate gradients with exponent doubling (Wang 2008, §2).

J. Wang (*Finding and Investigating Exact Spherical Codes*, arXiv:0805.0776, 2008, §2 "Methodology"):

- energy (eq. 1) E_s(x) = Σ_{i<j} (C / |x_i − x_j|)^s, an inverse power law whose smallest distances dominate
  as s grows; C only keeps the numbers in range and is set, before every stage, to the exact minimal
  distance of the configuration (after Nurmela), so every term starts at most 1;
- stages (after Kottwitz): a random start exponent, minimise to convergence, double s, repeat from the
  optimum found until the exponent passes a final one — the random start exponent avoids the bias of a fixed
  one;
- the local optimiser is nonlinear conjugate gradients with the Hestenes–Stiefel update;
- the sphere constraint: after each move along the conjugate direction every point is scaled back onto the
  sphere, and at high exponents each point's gradient is replaced by its component in the tangent space at
  that point (near a minimum the raw gradient points almost radially, and moves along it are undone by the
  rescaling); at low exponents the raw gradient is kept, so that successive gradients stay consistent.

The paper's numerals are not legible in the text at hand (its exponent range, final exponent, the exponent at
which projection starts, its line search and stopping rule are not stated there); the values below are ours,
chosen by measurement (comments). Additions of ours, not the paper's: the HS coefficient is clipped at 0 and
the direction reset to steepest descent when it is not a descent direction (HS+); a strong-Wolfe line search
along the curve y(α) = normalise(x + α p), whose first trial moves no point by more than half the minimal
distance; the total iteration budget split evenly across the remaining stages (unused iterations pass on);
C re-set within a stage when E has fallen by 100 orders (from a random start, the closest pair moves far
beyond C); coincident rows moved apart by a random jitter first (C = 0 would leave the energy undefined).

Numerics: terms are evaluated as (C²/d²)^(s/2), ≤ 1 at the start of a stage and only accepted by the line
search while E does not grow, so nothing overflows; a trial step whose energy is not finite is treated as too
long; terms below 1e-300 are dropped. Pairwise work is blocked (:mod:`.pairs`): memory O(N · block), never
(N, N, D); one BLAS thread. Measured: N = 2000, D = 3, 31 ms an energy-and-gradient evaluation, ~2.3
evaluations per CG iteration.

Contract: :func:`cg_optimize` returns unit float64 vectors, never NaN, deterministic for the same inputs; at
most ``iterations`` CG iterations in all, ``on_iteration`` called once per iteration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from ..pairs import blas, block_ranges, squared_distances, squared_norms

__all__ = ["cg_optimize", "energy_and_gradient", "START_EXPONENTS", "FINAL_EXPONENT", "PROJECT_FROM"]

#: The start exponent is drawn log-uniformly from [lo, hi), four octaves. Measured (16 random starts each,
#: 3000 iterations, one octave [a, 2a) at a time): D = 3, N = 13 reached 57.1367° in 12/16 starts from
#: [40, 80) but 1/16 from [10, 20); N = 48 reached 30.7628° in 16/16 from [10, 20) but 12/16 from [40, 80);
#: the 24-cell only from [2, 4) (1/16). No single octave suits all, so starts spread over several.
START_EXPONENTS = (8.0, 128.0)
#: Doubling stops once s exceeds this: s0 · 2^k ≤ FINAL_EXPONENT are run (15 to 19 stages). The max–min
#: angle of a stage's optimum is ~1/s from its limit: at 2²¹ measured 4e−6 to 1e−5° below the best known
#: D = 3, N = 13, 24, 30, 48 (symmetric codes, the icosahedron, are exact at every s).
FINAL_EXPONENT = 2.0**21
#: Gradients are projected to the tangent spaces from this exponent on: at every exponent used here. Measured
#: (8 starts, D = 3, N = 30/48/72, D = 4, N = 24, D = 5, N = 16): projecting from the start gave mean angles
#: 38.574/30.627/24.686/58.682/78.463° in 35 s, from s = 1000 on 38.404/30.451/24.687/58.430/78.463° in 34 s,
#: never 38.403/30.409/24.668/58.241/77.535° in 48 s; the raw-gradient stage at s = 960 took 745 iterations,
#: the projected one 66 (N = 72).
PROJECT_FROM = 0.0
#: A stage ends after STALL iterations in a row that lower E by less than REL_TOL · E (1e−8 gave the same
#: angles to 1e−8° on D = 3, N ≤ 120; stages of N = 120 still take ~500 iterations to get there).
REL_TOL, STALL = 1e-10, 3
#: Strong-Wolfe constants (sufficient decrease, curvature) and energy evaluations allowed per line search.
C1, C2, MAX_EVALS = 1e-4, 0.1, 20
#: A line search's first trial moves no row by more than MAX_MOVE × the current minimal distance.
MAX_MOVE = 0.5
#: C is re-set within a stage when E falls below this (far from underflow at 1e-308).
RESCALE_BELOW = 1e-100


def energy_and_gradient(
    x: np.ndarray, c2: float, s: float, block: int | None = None
) -> tuple[float, np.ndarray, float]:
    """(E, ∇E, min d²) for unit rows ``x`` (N, D): E = Σ_{i<j} (c2/d_ij²)^(s/2), ∇E (N, D) the Euclidean
    gradient −s Σ_j (c2/d_ij²)^(s/2) / d_ij² (x_i − x_j). E may be +inf (a pair much closer than √c2 or
    coinciding); the gradient is then meaningless."""
    n = x.shape[0]
    norms = squared_norms(x)
    energy, min_d2 = 0.0, np.inf
    cut = np.exp(-690.0 / (0.5 * s))  # (c2/d2)^(s/2) < 1e-300 below this ratio
    grad = np.empty_like(x)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for start, stop in block_ranges(n, block):
            d2 = squared_distances(x, norms, start, stop)  # (b, N), the pair i = i at +inf: its term is 0
            min_d2 = min(min_d2, float(d2.min()))
            r = c2 / d2
            # Terms below 1e-300 are dropped before the power: they are nothing beside E, and computing them
            # in subnormals made one N = 2000 evaluation take 0.72 s at s = 1e6 against 0.13 s at s = 60.
            r = np.power(r, 0.5 * s, out=np.zeros_like(r), where=r > cut)
            energy += float(r.sum())
            r /= d2
            grad[start:stop] = x[start:stop] * r.sum(axis=1)[:, None] - r @ x
        grad *= -s
    return 0.5 * energy, grad, min_d2  # every pair was seen twice


def _min_d2(x: np.ndarray) -> float:
    norms = squared_norms(x)
    return min(float(squared_distances(x, norms, a, b).min()) for a, b in block_ranges(x.shape[0]))


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to unit length, their former lengths (N, 1))."""
    lengths = np.linalg.norm(x, axis=1, keepdims=True)
    return x / lengths, lengths


def _tangent(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row of ``v`` (N, D) minus its component along the unit row of ``x``."""
    return v - np.einsum("ij,ij->i", v, x)[:, None] * x


class _Point:
    """A trial y = normalise(x + α p) with E(y), ∇E(y) and φ'(α), the slope of E along the curve."""

    __slots__ = ("alpha", "y", "energy", "grad", "slope", "min_d2")

    def __init__(self, alpha, y, energy, grad, slope, min_d2=np.nan):
        self.alpha, self.y, self.energy, self.grad, self.slope, self.min_d2 = alpha, y, energy, grad, slope, min_d2


def _trial(x, p, alpha, c2, s) -> _Point:
    y, lengths = _normalise(x + alpha * p)
    energy, grad, min_d2 = energy_and_gradient(y, c2, s)
    slope = np.nan
    if np.isfinite(energy):
        # dy/dα = (p − (y·p) y) / |x + α p| row by row; a gradient that overflowed gives a NaN slope, and the
        # trial then counts as too long (no warning: it is an expected outcome of a long trial step)
        with np.errstate(over="ignore", invalid="ignore"):
            slope = float(np.sum(grad * _tangent(p, y) / lengths))
        if not np.isfinite(slope):
            energy = np.inf
    return _Point(alpha, y, energy, grad, slope, min_d2)


def _interpolate(lo: _Point, hi: _Point) -> float:
    """A step between lo and hi: the cubic's minimiser (Nocedal–Wright eq. 3.59), kept 10 % inside the
    interval; a fifth of the way from lo when hi's energy is not finite."""
    a, b = lo.alpha, hi.alpha
    with np.errstate(all="ignore"):
        t = _cubic(lo, hi) if np.isfinite(hi.energy) and np.isfinite(hi.slope) else None
    if t is None:
        return a + 0.2 * (b - a)
    if not np.isfinite(t):
        return 0.5 * (a + b)
    lo_edge, hi_edge = sorted((a + 0.1 * (b - a), b - 0.1 * (b - a)))
    return float(min(max(t, lo_edge), hi_edge))


def _cubic(lo: _Point, hi: _Point) -> float:
    """The minimiser of the cubic through both points' energies and slopes, NaN where it has none."""
    a, b = lo.alpha, hi.alpha
    d1 = lo.slope + hi.slope - 3.0 * (lo.energy - hi.energy) / (a - b)
    d2 = np.copysign(np.sqrt(d1 * d1 - lo.slope * hi.slope), b - a)  # NaN when the cubic has no minimum
    return float(b - (b - a) * (hi.slope + d2 - d1) / (hi.slope - lo.slope + 2.0 * d2))


def _line_search(x, p, e0, slope0, alpha, c2, s) -> tuple[_Point | None, int]:
    """Strong-Wolfe search along y(α) = normalise(x + α p) (Nocedal–Wright alg. 3.5/3.6, cubic interpolation).
    Returns (the accepted point, or None when no step lowers E; energy evaluations used)."""
    start = _Point(0.0, x, e0, None, slope0)
    prev, lo, hi = start, None, None
    evals = 0

    def armijo_fails(t: _Point, ref: _Point) -> bool:
        return not np.isfinite(t.energy) or t.energy > e0 + C1 * t.alpha * slope0 or t.energy >= ref.energy

    while evals < MAX_EVALS:  # bracketing
        t = _trial(x, p, alpha, c2, s)
        evals += 1
        if armijo_fails(t, prev):
            lo, hi = prev, t
            break
        if abs(t.slope) <= -C2 * slope0:
            return t, evals
        if t.slope >= 0.0:
            lo, hi = t, prev
            break
        prev, alpha = t, 4.0 * alpha
    else:
        return (prev if prev is not start else None), evals
    while evals < MAX_EVALS:  # zoom
        t = _trial(x, p, _interpolate(lo, hi), c2, s)
        evals += 1
        if armijo_fails(t, lo):
            hi = t
        else:
            if abs(t.slope) <= -C2 * slope0:
                return t, evals
            if t.slope * (hi.alpha - lo.alpha) >= 0.0:
                hi = lo
            lo = t
        if abs(hi.alpha - lo.alpha) <= 1e-12 * max(lo.alpha, hi.alpha):
            break
    return (lo if lo is not start else None), evals


def _separate(x: np.ndarray, rng: np.random.Generator, rounds: int = 20) -> np.ndarray:
    """Jitter rows that coincide with an earlier row (d² ≤ 1e-14: d² = |a|² + |b|² − 2a·b is only good to
    ~1e-16 absolute) until none does, or ``rounds`` pass."""
    for _ in range(rounds):
        norms = squared_norms(x)
        bad = np.zeros(x.shape[0], bool)
        for a, b in block_ranges(x.shape[0]):
            d2 = squared_distances(x, norms, a, b)
            later = np.arange(a, b)[:, None] > np.arange(x.shape[0])[None, :]
            bad[a:b] = np.any((d2 <= 1e-14) & later, axis=1)
        if not bad.any():
            break
        x = x.copy()
        x[bad] += 1e-3 * rng.standard_normal((int(bad.sum()), x.shape[1]))
        x, _ = _normalise(x)
    return x


def _default_rng(vectors: np.ndarray) -> np.random.Generator:
    digest = hashlib.sha256(np.ascontiguousarray(vectors).tobytes() + str(vectors.shape).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def cg_optimize(
    vectors: np.ndarray,
    iterations: int,
    on_iteration: Callable[[int], None] | None = None,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict]:
    """Run Wang's method from ``vectors`` (N, D) for at most ``iterations`` CG iterations in all stages.

    Returns (unit vectors (N, D) float64, stats): ``start_exponent``, ``final_exponent`` (of the last stage
    run), ``stages``, ``cg_iterations``, ``evaluations`` (energy-and-gradient passes), ``converged_stages``.
    ``on_iteration(k)`` is called after CG iteration k = 1, 2, … The start exponent comes from ``rng``, or from a
    generator seeded by the input's bytes when ``rng`` is None: the same inputs give the same result.
    Raises ``ValueError`` for N < 2, D < 1, non-finite or zero rows, or a negative ``iterations``.
    """
    x = np.array(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"cg needs vectors of shape (N ≥ 2, D ≥ 1), got shape {np.shape(vectors)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("cg needs finite vectors: the input has NaN or infinite coordinates")
    lengths = np.linalg.norm(x, axis=1)
    if not np.all((lengths > 0) & np.isfinite(lengths)):
        raise ValueError("cg needs nonzero vectors: a row has length 0")
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
    rng = rng if rng is not None else _default_rng(x)
    # One BLAS thread: the products are skinny ((block, N) by (N, D)); measured N = 2000, D = 3 on 2 busy
    # cores: 27 ms an evaluation with one thread, 80–240 ms with two.
    with blas().limit(limits=1, user_api="blas"):
        return _optimize(x / lengths[:, None], iterations, on_iteration, rng)


def _optimize(x, iterations, on_iteration, rng) -> tuple[np.ndarray, dict]:
    x = _separate(x, rng)
    lo, hi = START_EXPONENTS
    s0 = float(lo * (hi / lo) ** rng.random())
    exponents = [s0 * 2.0**k for k in range(64) if s0 * 2.0**k <= FINAL_EXPONENT]
    stats = {
        "start_exponent": s0,
        "final_exponent": None,
        "stages": 0,
        "converged_stages": 0,
        "cg_iterations": 0,
        "evaluations": 0,
    }
    done = 0
    for index, s in enumerate(exponents):
        budget = (iterations - done) // (len(exponents) - index)
        c2 = _min_d2(x)
        if budget <= 0 or not c2 > 0.0:  # c2 = 0: rows that no jitter separates (D = 1)
            continue
        x, used, evals, converged = _stage(x, c2, s, budget, on_iteration, done)
        done += used
        stats["stages"] += 1
        stats["final_exponent"] = s
        stats["converged_stages"] += converged
        stats["evaluations"] += evals
    stats["cg_iterations"] = done
    return x, stats


def _stage(x, c2, s, budget, on_iteration, done) -> tuple[np.ndarray, int, int, bool]:
    """Minimise E_s from ``x`` with HS conjugate gradients for at most ``budget`` iterations.
    Returns (x, iterations used, evaluations, converged)."""
    project = s >= PROJECT_FROM
    energy, grad, min_d2 = energy_and_gradient(x, c2, s)
    evals = 1
    g = _tangent(grad, x) if project else grad
    p = -g
    alpha = prev_slope = None
    stall = 0
    for k in range(budget):
        if energy < RESCALE_BELOW:
            # The closest pair has moved far beyond √C: E and its gradient head for underflow (from a random
            # start, s = 128: E fell from 1 to 1e-31 in two steps). Re-set C to the current minimal distance
            # — the same objective times a constant — and restart the CG from −g.
            c2 = min_d2
            energy, grad, min_d2 = energy_and_gradient(x, c2, s)
            evals += 1
            g = _tangent(grad, x) if project else grad
            p, alpha = -g, None
        slope = float(np.sum(_tangent(grad, x) * p))  # φ'(0) along normalise(x + α p)
        if not slope < 0.0:  # not a descent direction: restart along −g
            p = -g
            slope = float(np.sum(_tangent(grad, x) * p))
            if not slope < 0.0:
                return x, k, evals, True  # tangent gradient 0: a critical point
        move = float(np.max(np.linalg.norm(p, axis=1)))
        if alpha is None:
            # first step: the largest row moves by C/s, the distance over which a term changes by ~e
            alpha = np.sqrt(c2) / (s * move)
        else:
            alpha = alpha * prev_slope / slope  # Nocedal–Wright eq. 3.60
        # No first trial moves a row by more than half the minimal distance: without this cap eq. 3.60 asked
        # for α ~ 1e56 once E had fallen by 30 orders, and 20 evaluations did not shrink it back.
        alpha = min(alpha, MAX_MOVE * np.sqrt(min_d2) / move)
        t, used = _line_search(x, p, energy, slope, alpha, c2, s)
        evals += used
        if on_iteration is not None:
            on_iteration(done + k + 1)
        if t is None:
            return x, k + 1, evals, True  # no step lowers E: converged to rounding
        stall = stall + 1 if energy - t.energy <= REL_TOL * energy else 0
        x, energy, grad, min_d2, alpha, prev_slope = t.y, t.energy, t.grad, t.min_d2, t.alpha, slope
        if stall >= STALL:
            return x, k + 1, evals, True
        g_new = _tangent(grad, x) if project else grad
        y = g_new - g
        den = float(np.sum(p * y))
        beta = max(0.0, float(np.sum(g_new * y)) / den) if den != 0.0 else 0.0  # Hestenes–Stiefel, clipped
        p = -g_new + beta * p
        g = g_new
    return x, budget, evals, False
