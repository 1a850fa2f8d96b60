"""RRR on the sphere: its projections, the icosahedron and the 24-cell from random starts."""

import math

import numpy as np
import pytest

from spherecode.host.metrics import summary
from spherecode.host.methods.polish import polish
from spherecode.host.methods.rrr import concur, project_apart, rrr_optimize
from spherecode.host.sweeps.starts import StartTask, initial_vectors

ICOSAHEDRON_DEG = math.degrees(math.acos(1 / math.sqrt(5)))  # 63.4349488…°


def start(dim, points, k, seed=1):
    return initial_vectors(StartTask("reference", dim, points, 1, seed, k, 8))


def angle(v):
    return summary(v)["min_angle_deg"]


def test_project_apart_is_the_nearest_pair_at_the_target():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 5, 3))
    tie = np.zeros_like(x)
    d = 1.2
    a = project_apart(x, d, tie)
    h = x / np.linalg.norm(x, axis=2, keepdims=True)
    off = ~np.eye(5, dtype=bool)
    assert np.allclose(np.linalg.norm(a[off], axis=1), 1.0)
    dist = np.linalg.norm(a - a.swapaxes(0, 1), axis=2)[off]
    before = np.linalg.norm(h - h.swapaxes(0, 1), axis=2)[off]
    assert np.all(dist >= d - 1e-12)
    assert np.allclose(dist[before < d], d) and np.allclose(a[off][before >= d], h[off][before >= d])
    # nearest: no other pair of unit vectors at distance d in the same plane is closer to (x_ij, x_ji)
    i, j = np.argwhere(np.triu(np.linalg.norm(h - h.swapaxes(0, 1), axis=2) < d, 1))[0]
    cost = np.sum((a[i, j] - x[i, j]) ** 2) + np.sum((a[j, i] - x[j, i]) ** 2)
    e1 = a[i, j] + a[j, i]
    e1 /= np.linalg.norm(e1)
    e2 = a[i, j] - a[j, i]
    e2 /= np.linalg.norm(e2)
    half = math.asin(d / 2)
    for shift in np.linspace(-0.2, 0.2, 41):
        p = math.cos(half + shift) * e1 + math.sin(half + shift) * e2
        q = math.cos(half - shift) * e1 - math.sin(half - shift) * e2
        assert np.sum((p - x[i, j]) ** 2) + np.sum((q - x[j, i]) ** 2) >= cost - 1e-12


def test_concur_is_the_weighted_centroid_on_the_sphere():
    x = np.zeros((3, 3, 2))
    x[0, 1], x[0, 2] = (1.0, 0.0), (0.0, 1.0)
    w = np.array([[0, 3.0, 1.0], [3.0, 0, 1], [1.0, 1, 0]])
    y = concur(x, w)
    assert np.allclose(y[0], np.array([3.0, 1.0]) / math.sqrt(10))
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0)


def test_icosahedron_from_random_starts():
    best = max(angle(rrr_optimize(start(3, 12, k), 6000)[0]) for k in range(2))
    assert abs(best - ICOSAHEDRON_DEG) < 1e-6


def test_24_cell_from_a_random_start_then_polish():
    # Measured (seed 1, 12000 iterations, 1500 an attempt): starts 5 and 7 of 0–7 end in the 24-cell's basin
    # (59.994° and 59.9999991°), the others at 58.17–58.87° (the local optima energy methods also reach, see
    # test_cg.py); polish then gives 60° to 1e-9. The test runs start 7.
    v, stats = rrr_optimize(start(4, 24, 7), 12000, attempt_iterations=1500)
    assert angle(v) > 60.0 - 1e-3
    assert abs(angle(polish(v)[0]) - 60.0) < 1e-7
    assert stats["rrr_iterations"] <= 12000 and stats["solved"] >= 1


def test_contract_and_bad_input():
    x = start(3, 7, 0)
    a, sa = rrr_optimize(x, 500)
    b, sb = rrr_optimize(x.copy(), 500)
    assert np.array_equal(a, b) and sa == sb and sa["rrr_iterations"] <= 500
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0) and angle(a) >= angle(x)
    seen = []
    rrr_optimize(x, 50, seen.append)
    assert seen == list(range(1, 51))
    with pytest.raises(ValueError, match=r"rrr needs vectors of shape \(N ≥ 2, D ≥ 1\), not \(1, 3\)"):
        rrr_optimize(np.ones((1, 3)), 10)
    with pytest.raises(ValueError, match="rrr needs finite vectors"):
        rrr_optimize(np.full((3, 3), np.nan), 10)
    with pytest.raises(ValueError, match="rrr needs nonzero vectors"):
        rrr_optimize(np.zeros((3, 3)), 10)
    with pytest.raises(ValueError, match="iterations must be a non-negative integer, not -1"):
        rrr_optimize(x, -1)
    with pytest.raises(ValueError, match="attempt_iterations must be a positive integer, not 0"):
        rrr_optimize(x, 10, attempt_iterations=0)
