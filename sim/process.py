"""Child processes that end with their parent (worker processes of the starts, simulators, board twins), and
that start deaf to Ctrl-C until their own signal handling is set."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading

__all__ = ["die_with_parent", "signals_deferred", "children_start_deaf", "hear_sigint"]

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


@contextlib.contextmanager
def signals_deferred():
    """SIGINT, SIGTERM and SIGHUP wait till the end of the block, then go to their handlers as usual.

    For work that an exception inside would leave half-made: a Dask cluster and its client (a
    KeyboardInterrupt inside Client() left it unclosed, and Dask's finaliser then closed it at exit on a
    stopped loop: a 60 s hang and a traceback, measured), a worker process between its start and the data
    it is sent (it read an end of file: a traceback). Only in the main thread, where Python runs signal
    handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    signums = [
        s
        for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
        if s is not None and signal.getsignal(s) is not None
    ]  # None: a handler not set from Python
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(caught):
            signal.raise_signal(s)


@contextlib.contextmanager
def children_start_deaf():
    """SIGINT blocked in this thread for the duration: a process started meanwhile (fork, then exec: the
    mask is inherited by both) begins with SIGINT blocked, so that a Ctrl-C to the process group during its
    start-up stays pending instead of raising in its half-made interpreter (a traceback, measured); the
    child calls :func:`hear_sigint` once its own handling is set. Multiprocessing's resource tracker is
    started first: starting it unblocks SIGINT in the thread that starts it. Only in the main thread (where
    the starts' pool is made; a no-op elsewhere and where there is no ``pthread_sigmask``).

    This process's own SIGINT, SIGTERM and SIGHUP wait till the end of the block (:func:`signals_deferred`):
    an interrupt between a child's start and the data it is sent left the child reading an end of file.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    with signals_deferred():
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def hear_sigint() -> None:
    """In a child started under :func:`children_start_deaf`, once its SIGINT handling is set: unblock SIGINT
    (one that arrived meanwhile is then handled, or dropped if ignored)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
