"""Independent random starts, run in parallel, best kept.

Each start is a self-contained :class:`StartTask` (backend name and options, D, N, iterations, its own seed
sequence) turned into a :class:`StartResult` by the pure function :func:`run_start`: nothing is shared
between tasks, so any executor — a process pool here, a cluster engine later — can run them.
Start k of seed X draws its initial vectors from ``SeedSequence(X).spawn(S)[k]``: the same start gives the
same code whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from .backend import get_backend
from .loosening import Step, force_loosening
from .metrics import min_squared_distance
from .reference import random_start

__all__ = ["StartTask", "StartResult", "run_start", "run_starts", "initial_vectors"]


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


@dataclass
class StartResult:
    index: int
    vectors: np.ndarray
    min_squared_distance: float
    final_beta: float  #: 2l after the last iteration
    stats: dict


def initial_vectors(task: StartTask) -> np.ndarray:
    """The start's Gaussian, normalised initial vectors (N, D)."""
    seq = np.random.SeedSequence(task.seed).spawn(task.starts)[task.index]
    return random_start(task.points, task.dim, np.random.default_rng(seq))


def run_start(task: StartTask, on_step: Callable[[Step], None] | None = None) -> StartResult:
    """Run one start to the end of force loosening."""
    backend = get_backend(task.backend, **task.options)
    result = force_loosening(backend, initial_vectors(task), task.iterations, on_step=on_step)
    return StartResult(task.index, result.vectors, min_squared_distance(result.vectors), 2.0 * result.l, result.stats)


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_starts(
    tasks: list[StartTask],
    jobs: int | None = None,
    on_done: Callable[[StartResult], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> tuple[StartResult, list[StartResult]]:
    """Run ``tasks`` on ``jobs`` worker processes (default: all cores); return (best, all by index).

    The best start has the largest minimum distance; ties go to the lower index. With one task or one job
    the starts run in this process, and ``on_step`` sees every loosening iteration.
    """
    jobs = max(1, min(len(tasks), jobs or os.cpu_count() or 1))
    results: list[StartResult] = []
    if jobs == 1:
        for task in tasks:
            results.append(run_start(task, on_step))
            if on_done:
                on_done(results[-1])
    else:
        # spawn: workers start clean, and inherit one BLAS thread each (the starts already fill the cores).
        saved = {var: os.environ.get(var) for var in _BLAS_THREADS}
        os.environ.update(dict.fromkeys(_BLAS_THREADS, "1"))
        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                futures = [pool.submit(run_start, task) for task in tasks]
                for future in as_completed(futures):
                    results.append(future.result())
                    if on_done:
                        on_done(results[-1])
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
    results.sort(key=lambda r: r.index)
    best = max(results, key=lambda r: (r.min_squared_distance, -r.index))
    return best, results
