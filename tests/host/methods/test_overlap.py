"""The overlap energy at a fixed target: its gradient, its zero set, the minimiser's contract and checks."""

import numpy as np
import pytest

from spherecode.host.backends.reference import random_start
from spherecode.host.methods.overlap import overlap_energy, overlap_minimize
from spherecode.host.pairs import min_distance


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = random_start(30, 3, rng) * rng.uniform(0.5, 2.0, (30, 1))  # unnormalised rows: the chain rule counts
    energy, grad = overlap_energy(x, 0.8)
    assert energy > 0
    h = 1e-6
    for i, k in [(0, 0), (3, 1), (17, 2), (29, 0)]:
        step = np.zeros_like(x)
        step[i, k] = h
        numeric = (overlap_energy(x + step, 0.8)[0] - overlap_energy(x - step, 0.8)[0]) / (2 * h)
        assert grad[i, k] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_the_energy_is_zero_exactly_when_no_pair_is_closer_than_the_target():
    octahedron = np.vstack([np.eye(3), -np.eye(3)])
    assert overlap_energy(octahedron, np.sqrt(2) - 1e-9)[0] == 0.0
    energy, grad = overlap_energy(octahedron, np.sqrt(2) + 1e-3)
    assert energy > 0 and np.allclose(grad, 0.0)  # the octahedron is balanced: its forces cancel


def test_minimize_separates_a_random_start_to_a_feasible_target():
    """D = 3, N = 12: 60° (chord 1) is below the icosahedron's 63.43°: a descent reaches E = 0."""
    rng = np.random.default_rng(2)
    x = random_start(12, 3, rng)
    r, energy = overlap_minimize(x, 1.0)
    assert energy == 0.0 and min_distance(r) >= 1.0
    assert np.allclose(np.linalg.norm(r, axis=1), 1.0)
    assert energy <= overlap_energy(x, 1.0)[0]


@pytest.mark.parametrize(
    "vectors, target, iterations, message",
    [
        (np.ones(3), 1.0, 10, r"N ≥ 2 and D ≥ 2, not shape \(3,\)"),
        (np.array([[1.0, 0.0], [np.nan, 1.0]]), 1.0, 10, "finite vectors of nonzero length"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), 1.0, 10, "finite vectors of nonzero length"),
        (np.eye(3), 2.5, 10, r"chord in \(0, 2\], not 2.5"),
        (np.eye(3), 0.0, 10, r"chord in \(0, 2\], not 0.0"),
        (np.eye(3), 1.0, 0, "positive integer, not 0"),
    ],
)
def test_argument_messages(vectors, target, iterations, message):
    with pytest.raises(ValueError, match=message):
        overlap_minimize(vectors, target, iterations)
