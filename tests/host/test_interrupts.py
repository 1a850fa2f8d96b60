"""Interrupts: Ctrl-C, SIGTERM and a killed parent stop every worker promptly and leave nothing behind.

The command runs in its own session (a process group, as a shell gives a foreground job), so that "Ctrl-C"
is SIGINT to the whole group, as a terminal sends it.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..processes import gone

LONG_RUN = ["run", "-d", "3", "-n", "300", "-k", "100000", "-s", "6", "-j", "2"]


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _start(tmp_path, argv=LONG_RUN, processes=2):
    process = subprocess.Popen(
        [sys.executable, "-m", "spherecode", *argv, "-o", str(tmp_path / "c.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    deadline = time.monotonic() + 600  # a simulator may have to be built first
    while len(_children(process.pid)) < processes:  # workers (and their simulators) started
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.1)
    time.sleep(1.0)  # into the starts
    return process, _children(process.pid)


@pytest.mark.parametrize(
    "signum, status, word",
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    ],
)
def test_interrupt_is_prompt_one_line_and_leaves_nothing(tmp_path, signum, status, word):
    process, workers = _start(tmp_path)
    t0 = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C: the whole foreground group
    else:
        process.send_signal(signum)  # SIGTERM: the parent alone must pass it on
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - t0 < 10  # not after the queued starts have run
    assert process.returncode == status
    assert err.splitlines() == [f"spherecode: {word}"] and out == ""
    assert gone(workers, 5), "workers outlived the command"
    assert list(tmp_path.iterdir()) == []  # no output file, no temporary file


def test_a_second_ctrl_c_does_not_hang(tmp_path):
    process, workers = _start(tmp_path)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 130
    assert gone(workers, 5)


def test_workers_die_with_a_killed_parent(tmp_path):
    process, workers = _start(tmp_path)
    process.kill()
    process.communicate(timeout=30)
    assert gone(workers, 10), "workers outlived a SIGKILLed parent"


def test_ctrl_c_stops_simulators_and_removes_their_folders(tmp_path):
    """--backend sim: each worker's Verilator simulator runs in a session of its own (a terminal's Ctrl-C does
    not reach it); the worker, terminated by the parent, closes it and removes its temporary folder."""
    argv = ["run", "-d", "3", "-n", "12", "-k", "30000", "-s", "4", "-j", "2", "-b", "sim"]
    process, children = _start(tmp_path, argv, processes=4)  # 2 workers + 2 simulators
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.splitlines() == ["spherecode: interrupted"]
    assert gone(children, 10), "a worker or simulator outlived the command"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_search_keeps_the_best_code(tmp_path):
    """search: Ctrl-C writes the best code so far to --out (one line says so) and exits 130."""
    argv = ["search", "-d", "3", "-n", "30", "--time", "600", "--no-stop", "-j", "2"]
    process, workers = _start(tmp_path, argv)
    time.sleep(4.0)  # the starts (~1 s each at N = 30) have finished: rounds are running
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spherecode: interrupted; the best code so far ("), err
    assert gone(workers, 5), "workers outlived the command"
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
    from spherecode.host.codefile import read_code
    from spherecode.host.metrics import summary

    assert summary(read_code(tmp_path / "c.json", 3))["min_angle_deg"] > 38.0  # best known 38.597°


def test_ctrl_c_while_the_workers_start_is_one_line(tmp_path):
    """Ctrl-C at moments of the workers' start-up (before a worker has set its own signal handling): one
    line and status 130 every time, never a worker's traceback."""
    for delay in (0.0, 0.05, 0.1, 0.3):
        process = subprocess.Popen(
            [sys.executable, "-m", "spherecode", *LONG_RUN],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
        deadline = time.monotonic() + 60
        while not _children(process.pid):  # the first child: the resource tracker, then the workers
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.002)
        time.sleep(delay)
        children = _children(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert (process.returncode, err.splitlines(), out) == (130, ["spherecode: interrupted"], ""), delay
        assert gone(children, 5), f"a worker outlived the command (Ctrl-C {delay} s after the first child)"
