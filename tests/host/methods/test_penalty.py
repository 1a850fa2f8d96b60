"""The penalty formulation: its threshold and gradient, known codes, contract."""

import numpy as np
import pytest

from spherecode.host.metrics import summary
from spherecode.host.methods.penalty import best_threshold, penalty_and_gradient, penalty_optimize
from spherecode.host.sweeps.starts import StartTask, initial_vectors


def start(dim, points, k, seed=1):
    return initial_vectors(StartTask("reference", dim, points, 1, seed, k, 8))


def angle(v):
    return summary(v)["min_angle_deg"]


def test_best_threshold_solves_the_violation_sum():
    rng = np.random.default_rng(0)
    c = rng.uniform(-1, 1, 200)
    for mu in (0.01, 1.0, 30.0, 1e6):
        t = best_threshold(c, mu)
        assert np.sum(np.maximum(c - t, 0.0)) == pytest.approx(1.0 / mu, rel=1e-9)
        assert c.max() - 1.0 / mu <= t <= c.max()


def test_gradient_matches_finite_differences():
    x = start(3, 8, 0)
    value, grad, d_min = penalty_and_gradient(x, 20.0)
    h = 1e-7
    for i, k in [(0, 0), (4, 2), (7, 1)]:
        e = np.zeros_like(x)
        e[i, k] = h
        numeric = (penalty_and_gradient(x + e, 20.0)[0] - penalty_and_gradient(x - e, 20.0)[0]) / (2 * h)
        assert grad[i, k] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize(
    "dim, points, degrees", [(3, 4, 109.4712206345), (3, 6, 90.0), (3, 12, 63.4349488229), (3, 24, 43.6907671077)]
)
def test_known_codes_best_of_3(dim, points, degrees):
    best = max(angle(penalty_optimize(start(dim, points, k), 3000)[0]) for k in range(3))
    assert abs(best - degrees) < 1e-5


def test_contract_and_bad_input():
    x = start(3, 9, 0)
    a, sa = penalty_optimize(x, 400)
    b, sb = penalty_optimize(x.copy(), 400)
    assert np.array_equal(a, b) and sa == sb and sa["steps"] <= 400
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0) and angle(a) > angle(x)
    with pytest.raises(ValueError, match="penalty needs finite vectors"):
        penalty_optimize(np.full((3, 3), np.inf), 10)
