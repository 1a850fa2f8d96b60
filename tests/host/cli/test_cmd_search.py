"""``spherecode search``: the icosahedron reached, and the code it writes (the search itself:
tests/host/sweeps/test_search.py)."""

import json

import pytest

from spherecode.host.cli import main
from spherecode.host.codefile import read_code
from spherecode.host.pairs import min_distance


def test_the_icosahedron_through_the_cli(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["search", "-d", "3", "-n", "12", "--time", "60", "-j", "2", "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reached"] and abs(result["min_angle_deg"] - 63.434948823) < 1e-8
    assert result["starts"] >= 1 and result["rounds"] >= 0 and result["accepted"] <= result["rounds"]
    assert min_distance(read_code(out, 3)) == pytest.approx(result["min_distance"], abs=1e-15)
