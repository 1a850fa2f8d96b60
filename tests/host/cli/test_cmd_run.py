"""``spherecode run``: its JSON and text, the code it writes, the hardware backends' options and on-chip
loosening, and a write that fails after the run."""

import json
import subprocess
import sys

import numpy as np
import pytest

from spherecode.host.cli import main
from spherecode.host.codefile import read_code

from .output import RUN_FIELDS, run_json


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
