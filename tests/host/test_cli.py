import json
import subprocess
import sys

import numpy as np
import pytest

from spherecode.host.cli import main
from spherecode.host.codefile import read_code, write_code

from .codes import icosahedron

RUN_FIELDS = {
    "backend",
    "dim",
    "points",
    "iterations",
    "starts",
    "seed",
    "min_distance",
    "min_angle_deg",
    "best_known_angle_deg",
    "seconds",
}


def run_json(capsys, *argv):
    assert main(list(argv) + ["--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_run_json_fields_and_icosahedron(capsys, tmp_path):
    out = tmp_path / "ico.json"
    r = run_json(capsys, "run", "--dim", "3", "--points", "12", "--iters", "1000", "--out", str(out))
    assert RUN_FIELDS <= r.keys()
    assert (r["backend"], r["dim"], r["points"], r["iterations"], r["starts"], r["seed"]) == (
        "reference",
        3,
        12,
        1000,
        1,
        0,
    )
    assert r["min_angle_deg"] >= 63.434
    assert r["best_known_angle_deg"] == pytest.approx(63.434948823)
    v = read_code(out, 3)
    assert v.shape == (12, 3)
    assert np.sqrt(min(np.sum((a - b) ** 2) for i, a in enumerate(v) for b in v[:i])) == pytest.approx(
        r["min_distance"]
    )


def test_run_is_reproducible_from_the_seed(capsys, tmp_path):
    files = []
    for k in range(2):
        files.append(tmp_path / f"c{k}.txt")
        main(["run", "-d", "3", "-n", "9", "-k", "40", "-s", "2", "--seed", "5", "-o", str(files[-1])])
    assert files[0].read_bytes() == files[1].read_bytes()
    assert "best of 2 start(s)" in capsys.readouterr().out


def test_human_summary(capsys):
    assert main(["run", "--dim", "3", "--points", "6", "--iters", "50"]) == 0
    text = capsys.readouterr().out
    assert "min angle" in text and "best known 90.000000°" in text


def test_unknown_best_known_is_null(capsys):
    r = run_json(capsys, "run", "--dim", "7", "--points", "3", "--iters", "5")
    assert r["best_known_angle_deg"] is None


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


def test_bench_json(capsys):
    r = run_json(capsys, "bench", "--backend", "reference", "--dim", "3", "--points", "64", "--repeats", "3")
    assert {"ms_per_iteration", "pairs_per_second"} <= r.keys() and RUN_FIELDS <= r.keys()
    assert r["ms_per_iteration"] > 0
    assert r["pairs_per_second"] == pytest.approx(64 * 63 / (r["ms_per_iteration"] / 1e3))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--dim", "3", "--points", "1"], "--points must be at least 2"),
        (["run", "--dim", "1", "--points", "5"], "--dim must be at least 2"),
        (["run", "--dim", "2.5", "--points", "5"], "--dim must be an integer"),
        (["run", "--dim", "3", "--points", "ten"], "--points must be an integer"),
        (["run", "--dim", "3", "--points", "5", "--iters", "0"], "--iters must be at least 1"),
        (["run", "--dim", "3", "--points", "5", "--iters", "-3"], "--iters must be at least 1"),
        (["run", "--dim", "3", "--points", "5", "--starts", "0"], "--starts must be at least 1"),
        (["run", "--dim", "3", "--points", "5", "--backend", "gpu"], "invalid choice"),
        (["run", "--dim", "3", "--points", "5", "--out", "x.csv"], "--out must end in"),
        (["run", "--dim", "3", "--points", "5", "--out", "/no/such/dir/x.txt"], "does not exist"),
        (["run", "--points", "5"], "required: --dim"),
        (["bench", "--dim", "3", "--points", "5", "--beta", "nan"], "--beta must be a positive number"),
        (["verify", "/no/such/file.txt", "--dim", "3"], "no such file"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("spherecode: error:")


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


def test_installed_entry_point_has_no_traceback(tmp_path):
    exe = [sys.executable, "-m", "spherecode"]
    bad = subprocess.run(exe + ["run", "--dim", "3", "--points", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    good = subprocess.run(
        exe + ["run", "--dim", "3", "--points", "4", "--iters", "200", "--json"], capture_output=True, text=True
    )
    assert good.returncode == 0 and json.loads(good.stdout)["min_angle_deg"] == pytest.approx(109.4712206, abs=1e-3)


def test_model_backend_json(capsys, tmp_path):
    r = run_json(
        capsys,
        "run",
        "--dim",
        "3",
        "--points",
        "6",
        "--iters",
        "200",
        "--backend",
        "model",
        "--format",
        "Q2.20",
        "--lanes",
        "2",
    )
    assert (r["backend"], r["format"], r["lanes"]) == ("model", "Q2.20", 2)
    assert r["min_angle_deg"] > 80


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "Q3"], "not a fixed-point format"),
        (["--format", "UQ3.44"], "signed"),
        (["--lanes", "17"], "lanes must be in 1..16, not 17"),
        (["--dim", "9"], "D ≤ 7"),
    ],
)
def test_hardware_options_refused(capsys, argv, message):
    base = ["run", "--dim", "3", "--points", "5", "--backend", "model"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_failed_write_after_the_run_keeps_the_old_file_and_prints_the_result(tmp_path):
    """A file-size limit (like a full disk) stops the write: the old file stays whole, the result is printed,
    one line on stderr, status 2, no partial file."""
    import resource

    out = tmp_path / "c.json"
    out.write_text("old")
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # noqa: E731
    r = subprocess.run(
        [sys.executable, "-m", "spherecode", "run", "-d", "3", "-n", "200", "-k", "2", "-o", str(out), "--json"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and f"cannot write {out}" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["points"] == 200
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["c.json"]


def test_progress_advances_within_iterations_and_lands_on_whole_ones():
    from spherecode.host.cli.common import Iterations

    class Bar:
        n = 0.0

        def update(self, k):
            assert k >= 0
            self.n += k

    bar = Bar()
    steps = Iterations(bar, rows=10)
    for i in range(3):
        steps.on_rows(4)
        assert bar.n == pytest.approx(i + 0.4)
        for k in (4, 4):  # more rows reported than an iteration has: the bar waits for its end
            steps.on_rows(k)
        assert bar.n == pytest.approx(i + 0.9)
        steps.on_iteration()
    assert bar.n == pytest.approx(3.0)


@pytest.mark.parametrize(
    "argv, unit",
    [
        (["verify", "code.npy", "-d", "3"], r"\d+/6000 .*row/s"),
        (["run", "-d", "3", "-n", "3000", "-k", "2"], r"\d\.\d/2 \["),
        (["bench", "-d", "3", "-n", "3000", "-r", "2"], r"\d\.\d/3 \["),
    ],
)
def test_progress_bars_on_a_terminal(argv, unit, tmp_path, monkeypatch):
    """A long run, bench or verify shows a bar on a terminal (how it advances within iterations: above)."""
    import io
    import re

    import spherecode.host.cli.common as cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    g = np.random.default_rng(0).normal(size=(3000, 3))
    np.save(tmp_path / "code.npy", g / np.linalg.norm(g, axis=1, keepdims=True))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert main(argv) == 0
    assert re.search(unit, sys.stderr.getvalue())


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


@pytest.mark.parametrize(
    "argv, phrase",
    [
        (["table", "-d", "3", "-n", "5..4", "-o", "t.tsv"], "2 ≤ A ≤ B"),
        (["table", "-d", "3", "-n", "4..5", "-o", "t.txt"], ".tsv or .json"),
        (["run", "-d", "3", "-n", "5", "-m", "cg", "-b", "model"], "float64 only"),
    ],
)
def test_table_and_method_bad_input(argv, phrase, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and phrase in err[0]


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


def test_model_loosens_on_chip_by_default(capsys):
    from spherecode.host.backends.hardware import run_config
    from spherecode.host.model.chip_loosening import iteration_cycles

    chip = run_json(capsys, "run", "-d", "3", "-n", "9", "-k", "30", "-b", "model")
    host = run_json(capsys, "run", "-d", "3", "-n", "9", "-k", "30", "-b", "model", "--loosening", "host")
    config = run_config(__import__("argparse").Namespace(points=9, dim=3, format=None, lanes=None))
    assert (
        chip["loosening"] == "chip"
        and host["loosening"] == "host"
        and "loosening" not in run_json(capsys, "run", "-d", "3", "-n", "9", "-k", "3")
    )  # float64 reports no fixed-point loosening
    assert chip["cycles_per_loosening_iteration"] == iteration_cycles(config, 9, 3)
    assert host["cycles_per_loosening_iteration"] == 2 * config.cycles(9, 3)
    from spherecode.boards import DEFAULT, get_board
    from spherecode.host.model.chip_loosening import run_cycles

    assert chip["chip_run_model"]["cycles"] == run_cycles(get_board(DEFAULT).core, 9, 3, 30)  # the board's core
    assert abs(chip["min_angle_deg"] - host["min_angle_deg"]) < 1e-6
    assert main(["run", "-d", "3", "-n", "9", "-k", "30", "-b", "model"]) == 0
    assert "loosening on chip" in capsys.readouterr().out
