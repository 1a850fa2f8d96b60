"""benchmarks/searched_tables.py: a sweep's rows checked against their codes, the one-point-fewer rule, the
package table and codes it writes."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from spherecode.host.cli import main
from spherecode.host.codefile import write_code
from spherecode.host.metrics import summary
from spherecode.host.sweeps.table import code_name, read_rows

ROOT = Path(__file__).resolve().parents[2]


def run_script(*args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "searched_tables.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_rows_are_checked_derived_and_written(tmp_path, capsys):
    table, codes = tmp_path / "d4.tsv", tmp_path / "codes"
    argv = ["table", "-d", "4", "-n", "7..8", "--search", "20", "-o", str(table), "--codes", str(codes), "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    rows = read_rows(table)
    assert [round(r["min_angle_deg"], 6) for r in rows] == [90.0, 90.0]  # subsets of the cross-polytope
    # N = 7 made worse, row and code together: N = 8 less one point must replace it
    worse = np.random.default_rng(0).normal(size=(7, 4))
    worse /= np.linalg.norm(worse, axis=1, keepdims=True)
    write_code(codes / code_name(rows[0]), worse)
    s = summary(worse)
    lines = table.read_text().splitlines()
    fields = lines[1].split("\t")
    fields[7], fields[8] = repr(s["min_angle_deg"]), repr(s["min_distance"])
    table.write_text("\n".join([lines[0], "\t".join(fields), lines[2]]) + "\n")
    out = tmp_path / "data" / "searched_d45.tsv"
    out.parent.mkdir()
    r = run_script("--sweep", table, codes, "--write", out, "--report", tmp_path / "r.md", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "the N = 8 code less point" in r.stdout and "D = 4, N = 7 (subset of cross-polytope): 90" in r.stdout
    data = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")][1:]
    assert [(d[0], d[1], d[2][:6]) for d in data] == [("4", "7", "90.000"), ("4", "8", "90.000")]
    assert data[0][5].startswith("spherecode table -d 4 -n 7..8 --search 20 -m vrf --seed 0: the N = 8 code less")
    assert all(d[6].startswith("this project's search") for d in data)
    for d in data:
        code = np.loadtxt(out.parent / "searched" / f"d4-n{d[1]}.txt").reshape(-1, 4)
        assert abs(summary(code)["min_angle_deg"] - float(d[2])) < 1e-8
    assert (tmp_path / "r.md").read_text().startswith("# The project's own codes")
    (codes / code_name(rows[1])).unlink()
    r = run_script("--sweep", table, codes, cwd=tmp_path)
    assert r.returncode != 0 and "missing: the sweep must run with --codes from its start" in r.stderr
