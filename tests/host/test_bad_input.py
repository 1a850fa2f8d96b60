"""The bad-input table: every case through the CLI gives one line on stderr, exit status 2, no traceback.

Each row is a case an audit found giving a traceback, a hang or a silently wrong result; the row stays here
so that it stays fixed. Cases that need a simulator, a board or a signal live beside their subject
(tests/sim, tests/boards, tests/host/test_interrupts.py).
"""

import contextlib
import io
import json
import os

import numpy as np
import pytest

from spherecode.host.cli import main


def _npy_header(shape) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npz_as_npy(path):
    np.savez(path.with_suffix(".npz"), a=np.eye(3))
    path.with_suffix(".npz").rename(path)


#: name → (files to create: name → bytes, or a callable making it; argv; a phrase of the message)
CASES = {
    "empty npy": ({"c.npy": b""}, ["verify", "c.npy", "-d", "3"], "not a .npy array file"),
    "npz renamed npy": ({"c.npy": _npz_as_npy}, ["verify", "c.npy", "-d", "3"], "not a .npy array file"),
    "npy header claims a huge shape": (
        {"c.npy": _npy_header((10**12, 3)) + bytes(48)},
        ["verify", "c.npy", "-d", "3"],
        "the header promises",
    ),
    "json nested thousands deep": (
        {"c.json": b"[" * 100000 + b"]" * 100000},
        ["verify", "c.json", "-d", "3"],
        "nested too deeply",
    ),
    "json integer above 1e308": (
        {"c.json": b"[[1" + b"0" * 400 + b", 0, 0], [0, 1, 0]]"},
        ["verify", "c.json", "-d", "3"],
        "too large for float64",
    ),
    "json number above 1e308": (
        {"c.json": b"[[1e309, 0, 0], [0, 1, 0]]"},
        ["verify", "c.json", "-d", "3"],
        "non-finite",
    ),
    "finite values near 1e300": (
        {"c.json": b"[[1e300, 1e300, 1e300], [0, 1, 0]]"},
        ["verify", "c.json", "-d", "3"],
        "length beyond float64",
    ),
    "zero vector": ({"c.txt": b"0\n0\n0\n0\n1\n0\n1\n0\n0\n"}, ["verify", "c.txt", "-d", "3"], "length 0"),
    "missing file": ({}, ["verify", "nope.txt", "-d", "3"], "no such file"),
    "polish a zero vector": ({"c.txt": b"0\n0\n0\n0\n1\n0\n1\n0\n0\n"}, ["polish", "c.txt", "-d", "3"], "length 0"),
    "table with an unknown method": (
        {},
        ["table", "-d", "3", "-n", "4..5", "-m", "annealing", "-o", "t.tsv"],
        "invalid choice",
    ),
    "wrong dimension": ({"c.json": b"[[1, 0], [0, 1]]"}, ["verify", "c.json", "-d", "3"], "--dim is 3"),
    "unknown suffix": ({"c.csv": b"1"}, ["verify", "c.csv", "-d", "3"], "unknown code file type"),
    "--dim 10^9": ({}, ["run", "-d", "1000000000", "-n", "2"], "GiB of memory"),
    "search --time 0": ({}, ["search", "-d", "3", "-n", "6", "--time", "0"], "positive number"),
    "search --time x": ({}, ["search", "-d", "3", "-n", "6", "--time", "x"], "must be a number"),
    "search --method rrr": ({}, ["search", "-d", "3", "-n", "6", "-m", "rrr"], "invalid choice"),
    "search --target above 180°": ({}, ["search", "-d", "3", "-n", "6", "--target", "200"], r"\(0, 180\]"),
    "search --jobs 0": ({}, ["search", "-d", "3", "-n", "6", "-j", "0"], "at least 1"),
    "search --points 1": ({}, ["search", "-d", "3", "-n", "1"], "at least 2"),
    "search --out in a missing folder": ({}, ["search", "-d", "3", "-n", "6", "-o", "no/c.txt"], "no"),
    "table --search with rrr": (
        {},
        ["table", "-d", "3", "-n", "5", "--search", "1", "-m", "rrr", "-o", "t.tsv"],
        "method cg or vrf",
    ),
    "table --search 0": ({}, ["table", "-d", "3", "-n", "5", "--search", "0", "-o", "t.tsv"], "positive number"),
    "search --points 10^12": ({}, ["search", "-d", "3", "-n", "1000000000000"], "GiB of memory"),
    "--points 10^12": ({}, ["run", "-d", "3", "-n", "1000000000000"], "GiB of memory"),
    "bench --points 10^12": ({}, ["bench", "-d", "3", "-n", "1000000000000"], "GiB of memory"),
    "--points 1": ({}, ["run", "-d", "3", "-n", "1"], "at least 2"),
    "--dim x": ({}, ["run", "-d", "x", "-n", "5"], "must be an integer"),
    "--iters 0": ({}, ["run", "-d", "3", "-n", "5", "-k", "0"], "at least 1"),
    "unknown backend": ({}, ["run", "-d", "3", "-n", "5", "-b", "gpu"], "invalid choice"),
    "--format below the units' fraction bits": (
        {},
        ["run", "-d", "3", "-n", "5", "-b", "model", "--format", "Q2.16"],
        "17 ≤ f ≤ 48",
    ),
    "--iters past the hardware's β": (
        {},
        ["run", "-d", "3", "-n", "5", "-b", "model", "-k", "40000"],
        "at most 32767 iterations",
    ),
    "bench β below the hardware's": (
        {},
        ["bench", "-d", "3", "-n", "5", "-b", "model", "--beta", "1"],
        "2 ≤ β ≤ 131072",
    ),
    "bench β above the hardware's": (
        {},
        ["bench", "-d", "3", "-n", "5", "-b", "model", "--beta", "3e5"],
        "2 ≤ β ≤ 131072",
    ),
    "--dim above the datapath's": ({}, ["run", "-d", "8", "-n", "5", "-b", "model"], "D ≤ 7"),
    "--out a folder": ({"d.txt/x": b""}, ["run", "-d", "3", "-n", "5", "-k", "2", "-o", "d.txt"], "is a directory"),
    "--out in a missing folder": ({}, ["run", "-d", "3", "-n", "5", "-k", "2", "-o", "no/c.txt"], "does not exist"),
    "--out unknown suffix": ({}, ["run", "-d", "3", "-n", "5", "-k", "2", "-o", "c.csv"], "must end in"),
    "table --out where no file can be created": (
        {},
        ["table", "-d", "3", "-n", "4", "-o", "/proc/spherecode.tsv"],
        "--out /proc/spherecode.tsv: cannot write: No such file",
    ),
    "build --out where no folder can be created": (
        {},
        ["build", "--out", "/proc/spherecode-build"],
        "cannot create the build folder /proc/spherecode-build: No such file",
    ),
    "build --out onto a file": ({"f": b"x"}, ["build", "--out", "f"], "not a folder"),
    "reference with --loosening chip": (
        {},
        ["run", "-d", "3", "-n", "5", "--loosening", "chip"],
        "--loosening chip is not offered by backend reference",
    ),
    "--vs reference with --loosening chip": (
        {},
        ["run", "-d", "3", "-n", "5", "-b", "model", "--vs", "reference", "--loosening", "chip"],
        "not offered by backend reference",
    ),
    "unknown --loosening": (
        {},
        ["run", "-d", "3", "-n", "5", "-b", "model", "--loosening", "fast"],
        "invalid choice: 'fast'",
    ),
    "board without --port": ({}, ["run", "-d", "3", "-n", "5", "-b", "board"], "needs --port"),
    "bench on a missing port": (
        {},
        ["bench", "-d", "3", "-n", "5", "-b", "board", "--port", "no-such-tty"],
        "cannot open serial port",
    ),
    "--baud beyond a C int": (
        {},
        ["bench", "-d", "3", "-n", "5", "-b", "board", "--port", "p", "--baud", "99999999999"],
        "--baud must be in 300 … 2147483647",
    ),
    "verify a bool .npy": (
        {"c.npy": lambda p: np.save(p, np.eye(3, dtype=bool))},
        ["verify", "c.npy", "-d", "3"],
        "array of bool",
    ),
    "verify JSON strings": (
        {"c.json": b'[["1", "0", "0"], ["0", "1", "0"]]'},
        ["verify", "c.json", "-d", "3"],
        '"1" is not a number',
    ),
    "verify JSON booleans": (
        {"c.json": b"[[true, 0, 0], [0, 1, 0]]"},
        ["verify", "c.json", "-d", "3"],
        "true is not a number",
    ),
    "polish coincident points": (
        {"c.txt": b"1\n0\n0\n1\n0\n0\n0\n1\n0\n"},
        ["polish", "c.txt", "-d", "3"],
        "two points coincide",
    ),
    "--format with a float64 method": (
        {},
        ["run", "-d", "3", "-n", "5", "-m", "cg", "--format", "Q3.30"],
        "--format applies to the fixed-point backends",
    ),
    "--lanes with the float64 backend": (
        {},
        ["bench", "-d", "3", "-n", "5", "--lanes", "2"],
        "--lanes applies to the fixed-point backends",
    ),
    "emulate --divisor 10^20": (
        {},
        ["emulate", "--divisor", "100000000000000000000"],
        "--divisor must be in 4 … 65536",
    ),
    "table --starts 10^10": (
        {},
        ["table", "-d", "3", "-n", "4", "-s", "10000000000", "-o", "t.tsv"],
        "10000000000 tasks; a table has at most",
    ),
    "table --points 2..10^12": (
        {},
        ["table", "-d", "3", "-n", "2..1000000000000", "-o", "t.tsv"],
        "tasks; a table has at most",
    ),
    "table --points 10^11": ({}, ["table", "-d", "3", "-n", "100000000000", "-s", "1", "-o", "t.tsv"], "GiB of memory"),
    "table --out a FIFO": (
        {"t.tsv": os.mkfifo},
        ["table", "-d", "3", "-n", "4", "-o", "t.tsv"],
        "--out t.tsv: not a regular file",
    ),
    "table --out a link to /dev/zero": (
        {"t.tsv": lambda p: os.symlink("/dev/zero", p)},
        ["table", "-d", "3", "-n", "4", "-o", "t.tsv"],
        "not a regular file",
    ),
    "table resumes a JSON nested 6000 deep": (
        {"t.json": b"[" * 6000 + b"]" * 6000},
        ["table", "-d", "3", "-n", "4", "-o", "t.json"],
        "nested too deeply",
    ),
    "table resumes a JSON with a 400-digit number": (
        {"t.json": b'[{"dim": 1' + b"0" * 400 + b"}]"},
        ["table", "-d", "3", "-n", "4", "-o", "t.json"],
        "too large for float64",
    ),
    "table --scheduler not an address": (
        {},
        ["table", "-d", "3", "-n", "4", "-o", "t.tsv", "--scheduler", "foo://bar"],
        "expected tcp://HOST:PORT",
    ),
    "compare --power nested 6000 deep": (
        {"p.json": b"[" * 6000 + b"]" * 6000},
        ["compare", "--power", "p.json", "--out", "rep"],
        "nested too deeply",
    ),
    "compare --power with a 400-digit number": (
        {"p.json": b'{"cpu_watts_per_core": 1' + b"0" * 400 + b"}"},
        ["compare", "--power", "p.json", "--out", "rep"],
        "too large for float64",
    ),
    "compare --power a FIFO": (
        {"p.json": os.mkfifo},
        ["compare", "--power", "p.json", "--out", "rep"],
        "not a regular file",
    ),
    "compare --quality-points 10^9": (
        {},
        ["compare", "--quality-points", "1000000000", "--out", "rep"],
        "--quality-points must be in 2 … 16384",
    ),
    "compare --out where no folder can be created": (
        {},
        ["compare", "--quick", "--out", "/proc/spherecode-rep"],
        "--out /proc/spherecode-rep: cannot write",
    ),
    "codebook with fewer distinct rows than codewords": (
        {"d.npy": lambda p: np.save(p, np.tile(np.eye(4), (10, 1)))},
        ["codebook", "--data", "d.npy", "-n", "8", "--queries", "2", "--steps", "1"],
        "4 distinct rows",
    ),
    "flash a missing bitstream": ({}, ["flash", "--bitstream", "nope.bit"], "no bitstream at nope.bit"),
    "emulate an unknown board": ({}, ["emulate", "--board", "nope"], "unknown board 'nope'"),
    "build an unknown board": ({}, ["build", "--board", "nope"], "unknown board 'nope'"),
    "codebook --clusters 10^12": (
        {},
        ["codebook", "--synthetic", "1000x8", "-n", "4", "--clusters", "1000000000000"],
        "clusters must be at most the 2000 rows",
    ),
    "codebook --spread 1e308": (
        {},
        ["codebook", "--synthetic", "100x8", "-n", "4", "--spread", "1e308"],
        "--spread must be in 0 … 1000",
    ),
    "codebook --lambda 1e308": (
        {},
        ["codebook", "--synthetic", "100x8", "-n", "4", "--lambda", "1e308"],
        "--lambda must be in 0 … 1e\\+06",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_and_status_2(name, tmp_path, monkeypatch, capsys):
    files, argv, phrase = CASES[name]
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spherecode: error: "), captured.err
    assert phrase in lines[0] or __import__("re").search(phrase, lines[0]), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, nothing left behind


def test_a_serial_port_that_does_not_answer(capsys):
    """A pty nobody serves: IDENTIFY times out, one line."""
    master, slave = os.openpty()
    try:
        argv = [
            "bench",
            "-d",
            "3",
            "-n",
            "5",
            "-b",
            "board",
            "--port",
            os.ttyname(slave),
            "--timeout",
            "0.05",
            "--retries",
            "0",
        ]
        assert main(argv) == 2
    finally:
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "no answer" in err[0]


def test_tiny_beta_gives_finite_json(capsys):
    """β = 1e-300 used to give NaN coordinates and invalid JSON (the step δ/2β overflowed)."""
    assert main(["bench", "-d", "3", "-n", "10", "-r", "2", "--beta", "1e-300", "--json"]) == 0
    r = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert 0 < r["min_angle_deg"] < 180 and np.isfinite(r["ms_per_iteration"])


def test_narrow_format_start_points_are_redrawn_distinct(capsys):
    """D = 2 in Q2.17: at N = 4096 random points coincide after rounding; they are redrawn, with a word."""
    assert main(["run", "-d", "2", "-n", "4096", "-k", "1", "-b", "model", "--format", "Q2.17", "--json"]) == 0
    captured = capsys.readouterr()
    assert "coincided after rounding to Q2.17 and were redrawn" in captured.err
    assert json.loads(captured.out)["min_distance"] > 0


@pytest.mark.parametrize("argv", [["run", "-d", "3", "-n", "5", "-k", "1", "-b", "sim"], ["emulate"]])
def test_an_unwritable_simulator_cache_is_one_line(argv, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path / "file" / "cache"))
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("spherecode: error: ") and "cannot create the simulator cache" in err[-1]
    assert not any(line.startswith("Traceback") for line in err)


@pytest.mark.parametrize("answer", [b"\xff" * 64 + b"HTTP/1.1 400 Bad Request\r\n" * 8, None])
def test_table_scheduler_that_is_not_dask(answer, tmp_path, monkeypatch, capfd):
    """A listener that is not a Dask scheduler (garbage, or silence): one line within the connect timeout,
    no Client left to print a traceback at exit."""
    import socket
    import threading

    from spherecode.host.sweeps import table

    monkeypatch.setattr(table, "CONNECT_TIMEOUT", 0.5)
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                accepted.append(conn)
                if answer:
                    conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.chdir(tmp_path)
    try:
        argv = [
            "table",
            "-d",
            "3",
            "-n",
            "4",
            "-s",
            "1",
            "-k",
            "2",
            "-o",
            "t.tsv",
            "--scheduler",
            f"tcp://127.0.0.1:{server.getsockname()[1]}",
        ]
        assert main(argv) == 2
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0], err
    assert "not a Dask scheduler" in err[0] or "no answer" in err[0], err
    assert accepted  # it did connect


def test_a_long_run_off_a_terminal_says_how_long(monkeypatch, capsys):
    """Off a terminal (no bar), after ESTIMATE_AFTER seconds a run that has at least LONG_RUN seconds to go
    says so in one line; a short one says nothing."""
    from spherecode.host.cli import common as cli

    clock = iter([0.0, 1.0, cli.ESTIMATE_AFTER, cli.ESTIMATE_AFTER + 1])
    monkeypatch.setattr(cli.time, "perf_counter", lambda: next(clock))
    bar = type("Bar", (), {"disable": True, "update": lambda self, k: None})()
    steps = cli.Iterations(bar, 100, total=1000)
    steps.on_rows(50)  # 1 s: too early to say
    steps.on_rows(49)  # 0.99 of an iteration in ESTIMATE_AFTER s: about 1000 × ESTIMATE_AFTER to go
    steps.on_iteration()  # said once only
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("spherecode: note: about ") and " to go (" in err[0], err
    clock = iter([0.0, cli.ESTIMATE_AFTER])
    quick = cli.Iterations(bar, 100, total=2)
    quick.on_iteration()
    assert capsys.readouterr().err == ""
