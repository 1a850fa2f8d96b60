"""``spherecode codebook``: its JSON and the codebook it writes checked against the library, a data file and
the text, and its bad input (one line, status 2, nothing written)."""

import json

import numpy as np
import pytest

from spherecode.host import codebook as cb
from spherecode.host.cli import main
from spherecode.host.pairs import min_distance


def test_cli_json_and_out(tmp_path, capsys):
    out = tmp_path / "c.npy"
    argv = [
        "codebook",
        "--synthetic",
        "1500x12",
        "--clusters",
        "8",
        "-n",
        "6",
        "-k",
        "200",
        "--queries",
        "50",
        "--probe",
        "2",
        "--seed",
        "4",
        "--out",
        str(out),
        "--json",
    ]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["command"], r["points"], r["dim"], r["queries"], r["codewords"], r["out"]) == (
        "codebook",
        1500,
        12,
        50,
        6,
        str(out),
    )
    c = np.load(out)
    assert c.shape == (6, 12)
    assert r["joint"]["min_distance"] == pytest.approx(min_distance(c))
    rows = cb.synthetic(1550, 12, 8, seed=4, spread=3.0)
    assert r["joint"]["mse"] == pytest.approx(cb.quantisation_mse(rows[:1500], c))
    assert r["joint"]["recall"] == pytest.approx(cb.ivf_recall(rows[:1500], c, rows[1500:], 2))
    assert r["change"] == pytest.approx(cb.change(r["kmeans"], r["joint"]))
    assert 0 <= r["kmeans"]["recall"] <= 1 and r["target"] == pytest.approx(0.9 * r["kmeans"]["min_distance"])


def test_cli_data_file_and_text(tmp_path, capsys):
    data = cb.synthetic(600, 6, 5, seed=2) * 3.0  # not normalised: the command normalises the rows
    np.save(tmp_path / "x.npy", data)
    assert main(["codebook", "--data", str(tmp_path / "x.npy"), "-n", "5", "-k", "50", "--queries", "100"]) == 0
    text = capsys.readouterr().out
    assert "k-means++" in text and "joint" in text
    assert (
        main(["codebook", "--data", str(tmp_path / "x.npy"), "-n", "5", "-k", "50", "--queries", "100", "--json"]) == 0
    )
    r = json.loads(capsys.readouterr().out)
    assert (r["points"], r["queries"], r["dim"]) == (500, 100, 6)


#: name → (files: name → array or bytes, argv after "codebook", a phrase of the one-line message)
BAD = {
    "NaN in the data": (
        {"x.npy": np.array([[1.0, 0.0], [np.nan, 1.0], [0.0, 1.0]])},
        ["--data", "x.npy", "-n", "2"],
        "non-finite",
    ),
    "a zero row": (
        {"x.npy": np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])},
        ["--data", "x.npy", "-n", "2"],
        "length 0",
    ),
    "a flat array": ({"x.npy": np.ones(8)}, ["--data", "x.npy", "-n", "2"], "needs shape (M, dim)"),
    "a 3-d array": ({"x.npy": np.ones((2, 2, 2))}, ["--data", "x.npy", "-n", "2"], "expected N vectors"),
    "an empty file": ({"x.npy": b""}, ["--data", "x.npy", "-n", "2"], "not a .npy array file"),
    "a missing file": ({}, ["--data", "nope.npy", "-n", "2"], "no such file"),
    "not .npy": ({"x.txt": b"1\n0\n0\n1\n"}, ["--data", "x.txt", "-n", "2"], "must be a .npy file"),
    "--queries above the rows": (
        {"x.npy": np.eye(4)},
        ["--data", "x.npy", "-n", "2", "--queries", "4"],
        "below the data's 4 rows",
    ),
    "--clusters with --data": (
        {"x.npy": np.eye(4)},
        ["--data", "x.npy", "-n", "2", "--clusters", "3"],
        "--synthetic data only",
    ),
    "both sources": ({"x.npy": np.eye(4)}, ["--data", "x.npy", "--synthetic", "10x3", "-n", "2"], "not allowed with"),
    "no source": ({}, ["-n", "2"], "one of the arguments --data --synthetic is required"),
    "bad shape": ({}, ["--synthetic", "10by3", "-n", "2"], "M×DIM"),
    "a huge shape": ({}, ["--synthetic", "1000000000x1000000000", "-n", "2"], "GiB of memory"),
    "more codewords than rows": (
        {},
        ["--synthetic", "10x3", "-n", "11", "--queries", "2"],
        "needs more than the 11 codewords",
    ),
    "--probe above N": ({}, ["--synthetic", "100x3", "-n", "4", "--probe", "5"], "probe must be"),
    "negative λ": ({}, ["--synthetic", "100x3", "-n", "4", "--lambda", "-1"], "lambda must be"),
    "NaN λ": ({}, ["--synthetic", "100x3", "-n", "4", "--lambda", "nan"], "lambda must be"),
    "negative spread": ({}, ["--synthetic", "100x3", "-n", "4", "--spread", "-2"], "spread must be"),
    "--codewords 1": ({}, ["--synthetic", "100x3", "-n", "1"], "at least 2"),
    "--steps 0": ({}, ["--synthetic", "100x3", "-n", "4", "-k", "0"], "at least 1"),
    "--out unknown suffix": ({}, ["--synthetic", "100x3", "-n", "4", "-o", "c.csv"], "must end in"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_and_status_2(name, tmp_path, monkeypatch, capsys):
    files, argv, phrase = BAD[name]
    for rel, content in files.items():
        if isinstance(content, bytes):
            (tmp_path / rel).write_bytes(content)
        else:
            np.save(tmp_path / rel, content)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["codebook", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spherecode: error: "), captured.err
    assert phrase in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
