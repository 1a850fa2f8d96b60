"""Projected gradient descent with backtracking on the sphere: descent, stopping, arguments."""

import numpy as np
import pytest

from spherecode.host.methods.descent import descend, tangent, unit_rows

E = np.array([0.0, 0.0, 1.0])


def linear(x):
    """−Σ_i x_i · e: least with every row at e; (f, ∇f, a smallest distance of 1)."""
    return -float(np.sum(x @ E)), -np.tile(E, (len(x), 1)), 1.0


def test_minimises_a_linear_function_on_the_sphere_and_only_goes_down():
    x = unit_rows(np.array([[1.0, 0.2, -0.5], [0.0, 1.0, 0.3]]), 0, "t")
    values = []

    def recorded(y):
        out = linear(y)
        values.append(out[0])
        return out

    r = descend(x, recorded, 500, max_move=0.5, tol=1e-15)
    assert np.allclose(r.x, np.tile(E, (2, 1)), atol=1e-6) and r.converged and r.steps < 500
    assert r.value == pytest.approx(-2.0) and r.evaluations == len(values)
    assert r.value == min(values)


def test_budget_step_cap_and_arguments():
    x = unit_rows(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 0, "t")
    r = descend(x, linear, 3, max_move=0.01, tol=0.0)
    assert r.steps == 3 and not r.converged
    assert np.all(np.linalg.norm(r.x - x, axis=1) <= 3 * 0.01 + 1e-12)  # no row moved more than the cap a step
    assert np.allclose(np.einsum("ij,ij->i", tangent(np.ones((2, 3)), r.x), r.x), 0.0)
    with pytest.raises(ValueError, match="descend needs max_move > 0"):
        descend(x, linear, 3, max_move=0.0, tol=0.0)
    with pytest.raises(ValueError, match=r"t needs vectors of shape \(N ≥ 2, D ≥ 1\), not \(3,\)"):
        unit_rows(np.ones(3), 0, "t")
