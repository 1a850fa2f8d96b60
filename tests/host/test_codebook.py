"""host/codebook.py: the joint MSE + gap objective and its gradient, spherical k-means++, the IVF recall,
the Adam codebook against k-means++ (several seeds); the ``spherecode codebook`` command: tests/host/cli."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from spherecode.host import codebook as cb
from spherecode.host.pairs import min_distance


def _random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("target", [10.0, 0.0])  # penalty active, penalty inactive
def test_objective_gradient_matches_finite_differences(target):
    data = cb.synthetic(40, 5, 3, seed=1)
    c = _random((6, 5), 2)  # off the sphere on purpose: the objective is defined for any C
    value, grad, parts = cb.objective(c, data, 2.5, target, 0.3)
    assert (parts["penalty"] > 0) == (target > 0)
    numeric = np.zeros_like(c)
    h = 1e-6
    for idx in np.ndindex(c.shape):
        e = np.zeros_like(c)
        e[idx] = h
        numeric[idx] = (
            cb.objective(c + e, data, 2.5, target, 0.3)[0] - cb.objective(c - e, data, 2.5, target, 0.3)[0]
        ) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert value == pytest.approx(parts["mse_soft"] + 2.5 * parts["penalty"])


def test_soft_values_bound_and_approach_the_hard_ones():
    data = cb.synthetic(300, 8, 5, seed=3)
    c = cb._unit(_random((10, 8), 4))
    d_min = min_distance(c)
    mse = cb.quantisation_mse(data, c)
    for tau in (0.5, 0.05, 0.001):
        _, _, parts = cb.objective(c, data, 1.0, 0.0, tau)
        # log-sum-exp softmins lie below the minimum, by at most τ log(count)
        assert d_min - tau * np.log(45) - 1e-12 <= parts["softmin"] <= d_min + 1e-12
        assert mse - tau * np.log(10) - 1e-12 <= parts["mse_soft"] <= mse + 1e-12
    assert parts["softmin"] == pytest.approx(d_min, abs=0.01)


def test_distances_assignment_and_mse_against_brute_force():
    data = cb.synthetic(500, 6, 4, seed=5)
    c = cb._unit(_random((7, 6), 6))
    assert min_distance(c) == pytest.approx(pdist(c).min(), rel=1e-12)
    d2 = cdist(data, c, "sqeuclidean")
    labels, sq = cb.assign(data, c)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
    np.testing.assert_allclose(sq, d2.min(axis=1), atol=1e-12)
    assert cb.quantisation_mse(data, c) == pytest.approx(d2.min(axis=1).mean(), rel=1e-12)


def test_blocks_give_the_same_answers(monkeypatch):
    data = cb.synthetic(300, 5, 4, seed=7)
    queries = cb.synthetic(50, 5, 4, seed=8)
    c = cb._unit(_random((9, 5), 9))
    whole = (cb.assign(data, c), cb.objective(c, data, 1.0, 5.0, 0.2), cb.ivf_recall(data, c, queries, 2))
    monkeypatch.setattr(cb, "BLOCK", 37)  # blocks of 4 rows (and 1 query)
    parts = (cb.assign(data, c), cb.objective(c, data, 1.0, 5.0, 0.2), cb.ivf_recall(data, c, queries, 2))
    np.testing.assert_array_equal(whole[0][0], parts[0][0])
    np.testing.assert_allclose(whole[1][1], parts[1][1], rtol=1e-12, atol=1e-15)
    assert whole[2] == parts[2]


def _recall_by_loops(data, c, queries, probe, k=10):
    lists = [int(np.argmin([np.sum((x - y) ** 2) for y in c])) for x in data]
    hits = 0
    for q in queries:
        exact = set(np.argsort(-(data @ q), kind="stable")[:k].tolist())
        probes = set(np.argsort(-(c @ q), kind="stable")[:probe].tolist())
        candidates = [i for i in range(len(data)) if lists[i] in probes]
        found = sorted(candidates, key=lambda i: -float(data[i] @ q))[:k]
        hits += len(exact & set(found))
    return hits / (k * len(queries))


@pytest.mark.parametrize("probe", [1, 2, 5])
def test_ivf_recall_against_loops(probe):
    data = cb.synthetic(400, 6, 5, seed=10, spread=1.0)
    queries = cb.synthetic(30, 6, 5, seed=11, spread=1.0)
    c = cb._unit(_random((5, 6), 12))
    assert cb.ivf_recall(data, c, queries, probe) == pytest.approx(_recall_by_loops(data, c, queries, probe))
    if probe == 5:
        assert cb.ivf_recall(data, c, queries, probe) == 1.0  # every list scanned: exact search


def test_ivf_recall_counts_too_few_candidates_as_misses():
    data = np.array([[1.0, 0.0]] * 3 + [[-1.0, 0.0]] * 20)
    c = np.array([[1.0, 0.0], [-1.0, 0.0]])
    # a query at +x: its exact top-10 holds the 3 +x points and 7 others; IVF with one list finds 3
    assert cb.ivf_recall(data, c, np.array([[1.0, 0.0]]), probe=1) == pytest.approx(0.3)


def test_spherical_kmeans_finds_separated_clusters():
    data = cb.synthetic(2000, 16, 8, seed=13, spread=0.2)
    c, info = cb.spherical_kmeans(data, 8, seed=0)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0)
    assert info["converged"]
    centres = cb._unit(np.random.default_rng([13, 0x5EED]).standard_normal((8, 16)))  # synthetic's centres
    assert np.sort(cdist(centres, c).min(axis=1)).max() < 0.1  # one codeword at each centre


def test_synthetic_is_deterministic_unit_and_clustered():
    a = cb.synthetic(1000, 12, 4, seed=3, spread=1.0)
    np.testing.assert_array_equal(a, cb.synthetic(1000, 12, 4, seed=3, spread=1.0))
    assert not np.array_equal(a, cb.synthetic(1000, 12, 4, seed=4, spread=1.0))
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0)
    centres = cb._unit(np.random.default_rng([3, 0x5EED]).standard_normal((4, 12)))
    assert (a @ centres.T).max(axis=1).mean() == pytest.approx(1 / np.sqrt(2), abs=0.05)


def test_adam_widens_the_gap_over_kmeans_at_small_mse_cost():
    """The codebook note's finding in miniature, on three seeds: min distance up, MSE about the same."""
    for seed in range(3):
        data = cb.synthetic(3000, 32, 20, seed=seed)
        queries = cb.synthetic(200, 32, 20, seed=seed + 100)
        r, c = cb.compare(data, queries, 32, 5.0, 600, seed, probe=3, batch=1024)
        np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0)
        assert r["joint"]["min_distance"] == pytest.approx(min_distance(c))
        assert r["change"]["min_distance_pct"] > 10, r
        assert r["change"]["mse_pct"] < 5, r
        assert r["target"] == pytest.approx(0.9 * r["kmeans"]["min_distance"])


def test_adam_without_penalty_is_soft_kmeans():
    """λ = 0: no gap term, however far the target; the codebook's MSE comes close to k-means++'s."""
    data = cb.synthetic(2000, 8, 10, seed=21)
    km, _ = cb.spherical_kmeans(data, 10, seed=0)
    c, last = cb.adam_codebook(data, 10, 0.0, 10.0, 600, seed=0)
    assert last["penalty"] > 0  # the target is out of reach, yet λ = 0 ignores it
    assert cb.quantisation_mse(data, c) < 1.05 * cb.quantisation_mse(data, km)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cb.synthetic(1, 3, 2, 0), "points must be an integer ≥ 2, not 1"),
        (lambda: cb.synthetic(10, 3, 0, 0), "clusters must be an integer ≥ 1, not 0"),
        (lambda: cb.synthetic(10, 3, 2, 0, spread=-1.0), "spread must be a finite number ≥ 0, not -1.0"),
        (lambda: cb.parse_shape("12"), "--synthetic must be M×DIM such as 50000x128, not '12'"),
        (lambda: cb.parse_shape("10x1"), "--synthetic needs M ≥ 2 and DIM ≥ 2, not '10x1'"),
        (lambda: cb.adam_codebook(np.eye(4), 5, 1.0, 1.0, 10, 0), "codewords must be an integer in [2, 4]"),
        (lambda: cb.adam_codebook(np.eye(4), 2, -1.0, 1.0, 10, 0), "lambda must be a finite number ≥ 0, not -1.0"),
        (lambda: cb.adam_codebook(np.eye(4), 2, 1.0, 1.0, 0, 0), "steps must be an integer ≥ 1, not 0"),
        (lambda: cb.adam_codebook(np.eye(4), 2, 1.0, 1.0, 5, 0, batch=0), "batch must be an integer ≥ 1, not 0"),
        (
            lambda: cb.spherical_kmeans(np.eye(4), 9, 0),
            "codewords must be an integer in [2, 4] (the data's rows), not 9",
        ),
        (lambda: cb.ivf_recall(np.eye(4), np.eye(4)[:2], np.eye(4), 3), "probe must be an integer in [1, 2]"),
        (lambda: cb.ivf_recall(np.eye(4), np.eye(4)[:2], np.eye(4), 1, k=5), "k must be an integer in [1, 4]"),
        (lambda: cb.joint_codebook(np.eye(4), np.eye(4), 2, 1.0, np.nan, 5, 0, 1), "target must be a finite number"),
        (lambda: cb.kmeans_baseline(np.eye(4), np.eye(3), 2, 0, 1), "queries must be a non-empty (Q, 4) array"),
    ],
)
def test_argument_messages(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
