"""Child processes that end with their parent: worker processes of the starts, simulators, board twins."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent: int) -> None:
    """In a child process (a ``preexec_fn`` or a worker's initializer): ask Linux for SIGTERM when the
    thread that started this process ends (PR_SET_PDEATHSIG follows the thread, not the process; a no-op
    elsewhere), and exit at once if the parent ``parent`` is already gone."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM))
    if os.getppid() != parent:
        os._exit(143)
