"""The shipped best-known table (host/bestknown.py): its size, known rows, and the sources of the exact cases."""

import numpy as np
import pytest

from spherecode.host.bestknown import best_known, outside_table, searched_code, searched_table, table
from spherecode.host.cli.common import quality_table
from spherecode.host.metrics import gram_checks, summary


def test_best_known_table():
    assert len(table()) > 200
    assert best_known(4, 120).min_angle_deg == pytest.approx(36.0)
    assert best_known(3, 24).min_angle_deg == pytest.approx(43.690767108)
    assert "Robinson" in best_known(3, 24).status
    assert best_known(3, 10**6) is None


def test_exact_d4_d5_cases_carry_their_sources():
    row = best_known(4, 10)
    assert row.min_angle_deg == pytest.approx(np.degrees(np.arccos(1 / 6)), abs=1e-9)
    assert row.min_distance == pytest.approx(np.sqrt(2 - 2 / 6))
    assert "0805.0776" in row.source and row.status == "proven optimal"
    assert "Rankin" in best_known(5, 9).source
    assert best_known(5, 16).status.startswith("construction")


def test_the_project_s_own_rows_are_their_codes():
    """Each row of data/searched_d45.tsv: its code is shipped, a valid code (verify's Gram checks), and its
    minimum angle is the row's (9 decimals in the file); it names the command that made it."""
    searched = searched_table()
    assert {dim for dim, _ in searched} >= {4}
    for (dim, n), row in searched.items():
        code = searched_code(dim, n)
        assert code.shape == (n, dim) and gram_checks(code)["valid"]
        assert summary(code)["min_angle_deg"] == pytest.approx(row.min_angle_deg, abs=1e-8)
        assert row.source.startswith(f"spherecode table -d {dim} ") and row.status.startswith("this project's search")
    assert searched_code(4, 10**6) is None


def test_outside_rows_take_precedence_over_the_project_s_own():
    outside, searched = outside_table(), searched_table()
    assert searched.keys() & outside.keys()  # the exactly known cases are in both
    assert all(table()[key] == row for key, row in outside.items())
    assert all(table()[key] == searched[key] for key in searched.keys() - outside.keys())


def test_the_project_s_own_rows_are_labelled_as_such():
    (dim, n), row = next((key, row) for key, row in table().items() if row.own)
    assert not best_known(4, 24).own and not best_known(3, 24).own
    r = summary(searched_code(dim, n))
    assert r["best_known_own"] and "this project's own search; short by" in quality_table(r)
    assert "own search" not in quality_table(summary(np.eye(3)))
