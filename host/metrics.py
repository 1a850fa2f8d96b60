"""Quality metrics of a spherical code.

- minimum distance, minimum angle (degrees), maximum cosine;
- the gap g = min_{i≠j} |c_i − c_j| − 2R of the note on gap regularisation for ANN codebooks (§2.2); on the unit sphere
  (2R = 1) g = d_min − 1 = 2 sin(θ_min/2) − 1, so g ≥ 0 exactly when θ_min ≥ 60°;
- edge-length occurrences: distinct inner products between distinct points and how often each occurs,
  grouped with a tolerance (J. Wang, "Finding and Investigating Exact
  Spherical Codes", arXiv:0805.0776, 2008, §4.1);
- Gram-matrix checks (Wang 2008, §4.2): symmetric, unit diagonal, rank ≤ D, positive semidefinite, each with
  a tolerance and the measured value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .bestknown import best_known
from .pairs import min_distance

__all__ = ["summary", "edge_occurrences", "gram_checks", "gram_matrix_checks"]

#: Largest N for which the Gram checks decompose the N × N matrix itself (beyond, the D × D route).
GRAM_DIRECT_MAX = 2000


def _directions(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def summary(vectors: np.ndarray, on_rows: Callable[[int], None] | None = None) -> dict:
    """The headline figures of a code (N, D) and its gap to the best known, as a JSON-ready dict.

    ``min_distance`` is measured on the vectors as given; angles and cosines on their directions, with
    θ = 2 arcsin(d/2) so that small angles keep their precision. ``on_rows`` sees progress (2N rows in
    all). Raises ``ValueError`` for vectors that are not finite or have length 0: no metric is ever NaN.
    """
    r = np.asarray(vectors, dtype=np.float64)
    n, dim = r.shape
    with np.errstate(over="ignore"):
        lengths = np.linalg.norm(r, axis=1)
    if not np.all(np.isfinite(lengths) & (lengths > 0)):
        raise ValueError("the code has non-finite coordinates or a vector of length 0: no metric is defined")
    d_min = min_distance(r, on_rows)
    u2 = min_distance(_directions(r), on_rows) ** 2
    angle = float(np.degrees(2.0 * np.arcsin(min(1.0, np.sqrt(u2) / 2.0))))
    best = best_known(dim, n)
    return {
        "dim": dim,
        "points": n,
        "min_distance": d_min,
        "min_angle_deg": angle,
        "max_cosine": 1.0 - u2 / 2.0,
        "gap": d_min - 1.0,
        "max_norm_error": float(np.max(np.abs(np.linalg.norm(r, axis=1) - 1.0))),
        "best_known_angle_deg": best.min_angle_deg if best else None,
        "best_known_gap_deg": (best.min_angle_deg - angle) if best else None,
        "best_known_source": best.source if best else None,
        "best_known_status": best.status if best else None,
        "best_known_own": best.own if best else None,
    }


def edge_occurrences(vectors: np.ndarray, tol: float = 1e-6) -> list[dict]:
    """Distinct inner products c_i·c_j (i < j) of the directions and their counts, largest first.

    Sorted inner products are split wherever two neighbours differ by more than ``tol``; each group reports
    its mean cosine, the matching distance sqrt(2 − 2 cos) and its count. Memory O(N²/2) values.
    """
    u = _directions(np.asarray(vectors, dtype=np.float64))
    n = u.shape[0]
    upper = np.triu_indices(n, k=1)
    values = np.sort((u @ u.T)[upper])[::-1]
    cuts = np.flatnonzero(-np.diff(values) > tol) + 1
    groups = []
    for part in np.split(values, cuts):
        c = float(part.mean())
        groups.append({"cosine": c, "distance": float(np.sqrt(max(0.0, 2.0 - 2.0 * c))), "count": int(part.size)})
    return groups


def gram_matrix_checks(gram: np.ndarray, dim: int, tol: float = 1e-8) -> dict:
    """Check that ``gram`` (N, N) is the Gram matrix of N points on the unit sphere in ``dim`` dimensions.

    The four conditions of Wang (2008), §4.2, each with its measured value: symmetric (max |G − Gᵀ| ≤ tol),
    unit diagonal (max |G_ii − 1| ≤ tol), rank ≤ D and positive semidefinite, read from the eigenvalues
    with the tolerance scaled by N (the trace of G).
    """
    g = np.asarray(gram, dtype=np.float64)
    n = g.shape[0]
    sym_err = float(np.max(np.abs(g - g.T)))
    return _checks(sym_err, np.diagonal(g), np.linalg.eigvalsh((g + g.T) / 2.0), n, dim, tol)


def gram_checks(vectors: np.ndarray, tol: float = 1e-8) -> dict:
    """:func:`gram_matrix_checks` of G = C Cᵀ for a code C (N, D).

    For N ≤ ``GRAM_DIRECT_MAX`` the N × N matrix is built and checked as it is. Beyond that the non-zero
    eigenvalues of G are those of the D × D matrix Cᵀ C (the other N − D are 0) and G is symmetric by
    construction, so the checks stay exact without O(N²) memory.
    """
    c = np.asarray(vectors, dtype=np.float64)
    n, dim = c.shape
    if n <= GRAM_DIRECT_MAX:
        return gram_matrix_checks(c @ c.T, dim, tol)
    eig = np.concatenate([np.linalg.eigvalsh(c.T @ c), np.zeros(n - dim)])
    return _checks(0.0, np.einsum("ij,ij->i", c, c), eig, n, dim, tol)


def _checks(sym_err: float, diagonal: np.ndarray, eig: np.ndarray, n: int, dim: int, tol: float) -> dict:
    diag_err = float(np.max(np.abs(diagonal - 1.0)))
    eig_tol = tol * n
    rank = int(np.sum(eig > eig_tol))
    return {
        "symmetric": sym_err <= tol,
        "symmetric_error": sym_err,
        "unit_diagonal": diag_err <= tol,
        "diagonal_error": diag_err,
        "rank": rank,
        "rank_ok": rank <= dim,
        "psd": bool(eig.min() >= -eig_tol),
        "min_eigenvalue": float(eig.min()),
        "tolerance": tol,
        "valid": sym_err <= tol and diag_err <= tol and rank <= dim and bool(eig.min() >= -eig_tol),
    }
