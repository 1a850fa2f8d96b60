import json

import numpy as np
import pytest

from spherecode.host.codefile import CodeFileError, read_code, write_code

from .codes import icosahedron


@pytest.mark.parametrize("suffix", [".txt", ".npy", ".json"])
def test_round_trip_is_exact(tmp_path, suffix):
    v = icosahedron()
    path = tmp_path / f"code{suffix}"
    write_code(path, v, {"seed": 3})
    np.testing.assert_array_equal(read_code(path, 3), v)


def test_txt_is_sloanes_layout(tmp_path):
    path = tmp_path / "c.txt"
    write_code(path, np.eye(3))
    assert path.read_text().split() == ["1", "0", "0", "0", "1", "0", "0", "0", "1"]
    path.write_text("1.0\n0\n\n-1  0\n")  # any whitespace separates numbers
    np.testing.assert_array_equal(read_code(path, 2), [[1, 0], [-1, 0]])


def test_json_forms(tmp_path):
    path = tmp_path / "c.json"
    write_code(path, np.eye(2))
    doc = json.loads(path.read_text())
    assert doc["dim"] == 2 and doc["points"] == 2
    path.write_text("[[1, 0], [0, 1], [-1, 0]]")
    assert read_code(path).shape == (3, 2)


@pytest.mark.parametrize(
    "name, content, dim, message",
    [
        ("a.txt", "1\n0\nzero\n1\n", 2, "not a number"),
        ("b.txt", "1\n0\n0\n1\n0\n", 2, "whole number"),
        ("c.txt", "1\n0\nnan\n1\n", 2, "non-finite"),
        ("d.txt", "1\n0\ninf\n1\n", 2, "non-finite"),
        ("e.txt", "1\n0\n", 2, "at least 2"),
        ("f.json", "{\"x\": 1}", 2, "'vectors'"),
        ("g.json", "[[1, 0], [0]]", 2, "rectangular"),
        ("h.json", "[[1, 0, 0], [0, 1, 0]]", 2, "--dim is 2"),
        ("i.json", "{not json", 2, "cannot read"),
        ("j.txt", "1\n0\n0\n1\n", 1, "below 2"),
        ("k.csv", "1,0", 2, "unknown code file type"),
    ],
)
def test_bad_files(tmp_path, name, content, dim, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CodeFileError, match=message):
        read_code(path, dim)


def test_bad_npy(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(CodeFileError, match="expected real numbers"):
        read_code(path, 2)
    path.write_bytes(b"garbage")
    with pytest.raises(CodeFileError, match="cannot read"):
        read_code(path, 2)
    np.save(path, np.zeros((2, 2, 2)))
    with pytest.raises(CodeFileError, match="shape"):
        read_code(path, 2)


def test_missing_file(tmp_path):
    with pytest.raises(CodeFileError, match="no such file"):
        read_code(tmp_path / "none.txt", 3)
