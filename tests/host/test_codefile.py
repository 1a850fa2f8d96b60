import json

import numpy as np
import pytest

from spherecode.host.codefile import CodeFileError, check_writable, read_code, write_code

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
        ("f.json", '{"x": 1}', 2, "'vectors'"),
        ("g.json", "[[1, 0], [0]]", 2, "rectangular"),
        ("h.json", "[[1, 0, 0], [0, 1, 0]]", 2, "--dim is 2"),
        ("i.json", "{not json", 2, "not JSON"),
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
    with pytest.raises(CodeFileError, match="not a .npy array file"):
        read_code(path, 2)
    np.save(path, np.zeros((2, 2, 2)))
    with pytest.raises(CodeFileError, match="shape"):
        read_code(path, 2)


def test_missing_file(tmp_path):
    with pytest.raises(CodeFileError, match="no such file"):
        read_code(tmp_path / "none.txt", 3)


def _npy_header(shape) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a .npy array file"),
        (None, "not a .npy array file"),  # an .npz archive renamed .npy
        (_npy_header((10**12, 3)) + b"\0" * 48, "promises 24000000000000 bytes"),
        (_npy_header((2, 3)) + b"\0" * 40, "promises 48 bytes .* holds 40"),
    ],
)
def test_damaged_npy(tmp_path, content, message):
    path = tmp_path / "c.npy"
    if content is None:
        np.savez(tmp_path / "c.npz", a=np.eye(3))
        (tmp_path / "c.npz").rename(path)
    else:
        path.write_bytes(content)
    with pytest.raises(CodeFileError, match=message):
        read_code(path, 3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 5000 + "]" * 5000, "nested too deeply|not a rectangular"),
        ("[[1, 0], [1" + "0" * 400 + ", 0]]", "too large for float64"),
        ("[[1e309, 0], [0, 1]]", "non-finite"),
        ("[[1e300, 1e300], [0, 1]]", "vector 0 has a length beyond"),
        ("[[0, 0], [0, 1]]", "vector 0 has length 0"),
    ],
)
def test_bad_json_numbers_and_vectors(tmp_path, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(CodeFileError, match=message):
        read_code(path, 2)


def test_write_is_atomic_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    write_code(path, np.eye(3))
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left"):
        write_code(path, -np.eye(3))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # no partial file left


def test_upper_case_suffix_writes_that_name(tmp_path):
    path = tmp_path / "x.NPY"
    write_code(path, np.eye(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.NPY"]
    np.testing.assert_array_equal(read_code(path, 3), np.eye(3))


def test_check_writable(tmp_path):
    check_writable(tmp_path / "ok.json")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CodeFileError, match="is a directory"):
        (tmp_path / "d.txt").mkdir()
        check_writable(tmp_path / "d.txt")
    with pytest.raises(CodeFileError, match="does not exist"):
        check_writable(tmp_path / "no" / "c.txt")
    with pytest.raises(CodeFileError, match="unknown code file type"):
        check_writable(tmp_path / "c.csv")
