"""IVF codebooks with a packing penalty: joint MSE + gap optimisation beside spherical k-means++.

The note on packing-based gap metrics as a regulariser for ANN codebooks (§3.5, §6.3, §7.3 and its
Appendix A) designs a codebook C of N unit vectors for data X on the
sphere by minimising, with Adam, tangent projection and renormalisation,

    L(C) = MSE_τ(C; X) + λ · max(0, target − softmin_τ(C)),

where softmin_τ(C) = −τ log Σ_{i<j} exp(−‖c_i − c_j‖/τ) is the smooth minimum pairwise distance (§6.3),
the target is 0.9 × the minimum distance of a k-means++ codebook (§7.2: "achievable", not the spherical
code's), τ is annealed as τ_t = max(0.01, 0.5 · 0.9995^t) and the step is Adam's with lr = 0.01 (Appendix
B). The note's MSE gradient uses soft assignments w = softmax(−‖x − c‖²/τ) held fixed; that is exactly
the gradient of the soft minimum of squared distances, MSE_τ = mean_x −τ log Σ_k exp(−‖x − c_k‖²/τ),
which is the data term used here (it tends to the hard MSE as τ → 0).

The note calls min_{i≠j} ‖c_i − c_j‖ the "gap" g with R = 0 (its §2.2 g = d_min − 2R; the experiments
of §7–8 compare d_min itself); this module names it ``min_distance`` (``spherecode run``'s gap is
d_min − 1). Deviations: the data term may use a random mini-batch of ``batch`` rows per step (the note
uses all rows; ``batch=None`` does too); a run of K ≠ 5000 steps stretches the note's τ schedule onto K
steps; and the baseline is *spherical* k-means
(k-means++ seeding, Lloyd steps whose centroids are renormalised onto the sphere) so that both codebooks
are unit vectors measured alike; SciPy's ``kmeans2(minit='++')`` has no renormalisation step.

All arrays are float64; rows are unit vectors; distances are Euclidean chord lengths.
Quantisation error (``mse``) is mean_x min_k ‖x − c_k‖² over the data; ``recall`` is recall@k of an IVF
search (each data point in the list of its nearest codeword; a query scans the lists of its ``probe``
nearest codewords) against exact search over the same data, on held-out queries.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .codefile import CodeFileError, read_code
from .pairs import min_distance, squared_distances, squared_norms

__all__ = [
    "LR",
    "SEED_STEPS",
    "TAU0",
    "TAU_DECAY",
    "TAU_MIN",
    "TARGET_RATIO",
    "adam_codebook",
    "assign",
    "change",
    "compare",
    "ivf_recall",
    "joint_codebook",
    "kmeans_baseline",
    "load_data",
    "min_distance",
    "objective",
    "parse_shape",
    "quantisation_mse",
    "spherical_kmeans",
    "synthetic",
]

#: Adam learning rate, initial soft-min temperature, its decay per step and floor, the target's fraction
#: of the k-means++ minimum distance: the note's Appendix A and B.
LR, TAU0, TAU_DECAY, TAU_MIN, TARGET_RATIO = 0.01, 0.5, 0.9995, 0.01, 0.9
#: The note's step count (Appendix B); a run of K steps anneals τ as the note's would over SEED_STEPS.
SEED_STEPS = 5000
#: Adam's moment decays and ε (Kingma & Ba's defaults; the note does not give them).
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
#: Rows × codewords (or queries × data points) held in one block of scores: bounds memory to ~32 MiB.
BLOCK = 1 << 22


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _rows_per_block(cols: int) -> int:
    return max(1, BLOCK // max(1, cols))


def parse_shape(text: str) -> tuple[int, int]:
    """``"50000x128"`` (or ``×``) → (M, dim) with M ≥ 2 and dim ≥ 2."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        m, dim = (int(p, 10) for p in parts)
    except ValueError:
        raise ValueError(f"--synthetic must be M×DIM such as 50000x128, not {text!r}") from None
    if m < 2 or dim < 2:
        raise ValueError(f"--synthetic needs M ≥ 2 and DIM ≥ 2, not {text!r}")
    return m, dim


def synthetic(points: int, dim: int, clusters: int, seed: int, spread: float = 1.0) -> np.ndarray:
    """``points`` unit vectors in ``dim`` dimensions around ``clusters`` centres drawn uniformly on the
    sphere: row i = unit(μ_{k(i)} + spread · g / √dim) with k(i) uniform and g standard normal, so that a
    point's cosine to its centre is about 1/√(1 + spread²). Deterministic in ``seed``."""
    for name, value, low in (("points", points, 2), ("dim", dim, 2), ("clusters", clusters, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer ≥ {low}, not {value!r}")
    if clusters > points:  # centres no row is drawn around; and their memory was not checked
        raise ValueError(f"clusters must be at most the {points} rows, not {clusters!r}")
    if not (np.isfinite(spread) and spread >= 0):
        raise ValueError(f"spread must be a finite number ≥ 0, not {spread!r}")
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    need = 3 * 8 * points * dim  # the centres' copies, the noise, the sum
    if total and need > total:
        raise ValueError(
            f"{points}x{dim} synthetic data needs about {need / 2**30:.3g} GiB of memory; "
            f"this machine has {total / 2**30:.3g} GiB"
        )
    rng = np.random.default_rng([seed, 0x5EED])
    centres = _unit(rng.standard_normal((clusters, dim)))
    labels = rng.integers(clusters, size=points)
    return _unit(centres[labels] + spread / np.sqrt(dim) * rng.standard_normal((points, dim)))


def load_data(path: str | Path) -> np.ndarray:
    """An (M, dim) ``.npy`` data set, rows normalised onto the sphere. Raises ``ValueError`` (one line)
    for another suffix, a malformed file, a non-finite value, a zero row, dim < 2 or M < 2."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"--data must be a .npy file of shape (M, dim), not {str(path)!r}")
    try:
        return _unit(read_code(path))
    except CodeFileError as exc:
        if "needs --dim" in str(exc):
            raise ValueError(f"{path}: a flat array; --data needs shape (M, dim)") from None
        raise ValueError(str(exc)) from None


def assign(data: np.ndarray, codebook: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest codeword of each row (ties to the lower index) and the squared distance to it, in blocks
    of rows: (labels int64 (M,), sq float64 (M,))."""
    m = len(data)
    labels = np.empty(m, dtype=np.int64)
    sq = np.empty(m)
    csq = squared_norms(codebook)
    step = _rows_per_block(len(codebook))
    for a in range(0, m, step):
        x = data[a : a + step]
        d2 = squared_norms(x)[:, None] + csq[None, :] - 2.0 * (x @ codebook.T)
        k = np.argmin(d2, axis=1)
        labels[a : a + step] = k
        sq[a : a + step] = np.maximum(d2[np.arange(len(x)), k], 0.0)
    return labels, sq


def quantisation_mse(data: np.ndarray, codebook: np.ndarray) -> float:
    """mean_x min_k ‖x − c_k‖² (hard assignment)."""
    return float(assign(data, codebook)[1].mean())


def _kmeans_pp_seeds(data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next seed drawn with probability ∝ squared
    distance to the nearest seed so far."""
    m = len(data)
    chosen = [int(rng.integers(m))]
    near = np.sum((data - data[chosen[0]]) ** 2, axis=1)
    for _ in range(1, n):
        total = near.sum()
        j = int(rng.choice(m, p=near / total)) if total > 0 else int(rng.integers(m))
        chosen.append(j)
        np.minimum(near, np.sum((data - data[j]) ** 2, axis=1), out=near)
    return data[chosen].copy()


def spherical_kmeans(
    data: np.ndarray, n: int, seed: int, iters: int = 100, on_iter: Callable[[], None] | None = None
) -> tuple[np.ndarray, dict]:
    """k-means++ seeds, then up to ``iters`` Lloyd steps, each centroid the renormalised mean of its
    points (an empty cluster keeps its centroid); stops when no assignment changes. Returns the (n, dim)
    unit codebook and {"iterations": int, "converged": bool}."""
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= len(data):
        raise ValueError(f"codewords must be an integer in [2, {len(data)}] (the data's rows), not {n!r}")
    rng = np.random.default_rng([seed, 0x4B4D])
    c = _kmeans_pp_seeds(data, n, rng)
    labels = None
    it = 0
    for it in range(1, iters + 1):
        new, _ = assign(data, c)
        if labels is not None and np.array_equal(new, labels):
            return c, {"iterations": it - 1, "converged": True}
        labels = new
        sums = np.zeros_like(c)
        np.add.at(sums, labels, data)
        full = np.linalg.norm(sums, axis=1) > 0
        c[full] = _unit(sums[full])
        if on_iter:
            on_iter()
    return c, {"iterations": it, "converged": False}


def _soft_mse(data: np.ndarray, c: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """mean_x −τ log Σ_k exp(−‖x − c_k‖²/τ) and its gradient in C, in blocks of rows."""
    m = len(data)
    csq = squared_norms(c)
    value = 0.0
    wsum = np.zeros(len(c))
    wx = np.zeros_like(c)
    step = _rows_per_block(len(c))
    for a in range(0, m, step):
        x = data[a : a + step]
        z = (2.0 / tau) * (x @ c.T) - (squared_norms(x)[:, None] + csq[None, :]) / tau  # −‖x − c‖²/τ
        top = z.max(axis=1)
        w = np.exp(z - top[:, None])
        total = w.sum(axis=1)
        value -= tau * (top + np.log(total)).sum()
        w /= total[:, None]  # soft assignments, rows sum to 1
        wsum += w.sum(axis=0)
        wx += w.T @ x
    return value / m, 2.0 / m * (c * wsum[:, None] - wx)


def _soft_min_distance(c: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """−τ log Σ_{i<j} exp(−‖c_i − c_j‖/τ) (the codebook note, §6.3) and its gradient in C."""
    n = len(c)
    iu = np.triu_indices(n, 1)
    d = np.sqrt(np.maximum(squared_distances(c, squared_norms(c), 0, n)[iu], 1e-300))
    z = -d / tau
    top = z.max()
    e = np.exp(z - top)
    lse = top + np.log(e.sum())
    a = np.zeros((n, n))
    a[iu] = e / e.sum() / d  # ∂softmin/∂d_ij · 1/d_ij
    a += a.T
    return float(-tau * lse), c * a.sum(axis=1)[:, None] - a @ c


def objective(c: np.ndarray, data: np.ndarray, lam: float, target: float, tau: float) -> tuple[float, np.ndarray, dict]:
    """L(C) = MSE_τ + λ·max(0, target − softmin_τ) and ∂L/∂C (the Euclidean gradient, not projected),
    with its parts {"mse_soft", "softmin", "penalty"}."""
    mse, g = _soft_mse(data, c, tau)
    smin, gs = _soft_min_distance(c, tau)
    penalty = max(0.0, target - smin)
    if penalty > 0:
        g = g - lam * gs
    return mse + lam * penalty, g, {"mse_soft": mse, "softmin": smin, "penalty": penalty}


def adam_codebook(
    data: np.ndarray,
    n: int,
    lam: float,
    target: float,
    steps: int,
    seed: int,
    batch: int | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """The note's joint optimisation from a random start on the sphere: ``steps`` Adam steps (lr = LR) on
    :func:`objective` with τ_t = max(TAU_MIN, TAU0 · TAU_DECAY^(t · SEED_STEPS/steps)) (the note's
    schedule, stretched or compressed onto ``steps``; identical at steps = SEED_STEPS), the gradient projected onto each
    codeword's tangent space, the codewords renormalised after each step. ``batch`` rows per step, drawn
    without replacement epoch by epoch (None: all rows). Returns the (n, dim) codebook and the last
    step's parts of the objective."""
    m, dim = data.shape
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= m:
        raise ValueError(f"codewords must be an integer in [2, {m}] (the data's rows), not {n!r}")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lambda must be a finite number ≥ 0, not {lam!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1, not {steps!r}")
    if batch is not None and (not isinstance(batch, (int, np.integer)) or batch < 1):
        raise ValueError(f"batch must be an integer ≥ 1, not {batch!r}")
    rng = np.random.default_rng([seed, 0xADA])
    c = _unit(rng.standard_normal((n, dim)))
    mom = np.zeros_like(c)
    var = np.zeros_like(c)
    full = batch is None or batch >= m
    order, pos = None, m
    parts: dict = {}
    for t in range(steps):
        tau = max(TAU_MIN, TAU0 * TAU_DECAY ** (t * SEED_STEPS / steps))
        if full:
            rows = data
        else:
            if pos + batch > m:
                order, pos = rng.permutation(m), 0
            rows = data[order[pos : pos + batch]]
            pos += batch
        _, g, parts = objective(c, rows, lam, target, tau)
        g -= np.einsum("ij,ij->i", g, c)[:, None] * c  # tangent projection
        mom = BETA1 * mom + (1 - BETA1) * g
        var = BETA2 * var + (1 - BETA2) * g * g
        step = LR * (mom / (1 - BETA1 ** (t + 1))) / (np.sqrt(var / (1 - BETA2 ** (t + 1))) + EPS)
        c = _unit(c - step)
        if on_iteration:
            on_iteration()
    return c, {**parts, "tau": tau}


def ivf_recall(data: np.ndarray, codebook: np.ndarray, queries: np.ndarray, probe: int, k: int = 10) -> float:
    """Mean over queries of |IVF top-k ∩ exact top-k| / k by inner product (= by distance, unit rows).
    IVF: each data row sits in the list of its nearest codeword; a query scans the lists of its ``probe``
    nearest codewords (fewer than k candidates count as misses)."""
    n = len(codebook)
    if not isinstance(probe, (int, np.integer)) or not 1 <= probe <= n:
        raise ValueError(f"probe must be an integer in [1, {n}] (the codewords), not {probe!r}")
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(data):
        raise ValueError(f"k must be an integer in [1, {len(data)}] (the data's rows), not {k!r}")
    lists, _ = assign(data, codebook)
    hits = 0
    step = _rows_per_block(len(data))
    for a in range(0, len(queries), step):
        q = queries[a : a + step]
        s = q @ data.T
        exact = np.argpartition(-s, k - 1, axis=1)[:, :k]
        probes = np.argpartition(-(q @ codebook.T), probe - 1, axis=1)[:, :probe]
        member = np.zeros((len(q), n), dtype=bool)
        member[np.arange(len(q))[:, None], probes] = True
        s[~member[:, lists]] = -np.inf
        found = np.argpartition(-s, k - 1, axis=1)[:, :k]
        found = np.where(np.isfinite(np.take_along_axis(s, found, axis=1)), found, -1)
        hits += int((found[:, :, None] == exact[:, None, :]).any(axis=2).sum())
    return hits / (k * len(queries))


def _metrics(data, codebook, queries, probe, seconds) -> dict:
    return {
        "mse": quantisation_mse(data, codebook),
        "min_distance": min_distance(codebook),
        "recall": ivf_recall(data, codebook, queries, probe),
        "seconds": seconds,
    }


def _check_queries(data: np.ndarray, queries: np.ndarray, n: int, probe: int) -> None:
    if not isinstance(probe, (int, np.integer)) or not 1 <= probe <= n:
        raise ValueError(f"probe must be an integer in [1, {n}] (the codewords), not {probe!r}")
    if queries.ndim != 2 or len(queries) < 1 or queries.shape[1] != data.shape[1]:
        raise ValueError(f"queries must be a non-empty (Q, {data.shape[1]}) array, not shape {queries.shape!r}")


def kmeans_baseline(
    data: np.ndarray,
    queries: np.ndarray,
    n: int,
    seed: int,
    probe: int,
    iters: int = 100,
    on_iter: Callable[[], None] | None = None,
) -> tuple[dict, np.ndarray]:
    """:func:`spherical_kmeans` measured: ({"mse", "min_distance", "recall", "seconds", "iterations",
    "converged"}, the (n, dim) codebook); MSE and min distance on ``data``, recall@10 with ``probe``
    lists for ``queries``."""
    _check_queries(data, queries, n, probe)
    t0 = time.perf_counter()
    km, info = spherical_kmeans(data, n, seed, iters, on_iter=on_iter)
    return {**_metrics(data, km, queries, probe, time.perf_counter() - t0), **info}, km


def joint_codebook(
    data: np.ndarray,
    queries: np.ndarray,
    n: int,
    lam: float,
    target: float,
    steps: int,
    seed: int,
    probe: int,
    batch: int | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> tuple[dict, np.ndarray]:
    """:func:`adam_codebook` measured like :func:`kmeans_baseline`: ({"mse", "min_distance", "recall",
    "seconds", "last_step"}, the codebook)."""
    _check_queries(data, queries, n, probe)
    if not (np.isfinite(target) and target >= 0):
        raise ValueError(f"target must be a finite number ≥ 0, not {target!r}")
    t0 = time.perf_counter()
    c, last = adam_codebook(data, n, lam, target, steps, seed, batch, on_iteration=on_iteration)
    return {**_metrics(data, c, queries, probe, time.perf_counter() - t0), "last_step": last}, c


def change(kmeans: dict, joint: dict) -> dict:
    """The joint codebook against k-means++: min distance and MSE in % (relative), recall in points.
    ``ValueError`` if k-means++ has a zero minimum distance or MSE (nothing to be relative to)."""
    if not (kmeans["min_distance"] > 0 and kmeans["mse"] > 0):
        raise ValueError(
            f"k-means++ has min distance {kmeans['min_distance']:g} and MSE {kmeans['mse']:g}: no relative change"
        )
    return {
        "min_distance_pct": 100.0 * (joint["min_distance"] / kmeans["min_distance"] - 1.0),
        "mse_pct": 100.0 * (joint["mse"] / kmeans["mse"] - 1.0),
        "recall_points": 100.0 * (joint["recall"] - kmeans["recall"]),
    }


def compare(
    data: np.ndarray,
    queries: np.ndarray,
    n: int,
    lam: float,
    steps: int,
    seed: int,
    probe: int,
    batch: int | None = None,
    kmeans_iters: int = 100,
    on_progress: Callable[[], None] | None = None,
) -> tuple[dict, np.ndarray]:
    """The note's experiment: :func:`kmeans_baseline`, the target TARGET_RATIO × its minimum distance,
    then :func:`joint_codebook`. Returns ({"target", "kmeans", "joint", "change"}, the joint codebook).
    ``on_progress`` is called once per k-means iteration and per Adam step."""
    distinct = len(np.unique(data, axis=0))
    if distinct <= n:  # else k-means can put a codeword on every row: no distance or error left to compare
        raise ValueError(f"the data has {distinct} distinct rows: it needs more than the {n} codewords")
    kmeans, _ = kmeans_baseline(data, queries, n, seed, probe, kmeans_iters, on_iter=on_progress)
    target = TARGET_RATIO * kmeans["min_distance"]
    joint, joint_c = joint_codebook(data, queries, n, lam, target, steps, seed, probe, batch, on_iteration=on_progress)
    return {"target": target, "kmeans": kmeans, "joint": joint, "change": change(kmeans, joint)}, joint_c
