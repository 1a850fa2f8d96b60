"""``spherecode table``: best codes for a range of N: every (N, start) a Dask task."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..argtypes import integer, positive_float
from ..codefile import probe_create, regular_file
from .common import (
    UsageError,
    check_memory,
    method_arguments,
)

NAME = "table"
HELP = "best codes for a range of N: every (N, start) a Dask task"
#: The most (N, start) tasks of one ``table`` (each is an object held, and a row of the file).
TABLE_TASKS_MAX = 1_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dim", "-d", type=integer("--dim", 2), required=True, help="dimension D (≥ 2)")
    p.add_argument("--points", "-n", type=_points_range, required=True, help="N range A..B (or one N)")
    p.add_argument(
        "--starts",
        "-s",
        type=integer("--starts", 1),
        default=None,
        help="starts per N (8), or searches per N with --search (1)",
    )
    p.add_argument(
        "--search",
        type=positive_float("--search"),
        default=None,
        metavar="SECONDS",
        help="each task an iterated search of this many seconds (method cg or vrf, polished)",
    )
    p.add_argument("--iters", "-k", type=integer("--iters", 1), default=3000, help="iterations per start (3000)")
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    method_arguments(p)
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="tcp://HOST:PORT (or tls:// with Dask's TLS configuration) of a running Dask scheduler, "
        "which is trusted: it and its workers run the sweep's code and results (default: a "
        "LocalCluster here, over TLS with credentials of its own)",
    )
    p.add_argument(
        "--workers", type=integer("--workers", 1), default=None, help="LocalCluster worker processes (all cores)"
    )
    p.add_argument(
        "--out", "-o", type=_table_path, required=True, help="the table, .tsv or .json; an existing one is resumed"
    )
    p.add_argument(
        "--codes",
        type=Path,
        metavar="DIR",
        help="also write each new row's code to DIR (made if missing), one .txt file per row, named by its key",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def execute(args) -> tuple[dict, str, int]:
    from ..sweeps.table import best_rows, sweep, table_tasks

    if args.starts is None:
        args.starts = 8 if args.search is None else 1
    count = (args.points.stop - args.points.start) * args.starts  # len() of a range fails beyond 2**63
    if count > TABLE_TASKS_MAX:
        raise UsageError(
            f"--points {args.points.start}..{args.points.stop - 1} with --starts {args.starts} is "
            f"{count} tasks; a table has at most {TABLE_TASKS_MAX}"
        )
    if args.scheduler is None:  # a cluster elsewhere has its own memory
        check_memory(args, args.points.stop - 1, min(count, args.workers or len(os.sched_getaffinity(0))))
    try:
        tasks = table_tasks(
            args.dim, args.points, args.starts, args.iters, args.seed, args.method, args.polish, args.search
        )
        if args.codes is not None:
            _make_folder(args.codes)
        rows = sweep(tasks, args.out, scheduler=args.scheduler, workers=args.workers, codes=args.codes)
    except ValueError as exc:  # bad parameters or file, no scheduler there, no Dask
        raise UsageError(str(exc)) from None
    best = [r for r in best_rows(rows) if r["points"] in args.points]  # the file may hold other N too
    result = {"command": "table", "out": str(args.out), "rows": len(rows), "best": best}
    how = (
        f"best of {args.starts} search(es) × {args.search:g} s"
        if args.search is not None
        else f"best of {args.starts} start(s) × {args.iters} iterations"
    )
    lines = [
        f"spherecode table: D={args.dim} N={args.points.start}..{args.points.stop - 1}, method {args.method}"
        f"{' + polish' if args.polish or args.search else ''}, {how}, seed {args.seed} → {args.out}",
        "      N   min angle        best known       short by",
    ]
    for r in best:
        known = r["best_known_angle_deg"]
        lines.append(
            f"  {r['points']:5d}   {r['min_angle_deg']:.9f}°  "
            + (f"{known:.9f}°  {r['gap_deg']:.9f}°" if known is not None else "—")
        )
    return result, "\n".join(lines), 0


def _points_range(text: str) -> range:
    first, sep, last = text.partition("..")
    try:
        a, b = int(first, 10), int(last, 10) if sep else int(first, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--points must be A..B or N, got {text!r}") from None
    if not 2 <= a <= b:
        raise argparse.ArgumentTypeError(f"--points needs 2 ≤ A ≤ B, got {text!r}")
    return range(a, b + 1)


def _table_path(text: str) -> Path:
    from ..sweeps.table import SUFFIXES as TABLE_SUFFIXES

    path = Path(text)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise argparse.ArgumentTypeError(f"--out must end in {' or '.join(TABLE_SUFFIXES)}, got {text!r}")
    if path.is_dir() or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"--out {text}: not a file in an existing folder")
    try:  # a FIFO would hang the check, a link to /dev/zero be read as a table without end
        regular_file(path, "--out ")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    try:  # before the sweep, not at its first row: rows are appended to an existing table, or it is created
        if path.exists():
            open(path, "ab").close()
        else:
            probe_create(path)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"--out {text}: cannot write: {exc.strerror or exc}") from None
    return path


def _make_folder(path: Path) -> None:
    """Make ``path`` (and its parents) if missing; ``ValueError`` (one line) where it cannot be made."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot make the codes folder {path}: {exc.strerror or exc}") from None
