"""``spherecode verify``: a valid code's report, an invalid code's status 1, and bad files."""

import numpy as np
import pytest

from spherecode.host.cli import main
from spherecode.host.codefile import write_code

from ..codes import icosahedron
from .output import run_json


def test_verify(capsys, tmp_path):
    path = tmp_path / "ico.txt"
    write_code(path, icosahedron())
    r = run_json(capsys, "verify", str(path), "--dim", "3")
    assert r["valid"] and r["gram"]["rank"] == 3
    assert r["min_angle_deg"] == pytest.approx(63.4349488, abs=1e-6)
    assert [e["count"] for e in r["edge_occurrences"]] == [30, 30, 6]
    assert main(["verify", str(path), "--dim", "3"]) == 0
    assert "valid spherical code" in capsys.readouterr().out


def test_verify_rejects_a_non_unit_code_with_status_1(capsys, tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, icosahedron() * 1.01)
    assert main(["verify", str(path), "--dim", "3"]) == 1
    assert "NOT a valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("m.txt", "0.1\nfoo\n0.3\n0.4\n0.5\n0.6\n", "not a number"),
        ("n.txt", "0.1\nnan\n0.3\n0.4\n0.5\n0.6\n", "non-finite"),
        ("s.txt", "1\n0\n0\n0\n1\n", "whole number of 3-vectors"),
        ("w.json", "[[1, 0], [0, 1]]", "--dim is 3"),
    ],
)
def test_bad_files_are_one_line_and_status_2(capsys, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    assert main(["verify", str(path), "--dim", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
