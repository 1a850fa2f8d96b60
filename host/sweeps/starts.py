"""Independent random starts, run in parallel, best kept.

Each start is a self-contained :class:`StartTask` (backend name and options, D, N, iterations, its own seed
sequence) turned into a :class:`StartResult` by the pure function :func:`run_start`: nothing is shared
between tasks, so any executor — a process pool here, a cluster engine later — can run them.
Start k of seed X draws its initial vectors from ``SeedSequence(X, spawn_key=(k,))`` — the k-th child
``SeedSequence(X).spawn(S)`` would give, without spawning S of them: the same start gives the same code
whatever the number of starts before it or of workers.

A hardware backend computes on the starts rounded to its format; rows that coincide after rounding (a 0° code
from the first iteration on) are redrawn from the start's generator until all are distinct.

Interrupts: workers ignore SIGINT (the parent decides), end cleanly on SIGTERM (their backend's ``close``
runs) and get SIGTERM when the parent dies. A parent interrupted by Ctrl-C or SIGTERM cancels the queued
starts and terminates the running ones before the exception goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from ..backends import get_backend
from ..loosening import LooseningIteration
from ..methods import get_method, names
from ..pairs import min_distance
from ...sim.process import children_start_deaf, die_with_parent, hear_sigint
from ..backends.reference import random_start

__all__ = [
    "METHODS",
    "StartTask",
    "StartResult",
    "run_start",
    "run_starts",
    "initial_vectors",
    "worker_pool",
    "stop_pool",
]

#: The methods a start can run (the registry's names, :mod:`.methods`).
METHODS = names()


@dataclass(frozen=True)
class StartTask:
    backend: str
    dim: int
    points: int
    iterations: int
    seed: int
    index: int  #: which start of ``starts``
    starts: int
    options: dict = field(default_factory=dict)  #: backend options
    method: str = "vrf"  #: a name of :data:`.methods.METHODS` ("vrf" runs on ``backend``, the others float64)
    polish: bool = False  #: climb to a local max–min optimum afterwards (:mod:`.polish`)


@dataclass
class StartResult:
    index: int
    vectors: np.ndarray
    min_squared_distance: float
    final_beta: float | None  #: 2l after the last iteration (``vrf``; None for the other methods)
    stats: dict
    redrawn: int = 0  #: start points redrawn because they coincided after rounding to the hardware's format


#: Rounds of redrawing coinciding start points before giving up (each round redraws only the coinciding rows).
REDRAW_ROUNDS = 100


def initial_vectors(task: StartTask) -> np.ndarray:
    """The start's Gaussian, normalised initial vectors (N, D), distinct in the hardware's format."""
    return _initial(task)[0]


def _initial(task: StartTask) -> tuple[np.ndarray, int]:
    """(initial vectors, rows redrawn because they coincided after rounding to the task's format)."""
    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(task.index,)))
    r = random_start(task.points, task.dim, rng)
    config = task.options.get("config")  # a fixed-point backend's CoreConfig
    if config is None:
        return r, 0
    fmt = config.fmt
    redrawn = 0
    for _ in range(REDRAW_ROUNDS):
        _, first = np.unique(fmt.from_float(r), axis=0, return_index=True)
        repeats = np.setdiff1d(np.arange(task.points), first)
        if repeats.size == 0:
            return r, redrawn
        r[repeats] = random_start(repeats.size, task.dim, rng)
        redrawn += repeats.size
    raise ValueError(
        f"{task.points} points in D = {task.dim} keep coinciding after rounding to {fmt}: "
        "use a wider --format or fewer points"
    )


def run_start(
    task: StartTask,
    on_iteration: Callable[[LooseningIteration], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> StartResult:
    """Run one start with its method (:mod:`.methods`) to the end; a backend is closed on every way out.
    ``on_rows`` sees progress within an update (blocks of rows) where ``vrf``'s backend reports it
    (``reference``, ``model``). ``ValueError`` for an unknown method or a host method on another backend."""
    method = get_method(task.method)
    if method.host_only and task.backend not in method.backends:
        raise ValueError(
            f"method {task.method} runs on backend {' or '.join(method.backends)} only, not {task.backend!r}"
        )
    vectors, redrawn = _initial(task)
    if method.host_only:
        vectors, stats, final_beta = method.optimize(vectors, task.iterations, on_iteration)
    else:
        backend = get_backend(task.backend, **task.options)
        if on_rows is not None and hasattr(backend, "on_rows"):
            backend.on_rows = on_rows
        try:
            vectors, stats, final_beta = method.optimize(vectors, task.iterations, on_iteration, backend=backend)
        finally:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
    if task.polish:
        from ..methods.polish import polish

        vectors, stats["polish"] = polish(vectors)
    return StartResult(task.index, vectors, min_distance(vectors) ** 2, final_beta, stats, redrawn)


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_starts(
    tasks: list[StartTask],
    jobs: int | None = None,
    on_done: Callable[[StartResult], None] | None = None,
    on_iteration: Callable[[LooseningIteration], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[StartResult, list[StartResult]]:
    """Run ``tasks`` on ``jobs`` worker processes (default: all cores); return (best, all by index).

    The best start has the largest minimum distance; ties go to the lower index. With one task or one job
    the starts run in this process, and ``on_iteration`` sees every loosening iteration and ``on_rows`` the
    progress within updates (see :func:`run_start`).
    """
    jobs = max(1, min(len(tasks), jobs or os.cpu_count() or 1))
    results: list[StartResult] = []
    if jobs == 1:
        for task in tasks:
            results.append(run_start(task, on_iteration, on_rows))
            if on_done:
                on_done(results[-1])
    else:
        with worker_pool(jobs) as pool:
            with children_start_deaf():  # the workers are spawned by these submits
                futures = [pool.submit(_worker_start, task) for task in tasks]
            for future in as_completed(futures):
                results.append(future.result())
                if on_done:
                    on_done(results[-1])
    results.sort(key=lambda r: r.index)
    best = max(results, key=lambda r: (r.min_squared_distance, -r.index))
    return best, results


@contextlib.contextmanager
def worker_pool(jobs: int):
    """A :class:`ProcessPoolExecutor` of ``jobs`` spawned worker processes: each starts clean with one BLAS
    thread (the workers already fill the cores), ignores SIGINT (the parent decides), ends cleanly on SIGTERM
    and gets it when this process dies. Leaving the block shuts the pool down; an exception (Ctrl-C, SIGTERM,
    a failed task) stops it at once (:func:`stop_pool`) before it goes on."""
    saved = {var: os.environ.get(var) for var in _BLAS_THREADS}
    os.environ.update(dict.fromkeys(_BLAS_THREADS, "1"))  # inherited by the workers, spawned while it holds
    try:
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),))
        try:
            yield pool
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown()
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides, and stops the workers
    signal.signal(signal.SIGTERM, _terminated)
    die_with_parent(parent)
    hear_sigint()  # started deaf to it (children_start_deaf): now ignored


def _worker_start(task: StartTask) -> StartResult:
    try:
        return run_start(task)
    except SystemExit as exc:  # SIGTERM: run_start has closed its backend; leave without taking another task
        os._exit(exc.code if isinstance(exc.code, int) else 143)


def stop_pool(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Cancel the queued starts and end the running ones: SIGTERM, then SIGKILL after ``grace`` seconds.
    A second Ctrl-C meanwhile is ignored, so that no worker is left behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
