"""Tables on Dask: rows as in-process starts, resuming, refused files and schedulers, nothing left behind.

Each sweep starts a LocalCluster (about 1.5 s here), so the tests use four in all.
"""

import json
import multiprocessing.spawn
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spherecode.host.sweeps import table
from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import run_start
from spherecode.host.codefile import read_code
from spherecode.host.sweeps.table import COLUMNS, best_rows, code_name, read_rows, sweep, table_tasks

from ...processes import gone

TASKS = table_tasks(3, range(4, 8), 2, 30, 0)  # 8 tasks of about 10 ms


def _workers(pid: int = os.getpid()) -> set[int]:
    """The children of ``pid`` but the interpreter's lifelong multiprocessing resource tracker."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid
                and b"resource_tracker" not in (entry / "cmdline").read_bytes()
            ):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def test_sweep_resumes_and_matches_in_process_starts(tmp_path):
    out = tmp_path / "t.tsv"
    before = _workers()
    first = sweep(TASKS[:3], out, workers=2, progress=False)
    assert [(r["points"], r["start"]) for r in first] == [(4, 0), (4, 1), (5, 0)]

    class Stop(KeyboardInterrupt):
        pass

    def interrupt(row):  # Ctrl-C once the first new row is in the file
        raise Stop

    with pytest.raises(Stop):
        sweep(TASKS, out, workers=2, progress=False, on_row=interrupt)
    assert gone(_workers() - before, 5.0)  # the cluster's workers ended with the interrupt
    kept = read_rows(out)
    assert len(kept) >= 4 and all(r in kept for r in first)

    new = []
    rows = sweep(TASKS, out, workers=2, progress=False, on_row=new.append)
    assert len(new) == len(TASKS) - len(kept)  # only the missing ones ran
    assert all(r in rows for r in kept)  # the rows kept are as they were (their seconds too)
    assert [(r["points"], r["start"]) for r in rows] == [(t.points, t.index) for t in TASKS]
    assert read_rows(out) == rows  # the file, sorted, reads back bit-identical
    assert out.read_text().splitlines()[0].split("\t") == list(COLUMNS)
    assert gone(_workers() - before, 5.0)
    assert os.fsdecode(multiprocessing.spawn.get_executable()) == sys.executable  # restored

    for row in best_rows(rows):  # the same starts in this process
        results = [run_start(t) for t in TASKS if t.points == row["points"]]
        best = max(results, key=lambda r: (r.min_squared_distance, -r.index))
        assert (row["start"], row["min_distance"]) == (best.index, summary(best.vectors)["min_distance"])
        assert row["gap_deg"] == row["best_known_angle_deg"] - row["min_angle_deg"]

    assert sweep(TASKS, out, scheduler="tcp://127.0.0.1:1") == rows  # nothing to run: no cluster is reached


def test_ctrl_c_stops_the_cluster_promptly_and_keeps_the_rows(tmp_path):
    """Ctrl-C to the process group while a long start runs: exit within a second or two, no process left,
    the rows already written (a valid JSON file) kept, no temporary file left, nothing written to HOME."""
    out = tmp_path / "t.json"
    script = textwrap.dedent(f"""
        import signal
        import sys
        from spherecode.host.sweeps.table import sweep, table_tasks
        if __name__ == "__main__":
            # Ctrl-C as a terminal's Python has it, also where the tests run as a background job (which
            # starts with SIGINT ignored, and a Python started so keeps ignoring it).
            signal.signal(signal.SIGINT, signal.default_int_handler)
            tasks = table_tasks(3, [4], 2, 30, 0) + table_tasks(3, [400], 1, 10**6, 0)
            try:
                sweep(tasks, {str(out)!r}, workers=2)
            except KeyboardInterrupt:
                raise SystemExit(130)
    """)
    (tmp_path / "sweep.py").write_text(script)
    (tmp_path / "home").mkdir()  # a fresh HOME; Dask's scratch folder in TMPDIR
    env = {**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "sweep.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and len(json.loads(out.read_text())) == 2):  # the N = 4 starts, beside N = 400
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the short starts did not finish"
            time.sleep(0.05)
        workers = _workers(process.pid)
        assert len(workers) == 2
        for pid in workers:  # SIGINT ignored from the start: no worker prints a KeyboardInterrupt, whenever
            ignored = next(
                line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigIgn:")
            )
            assert int(ignored.split()[1], 16) >> (signal.SIGINT - 1) & 1
        t0 = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert elapsed < 3.0  # measured 0.6 s (Dask alone would give a busy worker 4 s)
    assert gone(workers, 5.0)
    assert (stdout, stderr) == ("", "")  # no log, warning or bar off a terminal
    assert [(r["points"], r["start"]) for r in read_rows(out)] == [(4, 0), (4, 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "sweep.py", "t.json"]  # no temporary files
    assert not list((tmp_path / "home").iterdir())


@pytest.mark.parametrize(
    "suffix, text, match",
    [
        (".tsv", "dim\tpoints\n", "not a table of these columns"),
        (".tsv", None, "line 2 is damaged"),  # a row cut short
        (".tsv", "truncate", "no end of line"),
        (".tsv", "other", "other parameters"),
        (".tsv", "twice", "twice"),
        (".json", '[{"dim": 3', "not JSON"),
        (".json", "[1]", "row 1 is damaged"),
        (".json", "other", "other parameters"),
    ],
)
def test_bad_files_are_refused_before_anything_runs(tmp_path, suffix, text, match):
    out = tmp_path / f"t{suffix}"
    row = {
        "dim": 3,
        "points": 4,
        "method": "vrf",
        "polish": False,
        "iterations": 30,
        "seed": 0,
        "start": 0,
        "min_angle_deg": 100.0,
        "min_distance": 1.5,
        "best_known_angle_deg": None,
        "gap_deg": None,
        "seconds": 0.1,
        "search": 0.0,
    }
    good = table._tsv_line(row)
    header = "\t".join(COLUMNS) + "\n"
    if text is None:
        text = header + good[:20] + "\n"
    elif text == "truncate":
        text = header + good[:-1]
    elif text == "twice":
        text = header + good + good
    elif text == "other":
        other = {**row, "iterations": 31}
        text = header + table._tsv_line(other) if suffix == ".tsv" else json.dumps([other])
    out.write_text(text)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=match) as info:
        sweep(TASKS, out, scheduler="tcp://127.0.0.1:1")  # would fail, later, if it got that far
    assert "\n" not in str(info.value) and time.monotonic() - t0 < 1.0
    assert out.read_text() == text


def test_good_rows_read_back(tmp_path):
    rows = [
        {
            "dim": 3,
            "points": n,
            "method": "vrf",
            "polish": False,
            "iterations": 30,
            "seed": 0,
            "start": 0,
            "min_angle_deg": 0.1 + n,
            "min_distance": 1 / 3,
            "best_known_angle_deg": None if n == 5 else 1.0,
            "gap_deg": None,
            "seconds": 0.1,
            "search": 0.0,
        }
        for n in (5, 4)
    ]
    for suffix in (".tsv", ".json"):
        out = tmp_path / f"t{suffix}"
        table._rewrite(out, suffix, rows)
        assert read_rows(out) == rows
    assert [r["points"] for r in best_rows(rows)] == [4, 5]


def test_unreachable_scheduler_is_one_line_within_seconds(tmp_path, monkeypatch, capfd):
    with socket.socket() as s:  # a free port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(table, "CONNECT_TIMEOUT", 2.0)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}") as info:
        sweep(TASKS, tmp_path / "t.tsv", scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5.0
    assert "\n" not in str(info.value) and info.value.__suppress_context__
    assert not (tmp_path / "t.tsv").exists()
    assert capfd.readouterr() == ("", "")


def test_a_search_table_reaches_the_exact_codes_and_resumes(tmp_path):
    """table --search: a task per N is a whole iterated search (in the worker's own process); rows say so."""
    out, codes = tmp_path / "s.tsv", tmp_path / "codes"
    tasks = table_tasks(3, range(5, 7), 1, 0, 0, "cg", search=30.0)
    with pytest.raises(ValueError, match=f"cannot write codes to {codes}: not a writable folder"):
        sweep(tasks, out, scheduler="tcp://127.0.0.1:1", codes=codes)
    codes.mkdir()
    rows = sweep(tasks, out, workers=2, progress=False, codes=codes)
    assert sorted(p.name for p in codes.iterdir()) == [code_name(r) for r in rows]
    assert code_name(rows[0]) == "d3-n5-cg-search30.0-k1500-seed0-start0.txt"
    for row in rows:  # each row's code, as verify reads it
        assert summary(read_code(codes / code_name(row), 3))["min_angle_deg"] == row["min_angle_deg"]
    assert [(r["points"], r["search"], r["polish"], r["method"]) for r in rows] == [
        (5, 30.0, True, "cg"),
        (6, 30.0, True, "cg"),
    ]
    assert all(abs(r["min_angle_deg"] - 90.0) < 1e-8 and r["seconds"] < 30.0 for r in rows)  # stopped at 90°
    assert sweep(tasks, out, scheduler="tcp://127.0.0.1:1") == rows  # resumed: nothing left to run
    with pytest.raises(ValueError, match="search 30 s"):  # a start table is not appended to a search table
        sweep(table_tasks(3, range(5, 6), 1, 30, 0), out, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="method cg or vrf"):
        table_tasks(3, range(5, 6), 1, 0, 0, "rrr", search=1.0)


def test_a_table_written_before_the_search_column_reads_as_starts(tmp_path):
    out = tmp_path / "old.tsv"
    out.write_text("\t".join(COLUMNS[:-1]) + "\n3\t4\tvrf\tfalse\t30\t0\t0\t109.0\t1.6\t109.47\t0.47\t0.1\n")
    rows = sweep([], out, progress=False)
    assert rows[0]["search"] == 0.0 and rows[0]["min_angle_deg"] == 109.0
    assert out.read_text().splitlines()[0].split("\t") == list(COLUMNS)  # rewritten with the column


def test_the_local_cluster_refuses_connections_without_its_credentials(tmp_path):
    """The sweep's own scheduler speaks TLS and asks for its own certificate: plain TCP, TLS without a
    certificate and TLS with another cluster's certificate are refused; its own credentials are let in."""
    import asyncio
    import ssl

    from distributed import LocalCluster
    from distributed.comm import connect
    from distributed.security import Security

    async def identity(address, **kwargs):
        comm = await connect(address, timeout=3, **kwargs)
        try:
            await comm.write({"op": "identity", "reply": True})
            return (await comm.read())["type"]
        finally:
            comm.abort()

    no_certificate = ssl.create_default_context()
    no_certificate.check_hostname, no_certificate.verify_mode = False, ssl.CERT_NONE
    other = Security.temporary().get_connection_args("client")
    cluster = table._local_cluster(LocalCluster, str(tmp_path))
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        for where, kwargs in (
            (address.replace("tls://", "tcp://"), {}),
            (address, {"ssl_context": no_certificate}),
            (address, other),
        ):
            with pytest.raises((OSError, asyncio.TimeoutError)):
                asyncio.run(identity(where, **kwargs))
        assert asyncio.run(identity(address, **cluster.security.get_connection_args("client"))) == "Scheduler"
    finally:
        cluster.close()


def _rows_of(tasks):
    return [
        {
            "dim": t.dim,
            "points": t.points,
            "method": t.method,
            "polish": t.polish,
            "iterations": t.iterations,
            "seed": t.seed,
            "start": t.index,
            "min_angle_deg": 10.0 + t.index,
            "min_distance": 0.5,
            "best_known_angle_deg": None,
            "gap_deg": None,
            "seconds": 0.1,
            "search": 0.0,
        }
        for t in tasks
    ]


def test_a_full_disk_does_not_fail_the_resume_of_a_complete_tsv_table(tmp_path, monkeypatch):
    """All rows in the file, in completion order, and no room for a sorted copy: the resume returns the rows
    sorted and leaves the file as it is (it reads back the same), instead of failing on the rewrite."""
    out = tmp_path / "t.tsv"
    rows = _rows_of(TASKS)
    out.write_text("\t".join(COLUMNS) + "\n" + "".join(table._tsv_line(r) for r in reversed(rows)))
    before = out.read_text()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(table, "write_atomically", full_disk)
    monkeypatch.setattr(table, "_room", lambda out: 0, raising=False)
    assert sweep(TASKS, out, scheduler="tcp://127.0.0.1:1") == rows  # nothing to run: no cluster is reached
    assert out.read_text() == before


def test_a_json_table_says_up_front_how_much_room_it_needs(tmp_path, monkeypatch):
    out = tmp_path / "t.json"
    monkeypatch.setattr(table, "_room", lambda out: 1000, raising=False)
    with pytest.raises(ValueError, match=r"a \.json table of 8 rows needs about 0\.00512 MB free .* has 0\.001 MB"):
        sweep(TASKS, out, scheduler="tcp://127.0.0.1:1")  # refused before any cluster is reached
    assert not out.exists()
