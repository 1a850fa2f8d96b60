"""Child processes that end with their parent and start deaf to Ctrl-C (sim/process.py), and signals held
till the end of a block."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from spherecode.sim.process import children_start_deaf, signals_deferred

from ..processes import gone, gone_or_killed


def _blocked(pid: int) -> set[int]:
    """The signals process ``pid`` blocks (its SigBlk mask)."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("SigBlk:"))
    mask = int(line.split()[1], 16)
    return {n for n in range(1, 65) if mask >> (n - 1) & 1}


@pytest.fixture
def heard():
    """SIGTERM and SIGHUP handled by appending to the list returned (the previous handlers restored)."""
    caught = []
    previous = {
        s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGTERM, signal.SIGHUP)
    }
    yield caught
    for s, handler in previous.items():
        signal.signal(s, handler)


def test_signals_wait_till_the_end_of_the_block_then_reach_their_handlers(heard):
    with signals_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)  # the same signal twice: delivered once, as the kernel would
        assert heard == []
    assert sorted(heard) == sorted([signal.SIGTERM, signal.SIGHUP])


def test_signals_deferred_changes_nothing_outside_the_main_thread(heard):
    handlers = []

    def work():
        with signals_deferred():
            handlers.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert handlers == [before]


def test_children_start_deaf_and_hear_sigint_once_ready():
    """A child started in the block has SIGINT blocked (so a Ctrl-C during its start-up stays pending); this
    thread's mask is restored after the block; the child unblocks SIGINT with hear_sigint."""
    child = textwrap.dedent("""
        import signal, sys
        from spherecode.sim.process import hear_sigint
        blocked = lambda: signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        before = blocked()
        hear_sigint()
        print(before, blocked())
    """)
    with children_start_deaf():
        sleeper = subprocess.Popen(["sleep", "30"])
        python = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert signal.SIGINT in _blocked(sleeper.pid)
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        assert python.communicate(timeout=60)[0].split() == ["True", "False"]
    finally:
        sleeper.kill()
        sleeper.wait()
    outside = subprocess.Popen(["sleep", "30"])
    try:
        assert signal.SIGINT not in _blocked(outside.pid)
    finally:
        outside.kill()
        outside.wait()


def test_a_child_whose_parent_is_already_gone_exits_at_once():
    code = "from spherecode.sim.process import die_with_parent; die_with_parent(-1); print('alive')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (143, "")


def test_a_child_ends_with_the_thread_that_started_it():
    """A grandchild started with die_with_parent as its preexec_fn gets SIGTERM when its parent dies."""
    parent = textwrap.dedent("""
        import os, subprocess
        from spherecode.sim.process import die_with_parent
        me = os.getpid()
        child = subprocess.Popen(
            ["sleep", "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: die_with_parent(me),
        )
        print(child.pid, flush=True)
        os._exit(0)
    """)
    r = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60)
    pid = int(r.stdout)
    assert gone_or_killed(pid, 10), "the child outlived its parent"


def test_without_it_a_child_outlives_its_parent():
    """The check above can fail: a child started without die_with_parent stays."""
    parent = "import subprocess as s; print(s.Popen(['sleep', '60'], stdout=s.DEVNULL, stderr=s.STDOUT).pid)"
    pid = int(subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60).stdout)
    try:
        assert not gone(pid, 0.5)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert gone(pid, 10)
