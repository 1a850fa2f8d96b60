import numpy as np
import pytest

from spherecode.host.backends.reference import ReferenceBackend, naive_update, random_start, reference_update

from ..codes import icosahedron, polygon


@pytest.mark.parametrize("n, dim", [(2, 2), (7, 2), (50, 3), (64, 6)])
@pytest.mark.parametrize("beta", [1.0, 4.0, 37.5, 900.0])
def test_matches_naive_broadcast(n, dim, beta):
    r = random_start(n, dim, np.random.default_rng(n * dim))
    a, b = reference_update(r, beta), naive_update(r, beta)
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-12)
    np.testing.assert_allclose(a.delta, b.delta, atol=1e-12)
    assert a.move_norm == pytest.approx(b.move_norm, rel=1e-9, abs=1e-15)


def test_blocks_do_not_change_the_result():
    r = random_start(101, 4, np.random.default_rng(1))
    a, b = reference_update(r, 12.0), reference_update(r, 12.0, block=7)
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-14)
    np.testing.assert_allclose(a.delta, b.delta, atol=1e-14)


def test_steps_by_hand_for_two_points():
    # N = 2: δ = d², the weight is 1, F = (r1 − r2)/|r1 − r2|, r* = r1 + (δ/2β) F.
    r = np.array([[1.0, 0.0], [0.0, 1.0]])
    beta = 3.0
    u = reference_update(r, beta)
    f = (r[0] - r[1]) / np.sqrt(2)
    star = r[0] + (2.0 / (2 * beta)) * f
    np.testing.assert_allclose(u.vectors[0], star / np.linalg.norm(star), atol=1e-15)
    np.testing.assert_allclose(u.delta, [2.0, 2.0])
    assert u.move_norm == pytest.approx(np.sum((u.vectors - r) ** 2))
    # The pair moved apart.
    assert np.sum((u.vectors[0] - u.vectors[1]) ** 2) > 2.0


def test_antipodal_pair_is_a_fixed_point():
    r = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    u = reference_update(r, 8.0)
    np.testing.assert_allclose(u.vectors, r, atol=1e-15)
    assert u.move_norm == pytest.approx(0.0, abs=1e-30)


@pytest.mark.parametrize("code", [icosahedron(), polygon(9)])
def test_optimal_codes_are_fixed_points(code):
    u = reference_update(code, 50.0)
    np.testing.assert_allclose(u.vectors, code, atol=1e-12)


def test_unit_norms_kept():
    r = random_start(200, 5, np.random.default_rng(2))
    for beta in (2.0, 30.0, 4000.0):
        r = reference_update(r, beta).vectors
        np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1.0, atol=1e-14)


def test_coincident_points_give_no_nan():
    r = random_start(10, 3, np.random.default_rng(3))
    r[4] = r[7]
    for u in (reference_update(r, 6.0), naive_update(r, 6.0)):
        assert np.all(np.isfinite(u.vectors)) and np.isfinite(u.move_norm)
        assert u.delta[4] == pytest.approx(0.0, abs=1e-15)
        np.testing.assert_allclose(np.linalg.norm(u.vectors, axis=1), 1.0, atol=1e-14)
    # The other points still move.
    assert not np.allclose(reference_update(r, 6.0).vectors[0], r[0])


def test_backend_interface():
    r = random_start(16, 3, np.random.default_rng(4))
    backend = ReferenceBackend(block=5)
    assert backend.name == "reference"
    u = backend.update(r, 9.0)
    assert u.vectors.shape == r.shape and u.delta.shape == (16,)


def test_bad_arguments():
    with pytest.raises(ValueError):
        reference_update(np.ones((1, 3)), 4.0)
    with pytest.raises(ValueError):
        reference_update(random_start(4, 3, np.random.default_rng(0)), 0.0)


def test_random_start_is_unit_and_reproducible():
    a = random_start(1000, 4, np.random.default_rng(9))
    b = random_start(1000, 4, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-15)
    # No privileged direction: the mean of 1000 points is near the origin.
    assert np.linalg.norm(a.mean(axis=0)) < 0.15


def test_threads_do_not_change_the_result():
    r = random_start(700, 3, np.random.default_rng(5))
    a = reference_update(r, 20.0, block=50)
    b = ReferenceBackend(block=50, threads=2).update(r, 20.0)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.delta, b.delta)
    assert a.move_norm == b.move_norm
