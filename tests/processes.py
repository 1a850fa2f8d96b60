"""Helpers for tests that check which processes a command leaves behind."""

import contextlib
import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone(pids, seconds: float = 10.0) -> bool:
    """Wait up to ``seconds`` for every process in ``pids`` to end; whether they all did."""
    pids = [pids] if isinstance(pids, int) else list(pids)
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(alive(pid) for pid in pids)


def gone_or_killed(pid: int, seconds: float) -> bool:
    """Whether ``pid`` ended within ``seconds``; if not, it is SIGKILLed so that a failing test leaves
    nothing running."""
    if gone(pid, seconds):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return False
