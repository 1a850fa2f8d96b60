"""Quality of force loosening on codes whose optimum is known, and reproducibility of starts."""

import numpy as np
import pytest

from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import StartTask, initial_vectors, run_start, run_starts


def tasks(dim, points, iterations, starts, seed=0):
    return [StartTask("reference", dim, points, iterations, seed, k, starts) for k in range(starts)]


def test_icosahedron():
    result = run_start(tasks(3, 12, 1000, 1)[0])
    assert summary(result.vectors)["min_angle_deg"] == pytest.approx(63.4349488, abs=1e-4)


def test_600_cell_within_a_few_starts():
    best, results = run_starts(tasks(4, 120, 1000, 4))
    assert len(results) == 4
    assert summary(best.vectors)["min_angle_deg"] == pytest.approx(36.0, abs=1e-3)


def test_snub_cube_best_of_8():
    best, _ = run_starts(tasks(3, 24, 3000, 8))
    assert summary(best.vectors)["min_angle_deg"] == pytest.approx(43.6907671, abs=0.05)


def test_starts_are_independent_of_the_worker_count():
    a, all_a = run_starts(tasks(3, 10, 50, 3, seed=7), jobs=1)
    b, all_b = run_starts(tasks(3, 10, 50, 3, seed=7), jobs=2)
    assert a.index == b.index
    for x, y in zip(all_a, all_b):
        np.testing.assert_array_equal(x.vectors, y.vectors)


def test_starts_differ_and_seeds_differ():
    t = tasks(3, 10, 1, 2, seed=1)
    assert not np.array_equal(initial_vectors(t[0]), initial_vectors(t[1]))
    assert not np.array_equal(initial_vectors(t[0]), initial_vectors(tasks(3, 10, 1, 2, seed=2)[0]))


def test_best_is_the_largest_minimum_distance():
    best, results = run_starts(tasks(3, 13, 100, 3, seed=3), jobs=1)
    assert best.min_squared_distance == max(r.min_squared_distance for r in results)


def test_seeding_is_the_spawned_child_without_spawning():
    """Start k of S draws from SeedSequence(X).spawn(S)[k], made directly (O(1) per start, not O(S))."""
    for k, starts in ((0, 1), (2, 3), (2999, 3000)):
        child = np.random.SeedSequence(11).spawn(starts)[k]
        expected = np.random.default_rng(child).standard_normal((4, 3))
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        np.testing.assert_array_equal(initial_vectors(tasks(3, 4, 1, starts, seed=11)[k]), expected)


def test_coinciding_points_are_redrawn_for_hardware_only():
    from spherecode.hw.config import CoreConfig

    hw = StartTask("model", 2, 4096, 1, 0, 0, 1, {"config": CoreConfig("Q2.17", 4096, 3)})
    sw = StartTask("reference", 2, 4096, 1, 0, 0, 1, {})
    raw = initial_vectors(hw) * 2**17
    assert len(np.unique(np.round(raw), axis=0)) == 4096
    changed = np.any(initial_vectors(hw) != initial_vectors(sw), axis=1)
    assert 0 < changed.sum() < 10  # only the coinciding rows were redrawn
