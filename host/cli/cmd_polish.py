"""``spherecode polish``: climb from a code file to a local max–min optimum."""

from __future__ import annotations

import argparse
import time

from ..codefile import SUFFIXES, CodeFileError, read_code
from .common import (
    UsageError,
    common_arguments,
    measured_summary,
    out_path,
    progress,
    quality_table,
    write_out,
)

NAME = "polish"
HELP = "climb from a code file to a local max–min optimum"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help=f"code file ({', '.join(SUFFIXES)})")
    common_arguments(p, with_points=False)
    p.add_argument("--out", "-o", type=out_path, help=f"write the polished code ({', '.join(SUFFIXES)})")


def execute(args) -> tuple[dict, str, int]:
    from ..methods.polish import polish

    try:
        vectors = read_code(args.file, args.dim)
    except CodeFileError as exc:
        raise UsageError(str(exc)) from None
    before = measured_summary(vectors)
    if before["min_distance"] == 0:  # the minimum distance has no direction to climb in
        raise UsageError(f"{args.file}: two points coincide (minimum distance 0): polish needs distinct points")
    t0 = time.perf_counter()
    with progress(None, "round") as bar:
        try:
            polished, stats = polish(vectors, on_round=lambda *_: bar.update(1))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    seconds = time.perf_counter() - t0
    after = measured_summary(polished)
    result = {
        "command": "polish",
        "file": args.file,
        **after,
        "before": before,
        "polish": stats,
        "seconds": seconds,
        "out": None,
    }
    text = [
        f"spherecode polish: {args.file}: D={args.dim} N={len(vectors)}, {stats['rounds']} round(s), {seconds:.1f} s",
        f"  before        {before['min_angle_deg']:.9f}°",
        quality_table(result),
    ]
    write_out(args, result, text, polished, {"polished_from": args.file}, "  wrote         ")
    return result, "\n".join(text), 0
