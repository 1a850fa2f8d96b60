"""Polish: climb from any code to a local maximum of the max–min problem itself.

Force loosening stops short of the max–min optimum (a finite repulsion exponent biases the code: 0.01–0.3°
below the best known for D = 3, N ≤ 130). :func:`polish` maximises d_min = min_{i≠j} |r_i − r_j| directly by
sequential linear programming (SLP) with a trust region:

1. near pairs: every pair that a step of trust radius ρ could bring down to d_min, i.e. with
   d_ij < d_min + 2√(D − 1)·ρ (found with the blocked all-pairs pass of :mod:`.pairs`, then measured as
   |r_i − r_j| directly: 2 − 2cos loses the precision that the last rounds need);
2. the LP, on tangent coordinates u_i ∈ ℝ^{D−1} (Δr_i = B_i u_i, B_i an orthonormal basis of r_i^⊥, so
   tangency holds by construction) scaled by ρ (u = ρv, |v|∞ ≤ 1): maximise σ subject to, for the near pairs,
   d_ij² + 2ρ(r_i − r_j)·(B_i v_i − B_j v_j) ≥ d_min² + ρσ — σ is the predicted gain in d² per unit ρ,
   which keeps the LP well scaled however small ρ gets (HiGHS's tolerances are absolute), minus a small
   charge μ|v|₁ (see ``MU``);
3. r_i ← (r_i + ρB_i v_i)/|…|; the step is kept only when the true d_min grows, and ρ follows the ratio of
   the true to the predicted gain (×2 above 3/4, ÷2 below 1/4, ÷4 on a rejected step);
4. stop when the predicted gain in distance is below ``tol``, when ρ underflows or after ``max_rounds``.

Then rattlers (points with no contact, :func:`contacts`) are moved one at a time by the same SLP with the
others fixed, maximising the rattler's own nearest distance: this never lowers the global minimum.

Contract: the returned vectors are unit rows, and their minimum distance is never below the input's (after
normalising it); a final check returns the normalised input itself should anything have gone wrong.
Needs SciPy (``scipy.optimize.linprog``, HiGHS's interior point with crossover: measured 0.8 s against 4 s
for dual simplex on a D = 8, N = 240 LP, and 0.45 against 0.77 s for a whole D = 3, N = 130 polish),
imported when :func:`polish` is first called.

Measured (2 cores, loaded): D = 3, N ≤ 130 from force loosening: 4–16 rounds, ≤ 0.5 s, to the best-known
angle within the table's 1e-9° where the start lies in its basin. High D converges linearly on degenerate
optima and each LP grows with the near pairs: D = 5, N = 100: 22 rounds, 3 s; D = 8, N = 100: 229 rounds,
110 s; D = 8, N = 240: ~5 s a round.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..pairs import min_distance, pairs_below

__all__ = ["polish", "contacts"]

#: Trust radius of the first round (× d_min) and the largest one allowed (× d_min/√(D − 1)): the near pairs
#: reach out to d_min + 2√(D − 1)ρ, so a larger cap puts nearly all pairs of a D = 8 code into the LP (at
#: ρ = 0.1 d_min/√7, D = 8, N = 240: 5000 pairs, ~5 s a round).
RHO_START = 1e-2
RHO_MAX = 0.1
#: ρ below this (radians, roughly) cannot move a float64 unit vector measurably: stop.
RHO_MIN = 1e-15
#: Rounds of the SLP for one rattler.
RATTLER_ROUNDS = 200
#: Charge μ/(variables)·|v|₁ in the LP objective: without it, moves that cost nothing to first order (the
#: rotations, rattlers) go to the trust region's corners and their second-order error rejects the step; the
#: snub cube (N = 24) from force loosening took 24 rounds of linear convergence with μ = 0, 3 with μ = 1e-4
#: (μ = 1e-2 stops short of the optimum, 1e-6 converges a little less far). A smooth optimum (N = 2: no LP
#: vertex) has gradients below μ near the top, so the last rounds run with μ = 0.
MU = 1e-4


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Checked (N, D) float64 unit rows of ``vectors``; ValueError with a one-line message otherwise."""
    r = np.asarray(vectors, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 1:
        raise ValueError(f"polish needs an (N, D) array with N ≥ 2 and D ≥ 1, got shape {r.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        lengths = np.linalg.norm(r, axis=1)
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(lengths) & (lengths > 0)):
        raise ValueError("the code has non-finite coordinates or a vector of length 0: nothing to polish")
    return r / lengths[:, None]


def contacts(vectors: np.ndarray, tol: float = 1e-9) -> dict:
    """The contact graph of a code (N, D), taken on its directions: pairs whose distance is within ``tol``
    (relative) of the minimum distance.

    Returns JSON-ready ``{"edges", "per_point" (N ints), "rattlers" (indices of points with no contact),
    "min_contacts", "max_contacts"}``."""
    r = _unit(vectors)
    d_min = min_distance(r)
    i, j, _ = pairs_below(r, d_min * (1 + tol))
    per_point = np.bincount(np.concatenate([i, j]), minlength=r.shape[0])
    return {
        "edges": int(i.size),
        "per_point": [int(k) for k in per_point],
        "rattlers": [int(k) for k in np.flatnonzero(per_point == 0)],
        "min_contacts": int(per_point.min()),
        "max_contacts": int(per_point.max()),
    }


def _tangent_bases(r: np.ndarray) -> np.ndarray:
    """(N, D, D − 1): for each unit row r_i, an orthonormal basis of r_i^⊥.

    Columns 1… of the Householder reflection H = I − 2vvᵀ/|v|², v = r + sign(r₀)e₀, which maps r to
    ∓e₀; |v|² = 2 + 2|r₀| ≥ 2, so the construction is stable for every r."""
    n, dim = r.shape
    v = r.copy()
    v[:, 0] += np.where(r[:, 0] >= 0, 1.0, -1.0)
    scale = 2.0 / np.einsum("ij,ij->i", v, v)
    return np.eye(dim)[None, :, 1:] - scale[:, None, None] * v[:, :, None] * v[:, None, 1:]


class _Climb:
    """The SLP on the points ``movable`` (all of them, or one rattler), maximising the smallest distance of
    the pairs that touch a movable point."""

    def __init__(self, r: np.ndarray, movable: np.ndarray | None = None):
        from scipy.optimize import linprog
        from scipy.sparse import csr_matrix

        self.linprog, self.csr_matrix = linprog, csr_matrix
        self.r = r
        n, self.dim = r.shape
        self.movable = np.arange(n) if movable is None else np.asarray(movable)
        self.column = np.full(n, -1)  # first LP column of each movable point, −1 for a fixed one
        self.column[self.movable] = np.arange(self.movable.size) * (self.dim - 1)
        self.mu = MU

    def pairs(self, r: np.ndarray, cutoff: float):
        """Pairs touching a movable point with distance below ``cutoff``: (i, j, d)."""
        if self.movable.size == r.shape[0]:
            return pairs_below(r, cutoff)
        i, j = np.meshgrid(self.movable, np.arange(r.shape[0]), indexing="ij")
        i, j = i.ravel(), j.ravel()
        keep = (i != j) & ~((self.column[j] >= 0) & (j < i))  # each movable–movable pair once
        i, j = i[keep], j[keep]
        d = np.linalg.norm(r[i] - r[j], axis=1)
        keep = d < cutoff
        return i[keep], j[keep], d[keep]

    def value(self, r: np.ndarray) -> float:
        """The objective: min distance over the pairs touching a movable point."""
        if self.movable.size == r.shape[0]:
            return min_distance(r)
        return float(self.pairs(r, np.inf)[2].min())

    def step(self, rho: float, d_min: float) -> tuple[np.ndarray, float, bool] | None:
        """Solve the LP at trust radius ρ: (trial unit vectors, predicted gain in d², whether the step
        reached the trust region's boundary), or None when the LP fails."""
        r, k = self.r, self.dim - 1
        i, j, d = self.pairs(r, d_min + 2.0 * np.sqrt(k) * rho * 1.05)
        bases = _tangent_bases(r[self.movable])  # (M, D, D − 1)
        local = np.full(r.shape[0], -1)
        local[self.movable] = np.arange(self.movable.size)
        g = r[i] - r[j]  # (P, D)
        rows, cols, vals = [], [], []
        p = np.arange(i.size)
        for ends, sign in ((i, -2.0), (j, 2.0)):  # row: −2g·B_i v_i + 2g·B_j v_j + σ ≤ (d² − d_min²)/ρ
            moving = local[ends] >= 0
            coef = sign * np.einsum("pd,pdk->pk", g[moving], bases[local[ends[moving]]])
            rows.append(np.repeat(p[moving], k))
            cols.append((self.column[ends[moving]][:, None] + np.arange(k)).ravel())
            vals.append(coef.ravel())
        nvar = self.movable.size * k
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        # columns: v⁺ (nvar), v⁻ (nvar), σ; v = v⁺ − v⁻ so that the objective can charge μ|v|₁
        a = self.csr_matrix(
            (
                np.concatenate([vals, -vals, np.ones(p.size)]),
                (np.concatenate([rows, rows, p]), np.concatenate([cols, cols + nvar, np.full(p.size, 2 * nvar)])),
            ),
            shape=(p.size, 2 * nvar + 1),
        )
        b = (d**2 - d_min**2) / rho
        c = np.full(2 * nvar + 1, self.mu / nvar)
        c[-1] = -1.0
        bounds = [(0.0, 1.0)] * (2 * nvar) + [(None, None)]
        res = self.linprog(
            c,
            A_ub=a,
            b_ub=b,
            bounds=bounds,
            method="highs-ipm",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        if res.status != 0:
            return None
        v = (res.x[:nvar] - res.x[nvar : 2 * nvar]).reshape(-1, k)
        trial = r.copy()
        moved = r[self.movable] + rho * np.einsum("mdk,mk->md", bases, v)
        trial[self.movable] = moved / np.linalg.norm(moved, axis=1, keepdims=True)
        return trial, rho * float(res.x[-1]), bool(np.max(np.abs(v), initial=0.0) > 0.99)

    def run(self, tol: float, max_rounds: int, on_round=None) -> tuple[int, bool]:
        """Climb; ``self.r`` holds the best code. Returns (rounds made, whether it converged)."""
        d_min = self.value(self.r)
        rho = RHO_START * d_min
        for rounds in range(1, max_rounds + 1):
            out = self.step(rho, d_min)
            if out is None:  # HiGHS gave up (numerics): a smaller step is a better-posed LP
                rho /= 4.0
            elif out[1] / (2.0 * d_min) < tol:  # the linear model sees nothing left to gain
                if self.mu == 0.0:
                    return rounds, True
                self.mu = 0.0
            else:
                trial, predicted, boundary = out
                new = self.value(trial)
                gain = new**2 - d_min**2
                if new > d_min:
                    self.r, d_min = trial, new
                if gain < 0.25 * predicted:
                    rho /= 2.0 if gain > 0 else 4.0
                elif gain > 0.75 * predicted and boundary:
                    rho = min(2.0 * rho, RHO_MAX * d_min / np.sqrt(self.dim - 1))
            if on_round is not None:
                on_round(rounds, d_min)
            if rho < RHO_MIN:
                return rounds, True
        return max_rounds, False


def polish(
    vectors: np.ndarray,
    *,
    tol: float = 1e-13,
    max_rounds: int = 2000,
    on_round: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Climb from ``vectors`` (N, D) to a local maximum of the minimum distance (see the module docstring).

    ``on_round(k, d_min)`` is told after each round of the global climb. Returns ``(unit vectors (N, D)
    float64, stats)`` with ``stats = {"rounds", "min_distance_before", "min_distance_after", "rattlers"}``;
    the minimum distance returned is never below the input's (after normalising it to unit length).
    Raises ValueError (one line) for N < 2, non-finite coordinates or a vector of length 0."""
    r0 = _unit(vectors)
    before = min_distance(r0)
    r, rounds = r0, 0
    if r0.shape[1] > 1 and before > 0:  # D = 1 cannot move; coincident points have no gradient apart
        climb = _Climb(r0)
        rounds, converged = climb.run(tol, max_rounds, on_round)
        r = climb.r
        # Cut short by max_rounds, the contact graph is not yet formed: every point would count as a rattler.
        for k in contacts(r)["rattlers"] if converged else []:
            rattler = _Climb(r, np.array([k]))
            rattler.run(tol, RATTLER_ROUNDS)
            r = rattler.r
    after = min_distance(r)
    if not after >= before:  # never happens by construction; the contract does not rest on it
        r, after = r0, before
    return r, {
        "rounds": rounds,
        "min_distance_before": before,
        "min_distance_after": after,
        "rattlers": len(contacts(r)["rattlers"]),
    }
