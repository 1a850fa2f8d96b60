"""``spherecode run``: design a code with force loosening, best of several random starts."""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool

from ..argtypes import integer
from ..backends import BACKENDS, backend_class
from ..codefile import SUFFIXES, write_code
from ..link import BoardError
from ..sweeps.starts import StartTask, run_starts
from .common import (
    Iterations,
    UsageError,
    backend_arguments,
    backend_options,
    common_arguments,
    measured_summary,
    method_arguments,
    out_path,
    prepare,
    print_result,
    progress,
    quality_table,
)

NAME = "run"
HELP = "design a code with force loosening, best of several random starts"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common_arguments(p)
    p.add_argument("--iters", "-k", type=integer("--iters", 1), default=3000, help="loosening iterations (3000)")
    p.add_argument("--starts", "-s", type=integer("--starts", 1), default=1, help="independent starts (1)")
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument("--backend", "-b", choices=sorted(BACKENDS), default="reference")
    backend_arguments(p)
    p.add_argument("--jobs", "-j", type=integer("--jobs", 1), default=None, help="worker processes (all cores)")
    p.add_argument("--out", "-o", type=out_path, help=f"write the best code ({', '.join(SUFFIXES)})")
    p.add_argument("--vs", choices=sorted(BACKENDS), help="also run the same starts on this backend, side by side")
    method_arguments(p)


def execute(args) -> tuple[dict, str, int]:
    from ..methods import get_method

    method = get_method(args.method)
    if method.host_only:
        for option, backend in (("--backend", args.backend), ("--vs", args.vs or args.backend)):
            if backend not in method.backends:
                raise UsageError(
                    f"--method {args.method} runs in float64 only (--backend "
                    f"{' or '.join(method.backends)}), not {option} {backend}"
                )
    names = [args.backend] + ([args.vs] if args.vs else [])
    prepare(args, names)
    # One process running the starts in turn gives each update all cores; worker processes get one each.
    single = args.starts == 1 or args.jobs == 1
    options = backend_options(args, names, (os.cpu_count() or 1) if single else 1)
    result, best = _run_backend(args, args.backend, options[args.backend])
    result = {"command": "run", **result, "out": None}
    failed = None
    if args.out:
        try:
            write_code(args.out, best.vectors, {k: result[k] for k in ("backend", "iterations", "starts", "seed")})
            result["out"] = str(args.out)
        except OSError as exc:  # the result is still printed; the old file, if any, is intact
            failed = str(exc)
    text = [_headline(args, result), quality_table(result)]
    runs = {args.backend: best.stats}
    if args.vs:
        other, other_best = _run_backend(args, args.vs, options[args.vs])
        runs[args.vs] = other_best.stats
        result["vs"] = other
        text += [
            _headline(args, other),
            quality_table(other),
            f"  difference    {result['min_angle_deg'] - other['min_angle_deg']:+.6f}° in the minimum angle",
        ]
    if args.method == "vrf":
        from ..reports.hwtime import iteration_comparison

        on_board = backend_class(args.backend).modelled_board(options[args.backend])
        fields, lines = iteration_comparison(args.points, args.dim, runs, on_board)
        result.update(fields)
        text += lines
    if result["out"]:
        text.append(f"  wrote         {args.out}")
    if failed:
        print_result(args, result, "\n".join(text))
        raise UsageError(f"{failed} (the result is printed above)")
    return result, "\n".join(text), 0


def _run_backend(args, backend: str, options: dict) -> tuple[dict, object]:
    """Run every start on ``backend``, built from ``options``; returns the result fields and the best
    start."""
    single = args.starts == 1 or args.jobs == 1
    tasks = [
        StartTask(
            backend, args.dim, args.points, args.iters, args.seed, k, args.starts, options, args.method, args.polish
        )
        for k in range(args.starts)
    ]
    t0 = time.perf_counter()
    with progress(args.iters * args.starts if single else args.starts, "it" if single else "start") as bar:
        steps = Iterations(bar, 2 * args.points, args.iters * args.starts)  # an iteration: two updates of N rows
        try:
            best, results = run_starts(
                tasks,
                jobs=args.jobs,
                on_done=None if single else (lambda _: bar.update(1)),
                on_iteration=steps.on_iteration if single else None,
                on_rows=steps.on_rows if single else None,
            )
        except ValueError as exc:  # e.g. points that keep coinciding in a narrow format
            raise UsageError(f"backend {backend}: {exc}") from None
        except BoardError as exc:
            raise UsageError(f"backend {backend}: {exc}") from None
        except BrokenProcessPool:
            raise UsageError(f"backend {backend}: a worker process died (killed, or out of memory?)") from None
    seconds = time.perf_counter() - t0
    report = backend_class(backend).report(options, best.stats)
    redrawn = sum(r.redrawn for r in results)
    if redrawn:
        print(
            f"spherecode: note: {redrawn} start point(s) coincided after rounding to {report['format']} "
            f"and were redrawn ({backend})",
            file=sys.stderr,
        )
    result = {
        "backend": backend,
        "method": args.method,
        "polish": best.stats.get("polish"),
        "iterations": args.iters,
        "starts": args.starts,
        "seed": args.seed,
        "best_start": best.index,
        "final_beta": best.final_beta,
        **measured_summary(best.vectors),
        "seconds": seconds,
        **report,
    }
    return result, best


def _headline(args, r: dict) -> str:
    hw = f", {r['format']}, {r['lanes']} lane(s)" if r["format"] else ""
    cycles = (
        f", {r['cycles_per_iteration']:.0f} cycles/iteration"
        if "cycles_per_iteration" in r
        else f", loosening on chip, {r['cycles_per_loosening_iteration']:.0f} cycles/loosening iteration "
        f"({'RTL counter' if r['backend'] == 'sim' else 'modelled'})"
        if r.get("loosening") == "chip"
        else ""
    )
    method = ("" if r["method"] == "vrf" else f", method {r['method']}") + (", polished" if r["polish"] else "")
    return (
        f"spherecode run: D={args.dim} N={args.points}, backend {r['backend']}{hw}{method}, best of "
        f"{args.starts} start(s) × {args.iters} iterations, seed {args.seed} ({r['seconds']:.1f} s{cycles})"
    )
