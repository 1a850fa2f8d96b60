"""``spherecode bench``: time iterations of a backend."""

from __future__ import annotations

import argparse
import os
import statistics
import time

from ..argtypes import integer, positive_float
from ..backends import BACKENDS, backend_class
from ..link import BoardError
from ..sweeps.starts import StartTask, initial_vectors
from .common import (
    Iterations,
    UsageError,
    backend_arguments,
    backend_options,
    common_arguments,
    measured_summary,
    prepare,
    progress,
)

NAME = "bench"
HELP = "time iterations of a backend"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common_arguments(p)
    p.add_argument("--backend", "-b", choices=sorted(BACKENDS), default="reference")
    backend_arguments(p)
    p.add_argument("--repeats", "-r", type=integer("--repeats", 1), default=5, help="timed iterations (5)")
    p.add_argument("--beta", type=positive_float("--beta"), default=8.0, help="repulsion exponent β (8)")
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument("--threads", type=integer("--threads", 1), default=None, help="threads (all cores)")


def execute(args) -> tuple[dict, str, int]:
    prepare(args, [args.backend])
    threads = args.threads or os.cpu_count() or 1
    cls = backend_class(args.backend)
    options = backend_options(args, [args.backend], threads)[args.backend]
    task = StartTask(args.backend, args.dim, args.points, 0, args.seed, 0, 1, options)
    try:
        vectors = initial_vectors(task)
        backend = cls(**options)
    except (ValueError, BoardError) as exc:
        raise UsageError(f"backend {args.backend}: {exc}") from None
    times = []
    cycles = 0
    try:
        with progress(args.repeats + 1, "it") as bar:
            steps = Iterations(bar, args.points, args.repeats + 1)
            if hasattr(backend, "on_rows"):
                backend.on_rows = steps.on_rows
            vectors = backend.update(vectors, args.beta).vectors  # warm-up, not timed
            steps.on_iteration()
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                t = time.perf_counter()
                update = backend.update(vectors, args.beta)
                times.append(time.perf_counter() - t)
                vectors = update.vectors
                cycles += update.stats.get("cycles", 0)
                steps.on_iteration()
            seconds = time.perf_counter() - t0
    except (ValueError, BoardError) as exc:
        raise UsageError(f"backend {args.backend}: {exc}") from None
    finally:
        backend.close()
    median = statistics.median(times)
    pairs = args.points * (args.points - 1)
    result = {
        "command": "bench",
        "backend": args.backend,
        "iterations": args.repeats,
        "starts": 1,
        "seed": args.seed,
        "beta": args.beta,
        "threads": threads,
        **measured_summary(vectors),
        "seconds": seconds,
        "ms_per_iteration": median * 1e3,
        "ms_min": min(times) * 1e3,
        "ms_max": max(times) * 1e3,
        "pairs_per_second": pairs / median,
        **cls.report(options, {"updates": args.repeats, "cycles": cycles, "update_seconds": sum(times)}),
    }
    text = (
        f"spherecode bench: backend {args.backend}, D={args.dim} N={args.points}, {args.repeats} iterations\n"
        f"  {median * 1e3:.3f} ms per iteration (median; min {min(times) * 1e3:.3f}, max {max(times) * 1e3:.3f})\n"
        f"  {pairs / median:.4g} ordered pairs (i ≠ j) per second"
    )
    return result, text, 0
