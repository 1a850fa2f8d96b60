"""Overlap energy at a fixed target distance: find N points on the sphere with no pair closer than ``target``.

The max–min problem at a fixed target chord t is a feasibility problem: minimise

    E(X) = Σ_{i<j} max(0, t² − |r_i − r_j|²)²,   r_i = x_i / |x_i|,

E = 0 exactly when every pair is at least t apart. This is the formulation of IDNS (X. Lai, D. Yue, J.-K. Hao,
F. Glover, Z. Lv, *Iterated dynamic neighborhood search for packing equal circles on a sphere*, 2023) for the
Tammes problem, in any dimension D here. :func:`overlap_minimize` runs L-BFGS (SciPy's ``L-BFGS-B``, no bounds)
on the unnormalised x with the analytic gradient, the points kept on the sphere by the normalisation
(∂E/∂x_i = (I − r_i r_iᵀ)·∂E/∂r_i / |x_i|); only the pairs closer than t count, kept in a neighbour list: the pairs
closer than t·(1 + :data:`SKIN`), found by a KD-tree (``scipy.spatial.cKDTree.query_pairs``) and rebuilt when a
point has moved by more than t·SKIN/2 since, so that an evaluation costs O(N) for a fixed density rather than
O(N²) (the dynamic neighbourhood of IDNS).

The energy is scaled by 1/t⁴ (each term then lies in [0, 1]) so that L-BFGS's tolerances do not depend on t.

Contract: :func:`overlap_energy` returns (E/t⁴, its gradient with respect to the unnormalised rows, (N, D))
for any finite rows of nonzero length; :func:`overlap_minimize` returns unit rows (N, D) float64 and their
scaled energy, which is never above the start's (L-BFGS keeps its best point). Arguments are checked
(``ValueError``, one line).
"""

from __future__ import annotations

import math

import numpy as np

from ..pairs import blas

__all__ = ["overlap_energy", "overlap_minimize", "MAX_ITERATIONS"]

#: The neighbour list's margin, relative to the target (see ``_Energy``).
SKIN = 0.3
#: L-BFGS iterations per :func:`overlap_minimize` call by default.
MAX_ITERATIONS = 400


def _check(vectors: np.ndarray, target: float) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"the overlap energy needs an (N, D) array with N ≥ 2 and D ≥ 2, not shape {x.shape!r}")
    if not np.all(np.isfinite(x)) or np.any(np.linalg.norm(x, axis=1) == 0):
        raise ValueError("the overlap energy needs finite vectors of nonzero length")
    if not (isinstance(target, (int, float)) and math.isfinite(target) and 0 < target <= 2):
        raise ValueError(f"the target distance must be a chord in (0, 2], not {target!r}")
    return x


class _Energy:
    """E/t⁴ and its gradient with a neighbour list: the pairs closer than t·(1 + SKIN), rebuilt by a KD-tree
    whenever a point has moved by more than t·SKIN/2 since the last build (no pair outside the list can then
    be closer than t)."""

    def __init__(self, shape: tuple[int, int], target: float):
        self.shape, self.target = shape, target
        self.reference: np.ndarray | None = None

    def __call__(self, flat: np.ndarray) -> tuple[float, np.ndarray]:
        from scipy.spatial import cKDTree

        x = flat.reshape(self.shape)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        r = x / norms
        t = self.target
        if self.reference is None or np.max(np.sum((r - self.reference) ** 2, axis=1)) > (t * SKIN / 2) ** 2:
            self.pairs = cKDTree(r).query_pairs(t * (1.0 + SKIN), output_type="ndarray").reshape(-1, 2)
            self.reference = r
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        diff = r[i] - r[j]
        t2 = t * t
        s = np.maximum(t2 - np.einsum("kd,kd->k", diff, diff), 0.0) / t2  # scaled overlap in [0, 1]
        force = (-4.0 / t2 * s)[:, None] * diff  # ∂E/∂r_i of each pair; ∂E/∂r_j is its negative
        n = self.shape[0]
        g = np.stack([np.bincount(i, f, n) - np.bincount(j, f, n) for f in force.T], axis=1)
        g = (g - np.sum(g * r, axis=1, keepdims=True) * r) / norms
        return float(np.dot(s, s)), g.ravel()


def overlap_energy(vectors: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """E/t⁴ of ``vectors`` (N, D, any nonzero lengths: they are normalised) at the target chord ``target`` and its
    gradient with respect to the unnormalised vectors, shape (N, D)."""
    x = _check(vectors, target)
    energy, grad = _Energy(x.shape, float(target))(x.ravel())
    return energy, grad.reshape(x.shape)


def overlap_minimize(vectors: np.ndarray, target: float, iterations: int = MAX_ITERATIONS) -> tuple[np.ndarray, float]:
    """A local minimum of the overlap energy at ``target`` from ``vectors`` (N, D): (unit rows, E/t⁴), by at most
    ``iterations`` (≥ 1) L-BFGS iterations; E/t⁴ = 0 means no pair is closer than ``target``."""
    from scipy.optimize import minimize

    x = _check(vectors, target)
    if not (isinstance(iterations, int) and iterations >= 1):
        raise ValueError(f"iterations must be a positive integer, not {iterations!r}")
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    with blas().limit(limits=1, user_api="blas"):  # L-BFGS's small products: threads only contend
        result = minimize(
            _Energy(x.shape, float(target)),
            x.ravel(),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": iterations, "ftol": 1e-15, "gtol": 1e-14, "maxcor": 20},
        )
    r = result.x.reshape(x.shape)
    return r / np.linalg.norm(r, axis=1, keepdims=True), float(result.fun)
