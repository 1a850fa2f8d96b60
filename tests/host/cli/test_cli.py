"""The command line's entry (:func:`~spherecode.host.cli.main`): bad input is one line and status 2, also from
the installed ``python -m spherecode``, with no traceback. The same rule over every command's bad-input
table: tests/host/test_bad_input.py."""

import json
import subprocess
import sys

import pytest

from spherecode.host.cli import main


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


def test_installed_entry_point_has_no_traceback(tmp_path):
    exe = [sys.executable, "-m", "spherecode"]
    bad = subprocess.run(exe + ["run", "--dim", "3", "--points", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    good = subprocess.run(
        exe + ["run", "--dim", "3", "--points", "4", "--iters", "200", "--json"], capture_output=True, text=True
    )
    assert good.returncode == 0 and json.loads(good.stdout)["min_angle_deg"] == pytest.approx(109.4712206, abs=1e-3)
