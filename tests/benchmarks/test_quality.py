"""benchmarks/quality.py: the quality target's table and summary, at a size that runs in seconds."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "quality.py"


def run(*args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_rows_per_seed_and_summary(tmp_path):
    out = tmp_path / "q.json"
    r = run(
        "--points",
        "6",
        "8",
        "--starts",
        "2",
        "--iters",
        "20",
        "--seeds",
        "0",
        "1",
        "--formats",
        "Q3.44",
        "Q2.20",
        "--jobs",
        "1",
        "--save",
        str(out),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [tuple(line.split(" | ")[:2]) for line in rows] == [("| 6", "0"), ("| 8", "0"), ("| 6", "1"), ("| 8", "1")]
    saved = json.loads(out.read_text())
    assert [(row["n"], row["seed"]) for row in saved["rows"]] == [(6, 0), (8, 0), (6, 1), (8, 1)]
    assert not (tmp_path / "q.json.part").exists()
    # The summary is computed from the rows: check it against the saved angles.
    deltas = [row["model"]["Q2.20"] - row["reference"] for row in saved["rows"]]
    line = next(l for l in r.stdout.splitlines() if l.startswith("Q2.20: "))
    assert line == (
        f"Q2.20: 4 (N, seed), mean Δ {sum(deltas) / 4:+.6f}°, "
        f"mean |Δ| {sum(map(abs, deltas)) / 4:.6f}°, lowest Δ {min(deltas):+.6f}°"
    )
    # Two different seeds start from different vectors.
    assert saved["rows"][0]["reference"] != saved["rows"][2]["reference"]


def test_bad_jobs_is_one_line(tmp_path):
    r = run("--jobs", "0", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].endswith("--jobs must be at least 1, not 0")
