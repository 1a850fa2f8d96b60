import itertools

import numpy as np
import pytest

from spherecode.host.methods.cg import cg_optimize, energy_and_gradient
from spherecode.host.metrics import summary
from spherecode.host.backends.reference import random_start
from spherecode.host.sweeps.starts import StartTask, initial_vectors, run_start

ICOSAHEDRON_DEG = 63.43494882292201  # 2 arcsin(d/2), d² = 2 − 2/√5


def angle(v):
    return summary(v)["min_angle_deg"]


def start(dim, points, k, starts=4, seed=1):
    return initial_vectors(StartTask("reference", dim, points, 1, seed, k, starts))


def cell24():
    rows = []
    for i, j in itertools.combinations(range(4), 2):
        for a, b in itertools.product((1.0, -1.0), repeat=2):
            e = np.zeros(4)
            e[i], e[j] = a, b
            rows.append(e / np.sqrt(2.0))
    return np.array(rows)


def test_icosahedron_from_random_starts():
    best = max(angle(cg_optimize(start(3, 12, k), 3000)[0]) for k in range(3))
    assert abs(best - ICOSAHEDRON_DEG) < 1e-6


def test_24_cell_basin():
    # From random starts the method does not find the 24-cell: best 58.8702° (24 of 32 starts, 0 at 60°, 3000
    # iterations; 1 of 16 reached 60° with start exponents from [2, 4) only). The 24-cell is a local optimum
    # that it converges back to from a 0.1 perturbation (measured: from 0.2 it did not).
    rng = np.random.default_rng(0)
    x = cell24() + 0.1 * rng.standard_normal((24, 4))
    v, stats = cg_optimize(x / np.linalg.norm(x, axis=1, keepdims=True), 3000)
    assert abs(angle(v) - 60.0) < 1e-4
    assert 58.87 < max(angle(cg_optimize(start(4, 24, k), 3000)[0]) for k in range(2))


def test_5_demicube():
    best = max(angle(cg_optimize(start(5, 16, k), 3000)[0]) for k in range(2))
    assert abs(best - np.degrees(np.arccos(0.2))) < 1e-6


def test_deterministic_and_rng():
    x = start(3, 20, 0)
    a, sa = cg_optimize(x, 500)
    b, sb = cg_optimize(x.copy(), 500)
    assert np.array_equal(a, b) and sa == sb
    c, sc = cg_optimize(x, 500, rng=np.random.default_rng(7))
    d, sd = cg_optimize(x, 500, rng=np.random.default_rng(7))
    assert np.array_equal(c, d) and sc == sd
    assert sc["start_exponent"] != sa["start_exponent"]


def test_result_shape_and_stats():
    v, stats = cg_optimize(start(3, 30, 0), 400)
    assert v.shape == (30, 3) and v.dtype == np.float64
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-12)
    assert {"stages", "final_exponent", "cg_iterations", "start_exponent"} <= stats.keys()
    assert 1 <= stats["stages"] and stats["cg_iterations"] <= 400


@pytest.mark.parametrize("iterations", [0, 1, 7, 100])
def test_iteration_budget(iterations):
    calls = []
    v, stats = cg_optimize(start(3, 40, 0), iterations, calls.append)
    assert len(calls) == stats["cg_iterations"] <= iterations
    assert calls == list(range(1, len(calls) + 1))
    assert np.all(np.isfinite(v))


def degenerate_starts():
    rng = np.random.default_rng(3)
    e = np.eye(3)
    yield "coincident", np.repeat(random_start(1, 3, rng), 6, axis=0)
    yield "some coincident", np.vstack([random_start(8, 3, rng)] * 2)
    yield "N = 2", random_start(2, 3, rng)
    yield "N = 2 coincident", np.array([[1.0, 0, 0], [1.0, 0, 0]])
    yield "antipodal", np.array([[0.0, 0, 1], [0.0, 0, -1]])
    yield "antipodal pairs", np.vstack([e, -e])
    yield "D = 1", np.array([[1.0], [-1.0], [1.0]])
    yield "not unit", 5.0 * random_start(10, 4, rng)


@pytest.mark.parametrize("name, x", list(degenerate_starts()), ids=[n for n, _ in degenerate_starts()])
def test_degenerate_starts_never_nan(name, x):
    v, stats = cg_optimize(x, 300)
    assert v.shape == x.shape and np.all(np.isfinite(v))
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert all(np.isfinite(value) for value in stats.values() if isinstance(value, float))
    if x.shape[1] > 1:
        assert summary(v)["min_distance"] > 0


def test_coincident_start_still_optimises():
    v, _ = cg_optimize(np.repeat([[0.0, 0.0, 1.0]], 12, axis=0), 3000)
    assert angle(v) > 63.0


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones((1, 3)), "N ≥ 2"),
        (np.ones(3), "shape"),
        (np.array([[1.0, 0, 0], [np.nan, 0, 1]]), "finite"),
        (np.array([[1.0, 0, 0], [np.inf, 0, 1]]), "finite"),
        (np.array([[1.0, 0, 0], [0.0, 0, 0]]), "length 0"),
        (np.zeros((3, 0)), "D ≥ 1"),
    ],
)
def test_bad_input(x, message):
    with pytest.raises(ValueError, match=message) as info:
        cg_optimize(x, 10)
    assert "\n" not in str(info.value)


def test_bad_iterations():
    with pytest.raises(ValueError, match="iterations"):
        cg_optimize(start(3, 5, 0), -1)


def test_gradient_matches_finite_differences():
    x = start(3, 9, 0)
    c2, s = 0.5, 12.0
    e, g, _ = energy_and_gradient(x, c2, s)
    h = 1e-6
    num = np.zeros_like(x)
    for i, j in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[i, j] = h
        num[i, j] = (energy_and_gradient(x + d, c2, s)[0] - energy_and_gradient(x - d, c2, s)[0]) / (2 * h)
    assert np.allclose(g, num, rtol=1e-6, atol=1e-8 * np.abs(g).max())


def test_blocked_equals_dense():
    x = start(3, 50, 0)
    e1, g1, m1 = energy_and_gradient(x, 0.1, 300.0)
    e2, g2, m2 = energy_and_gradient(x, 0.1, 300.0, block=7)
    assert np.isclose(e1, e2, rtol=1e-12) and np.allclose(g1, g2, rtol=1e-10) and m1 == m2


def test_run_start_cg():
    r = run_start(StartTask("reference", 3, 12, 2000, 1, 0, 1, method="cg"))
    assert abs(np.degrees(2 * np.arcsin(np.sqrt(r.min_squared_distance) / 2)) - ICOSAHEDRON_DEG) < 1e-6
    assert r.final_beta is None and r.stats["cg_iterations"] <= 2000
