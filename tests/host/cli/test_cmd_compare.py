"""``spherecode compare`` from its command line: bad input is one line and status 2, and no report is left
(the report itself: tests/host/reports)."""

import pytest

from spherecode.host.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--points", "3"], "--points must be in 4 … 16384, got 3"),
        (["--dims", "1"], "--dims must be in 2"),
        (["--quality-dims", "8"], "--quality-dims must be in 2 … 7"),
        (["--board", "nosuch"], "unknown board 'nosuch'"),
        (["--starts", "0"], "--starts must be at least 1"),
        (["--run-iters", "0"], "--run-iters must be at least 1"),
        (["--iters", "40000"], "iters must be an integer in 1 … 32767"),
        (["--cpu-watts", "-1"], "--cpu-watts must be a non-negative number"),
        (["--power", "{missing}"], "--power"),
        (["--power", "{bad}"], "not JSON"),
        (["--power", "{unknown}"], "unknown power constant"),
        (["--out", "{file}"], "exists and is not a folder"),
        (["--out", "{nodir}"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, message):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "unknown.json").write_text('{"gpu": 1}')
    (tmp_path / "file").write_text("")
    subs = {
        "{missing}": str(tmp_path / "missing.json"),
        "{bad}": str(tmp_path / "bad.json"),
        "{unknown}": str(tmp_path / "unknown.json"),
        "{file}": str(tmp_path / "file"),
        "{nodir}": str(tmp_path / "no" / "report"),
    }
    argv = [subs.get(a, a) for a in argv]
    full = ["compare", "--quick", *argv] + ([] if "--out" in argv else ["--out", str(tmp_path / "r")])
    assert main(full) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spherecode: error:") and message in err
    assert not (tmp_path / "r").exists()
