"""``spherecode polish`` with ``run --method cg``, ``run --polish`` and ``verify``'s contact graph."""

import pytest

from .output import run_json


def test_polish_cg_and_contacts_through_the_cli(tmp_path, capsys):
    """run --method cg, run --polish, polish FILE and verify's contact graph, on the snub cube (N = 24)."""
    rough, polished = tmp_path / "rough.txt", tmp_path / "polished.json"
    r = run_json(capsys, "run", "-d", "3", "-n", "24", "-k", "300", "-o", str(rough))
    p = run_json(capsys, "polish", str(rough), "-d", "3", "-o", str(polished))
    assert p["before"]["min_angle_deg"] == pytest.approx(r["min_angle_deg"])
    assert p["min_angle_deg"] >= r["min_angle_deg"] and p["polish"]["rounds"] >= 1
    v = run_json(capsys, "verify", str(polished), "-d", "3")
    assert v["valid"] and set(v["contacts"]) >= {"edges", "per_point", "rattlers"}
    c = run_json(capsys, "run", "-d", "3", "-n", "24", "-m", "cg", "-s", "2", "--polish")
    assert (c["method"], c["final_beta"]) == ("cg", None) and c["polish"]["rounds"] >= 1
    assert c["min_angle_deg"] == pytest.approx(43.6907671077, abs=1e-6)
