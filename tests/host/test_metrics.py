import numpy as np
import pytest

from spherecode.host.metrics import edge_occurrences, gram_checks, gram_matrix_checks, summary

from .codes import cross_polytope, icosahedron, polygon


def test_icosahedron_summary():
    s = summary(icosahedron())
    assert s["min_angle_deg"] == pytest.approx(np.degrees(np.arctan(2)), abs=1e-10)
    assert s["max_cosine"] == pytest.approx(1 / np.sqrt(5), abs=1e-12)
    assert s["min_distance"] == pytest.approx(np.sqrt(2 - 2 / np.sqrt(5)), abs=1e-12)
    assert s["gap"] == pytest.approx(s["min_distance"] - 1)
    assert s["best_known_angle_deg"] == pytest.approx(63.434948823)
    assert abs(s["best_known_gap_deg"]) < 1e-8


def test_gap_sign_follows_sixty_degrees():
    assert summary(polygon(6))["gap"] == pytest.approx(0.0, abs=1e-12)  # 60° exactly
    assert summary(polygon(5))["gap"] > 0
    assert summary(polygon(7))["gap"] < 0


def test_edge_occurrences_of_known_codes():
    ico = {round(e["cosine"], 6): e["count"] for e in edge_occurrences(icosahedron())}
    assert ico == {round(1 / np.sqrt(5), 6): 30, round(-1 / np.sqrt(5), 6): 30, -1.0: 6}
    cross = edge_occurrences(cross_polytope(4))
    assert [(round(e["cosine"], 9), e["count"]) for e in cross] == [(0.0, 24), (-1.0, 4)]
    assert cross[0]["distance"] == pytest.approx(np.sqrt(2))


def test_edge_tolerance_merges_and_splits():
    v = icosahedron()
    noisy = v + np.random.default_rng(0).normal(scale=1e-9, size=v.shape)
    assert len(edge_occurrences(noisy, tol=1e-6)) == 3
    assert len(edge_occurrences(noisy, tol=1e-14)) > 3


def test_gram_checks_pass_on_codes():
    for code in (icosahedron(), cross_polytope(5), polygon(8)):
        g = gram_checks(code)
        assert g["valid"] and g["rank"] == code.shape[1]


def test_gram_checks_catch_each_failure():
    v = icosahedron()
    scaled = v.copy()
    scaled[0] *= 1.001
    assert not gram_checks(scaled)["unit_diagonal"]
    g = v @ v.T
    g[0, 1] += 1e-3
    assert not gram_matrix_checks(g, 3)["symmetric"]
    # A valid Gram matrix of 3-D points, claimed to be 2-D: rank fails.
    assert not gram_matrix_checks(v @ v.T, 2)["rank_ok"]
    # Unit diagonal, symmetric, but cos = −0.9 between three points is impossible: not PSD.
    bad = np.full((3, 3), -0.9)
    np.fill_diagonal(bad, 1.0)
    checks = gram_matrix_checks(bad, 3)
    assert not checks["psd"] and not checks["valid"] and checks["min_eigenvalue"] < 0


def test_large_codes_take_the_small_matrix_route(monkeypatch):
    import spherecode.host.metrics as m

    v = cross_polytope(6)
    direct = gram_checks(v)
    monkeypatch.setattr(m, "GRAM_DIRECT_MAX", 4)
    indirect = gram_checks(v)
    assert indirect["rank"] == direct["rank"] == 6
    assert indirect["valid"] and indirect["min_eigenvalue"] == pytest.approx(direct["min_eigenvalue"], abs=1e-12)


def test_summary_without_a_best_known_row():
    assert summary(np.random.default_rng(0).normal(size=(5, 9)))["best_known_angle_deg"] is None


def test_summary_refuses_what_has_no_metric_and_reports_progress():
    r = np.eye(3)
    for bad in (np.array([[0.0, 0, 0], [0, 1, 0]]), np.array([[np.nan, 0, 0], [0, 1, 0]])):
        with pytest.raises(ValueError, match="no metric"):
            summary(bad)
    rows = []
    summary(np.vstack([r, -r]), rows.append)
    assert sum(rows) == 12  # 2N rows: distances of the vectors, then of their directions
