"""``spherecode search``: iterated local search: perturb the best code, re-optimise, polish."""

from __future__ import annotations

import argparse
import math
from concurrent.futures.process import BrokenProcessPool

from ..argtypes import integer, positive_float
from ..codefile import SUFFIXES, write_code
from .common import (
    UsageError,
    check_memory,
    common_arguments,
    measured_summary,
    out_path,
    progress,
    quality_table,
    write_out,
)

NAME = "search"
HELP = "iterated local search: perturb the best code, re-optimise, polish"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common_arguments(p)
    p.add_argument("--time", "-t", type=positive_float("--time"), default=60.0, help="time budget in seconds (60)")
    p.add_argument(
        "--method",
        "-m",
        choices=_search_methods(),
        default="cg",
        help="the method that re-optimises each perturbed code (cg)",
    )
    p.add_argument(
        "--target",
        type=positive_float("--target"),
        default=None,
        help="stop at this minimum angle in degrees (default: the best known, where there is one)",
    )
    p.add_argument("--no-stop", action="store_true", help="go on until the time budget, whatever the angle")
    p.add_argument("--jobs", "-j", type=integer("--jobs", 1), default=None, help="worker processes (all cores)")
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument("--out", "-o", type=out_path, help=f"write the best code ({', '.join(SUFFIXES)})")


def execute(args) -> tuple[dict, str, int]:
    from ..sweeps.search import Search

    check_memory(args)
    with progress(math.ceil(args.time), "s") as bar:

        def show(search: Search) -> None:
            if search.best is not None:
                gap = f", gap {search.target - search.angle:.2e}°" if search.target is not None else ""
                bar.set_description_str(f"best {search.angle:.9f}°{gap}, {search.rounds} rounds", refresh=False)
            bar.update(min(search.elapsed, bar.total) - bar.n)

        try:
            search = Search(
                args.dim,
                args.points,
                args.time,
                method=args.method,
                target=args.target,
                stop=not args.no_stop,
                jobs=args.jobs,
                seed=args.seed,
                on_progress=show,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        try:
            best = search.run()
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the best code so far is kept
            if search.best is not None and args.out:
                try:
                    write_code(args.out, search.best, _search_meta(args, search))
                    exc.note = f"; the best code so far ({search.angle:.9f}°) is in {args.out}"
                except OSError as error:
                    exc.note = f"; the best code so far could not be written: {error}"
            raise
        except BrokenProcessPool:
            raise UsageError("search: a worker process died (killed, or out of memory?)") from None
    seconds = search.elapsed
    result = {
        "command": "search",
        "method": args.method,
        "seed": args.seed,
        "jobs": search.jobs,
        "time_budget": args.time,
        "seconds": seconds,
        "starts": search.starts,
        "rounds": search.rounds,
        "accepted": search.accepted,
        "target_deg": search.target,
        "reached": search.reached,
        **measured_summary(best),
        "out": None,
    }
    target = (
        "no target"
        if search.target is None
        else f"target {search.target:.9f}° {'reached' if search.reached else 'not reached'}"
    )
    text = [
        f"spherecode search: D={args.dim} N={args.points}, method {args.method} + polish, {search.starts} "
        f"start(s), {search.rounds} round(s), {search.accepted} accepted, {seconds:.1f} s, seed {args.seed}; "
        f"{target}",
        quality_table(result),
    ]
    write_out(args, result, text, best, _search_meta(args, search), "  wrote         ")
    return result, "\n".join(text), 0


def _search_meta(args, search) -> dict:
    return {
        "command": "search",
        "method": args.method,
        "seed": args.seed,
        "rounds": search.rounds,
        "seconds": round(search.elapsed, 3),
    }


def _search_methods() -> tuple[str, ...]:
    from ..sweeps.search import METHODS

    return METHODS
