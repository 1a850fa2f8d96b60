"""The shipped best-known table (host/bestknown.py): its size, known rows, and the sources of the exact cases."""

import numpy as np
import pytest

from spherecode.host.bestknown import best_known, table


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
