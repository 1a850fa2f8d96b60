"""``spherecode table``: a table that resumes, the best code per N, and its bad input."""

import pytest

from spherecode.host.cli import main

from .output import run_json


def test_table_resumes_and_prints_the_best_per_n(tmp_path, capsys):
    out = tmp_path / "t.tsv"
    r = run_json(capsys, "table", "-d", "3", "-n", "4..5", "-s", "2", "-k", "60", "-o", str(out), "--workers", "2")
    assert [b["points"] for b in r["best"]] == [4, 5] and r["rows"] == 4
    first = out.read_text().splitlines()
    r = run_json(capsys, "table", "-d", "3", "-n", "4..6", "-s", "2", "-k", "60", "-o", str(out), "--workers", "2")
    assert r["rows"] == 6 and [b["points"] for b in r["best"]] == [4, 5, 6]
    lines = out.read_text().splitlines()
    assert set(first) <= set(lines)  # the finished rows were kept, not redone (their timings are unchanged)
    assert r["best"][0]["min_angle_deg"] == pytest.approx(109.4712206, abs=1e-3)


def test_table_codes_are_made_and_verify_reads_them(tmp_path, capsys):
    out, codes = tmp_path / "t.tsv", tmp_path / "new" / "codes"
    r = run_json(capsys, "table", "-d", "3", "-n", "4", "-s", "1", "-k", "60", "-o", str(out), "--codes", str(codes))
    (code,) = codes.iterdir()
    assert code.name == "d3-n4-vrf-k60-seed0-start0.txt"
    v = run_json(capsys, "verify", "-d", "3", str(code))
    assert v["min_angle_deg"] == pytest.approx(r["best"][0]["min_angle_deg"], abs=1e-9)


@pytest.mark.parametrize(
    "argv, phrase",
    [
        (["table", "-d", "3", "-n", "5..4", "-o", "t.tsv"], "2 ≤ A ≤ B"),
        (["table", "-d", "3", "-n", "4..5", "-o", "t.txt"], ".tsv or .json"),
        (["run", "-d", "3", "-n", "5", "-m", "cg", "-b", "model"], "float64 only"),
        (["table", "-d", "3", "-n", "4", "-o", "t.tsv", "--codes", "f/codes"], "cannot make the codes folder f/codes"),
    ],
)
def test_table_and_method_bad_input(argv, phrase, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("a file, not a folder")
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and phrase in err[0]
