"""What the commands share: the error types, the argument types and groups, the checks made before any
work starts, progress bars, and the result's output."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..argtypes import integer
from ..backends import BACKENDS, backend_class
from ..codefile import SUFFIXES, CodeFileError, check_writable, write_code
from ..loosening import max_beta
from ..metrics import summary

#: Seconds of a run after which, off a terminal, the time still to go is estimated, and the least time to go
#: that is worth a line.
ESTIMATE_AFTER, LONG_RUN = 5.0, 60.0
#: Seconds before a progress bar appears (none for short commands).
PROGRESS_DELAY = 2.0
#: Arrays of N × D float64 a run holds at once (vectors, two candidates, force, copies in the metrics), on
#: top of the blocked pairwise work arrays: the basis of the memory check before a run.
ARRAYS = 12


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that every ``finally`` runs (exit 128 + signal)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the whole usage; one line is the contract
        raise UsageError(message)


def out_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"--out must end in one of {', '.join(SUFFIXES)}, got {text!r}")
    try:
        check_writable(path)  # before the run, not after it
    except CodeFileError as exc:
        raise argparse.ArgumentTypeError(f"--out {exc}") from None
    return path


def progress(total: int, unit: str):
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (CI, pipes); delay: none for short runs.
    # Iterations advance by fractions (blocks of rows, :class:`Iterations`): one decimal.
    fmt = "{l_bar}{bar}| {n:.1f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]" if unit == "it" else None
    return tqdm(
        total=total, unit=unit, file=sys.stderr, disable=None, delay=PROGRESS_DELAY, leave=False, bar_format=fmt
    )


def common_arguments(p: argparse.ArgumentParser, with_points: bool = True) -> None:
    p.add_argument("--dim", "-d", type=integer("--dim", 2), required=True, help="dimension D (≥ 2)")
    if with_points:
        p.add_argument("--points", "-n", type=integer("--points", 2), required=True, help="number of points N (≥ 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def prepare(args, names: list[str]) -> None:
    """Refuse what the chosen backends cannot do before any work starts: the memory of this machine, the
    β the run asks for; backends that cannot run starts in parallel (one serial port) take turns."""
    check_memory(args)
    classes = [backend_class(name) for name in names]
    check_fixed_point_options(args, names)
    for cls in classes:
        check_beta(args, cls)
    if not all(cls.parallel for cls in classes):
        args.jobs = 1


def backend_options(args, names: list[str], threads: int) -> dict[str, dict]:
    """Each chosen backend's constructor options, built by the backend from ``args``. A backend whose
    configuration is a device's (a board: ``fixed_config``) is asked first; its format and lanes then
    hold for the other one too."""
    options = {}
    for name in sorted(dict.fromkeys(names), key=lambda b: not backend_class(b).fixed_config):
        cls = backend_class(name)
        try:
            options[name] = cls.options(args, threads)
        except ValueError as exc:
            raise UsageError(f"backend {name}: {exc}") from None
        config = options[name].get("config")
        if cls.fixed_config and config is not None:
            args.format, args.lanes = str(config.fmt), config.lanes
    return options


def check_fixed_point_options(args, names: list[str]) -> None:
    """``--format`` and ``--lanes`` set the fixed-point backends' numbers: refused, not ignored, where every
    chosen backend computes in float64."""
    from ..backends.hardware import FixedPointBackend

    given = [
        option
        for option, value in (("--format", getattr(args, "format", None)), ("--lanes", getattr(args, "lanes", None)))
        if value is not None
    ]
    if given and not any(issubclass(backend_class(name), FixedPointBackend) for name in names):
        fixed = sorted(n for n in BACKENDS if issubclass(backend_class(n), FixedPointBackend))
        raise UsageError(
            f"{given[0]} applies to the fixed-point backends ({', '.join(fixed)}); backend "
            f"{' and '.join(dict.fromkeys(names))} computes in float64"
        )


def check_beta(args, cls) -> None:
    """β within what the backend ``cls`` computes with (its ``beta_range``): for ``bench`` the given β,
    for ``run`` every β that force loosening may ask for in ``--iters`` iterations."""
    if cls.beta_range is None:
        return
    low, high = cls.beta_range
    if args.command == "bench" and not low <= args.beta <= high:
        raise UsageError(f"--beta {args.beta:g}: the hardware computes with {low:g} ≤ β ≤ {high:g}")
    if args.command == "run" and max_beta(args.iters) > high:
        most = int(high // 4 - 1)  # max_beta(K) = 4(K + 1) ≤ high
        raise UsageError(
            f"--iters {args.iters}: force loosening may ask for β/2 up to "
            f"{max_beta(args.iters) / 2:g}, beyond the hardware's {high / 2:g}: at most {most} "
            "iterations"
        )


def check_memory(args, points: int | None = None, workers: int | None = None) -> None:
    """Refuse a size that cannot fit this machine's memory before anything is allocated: ``points``
    (default ``args.points``) in ``args.dim``, in each of ``workers`` (default: as many as run at once)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    points = args.points if points is None else points
    if workers is None:
        workers = 1 if getattr(args, "starts", 1) == 1 else min(args.starts, args.jobs or os.cpu_count() or 1)
    need = ARRAYS * 8 * points * args.dim * workers
    if need > total:
        raise UsageError(
            f"--points {points} --dim {args.dim} needs about {need / 2**30:.3g} GiB of memory "
            f"({workers} worker(s)); this machine has {total / 2**30:.3g} GiB"
        )


def backend_arguments(p: argparse.ArgumentParser) -> None:
    """Every backend's own options (shared ones, such as ``--format``, declared once)."""
    for name in BACKENDS:
        backend_class(name).add_arguments(p)


def method_arguments(p: argparse.ArgumentParser) -> None:
    from ..methods import METHODS

    p.add_argument(
        "--method",
        "-m",
        choices=tuple(METHODS),
        default="vrf",
        help="; ".join(f"{m.name}: {m.description}" for m in METHODS.values()),
    )
    p.add_argument("--polish", action="store_true", help="climb each start's code to a local max–min optimum")


def board(text: str):
    from spherecode.boards import get_board

    try:
        return get_board(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def default_board() -> str:
    from spherecode.boards import DEFAULT

    return DEFAULT


class Iterations:
    """Advances a bar counting iterations smoothly: by fractions as blocks of rows finish (backends that
    report them; an iteration is ``rows`` rows), and to the whole iteration when it ends.

    Where the bar is not shown (stderr is not a terminal) and ``total`` iterations are expected: once
    :data:`ESTIMATE_AFTER` seconds have passed, one line on stderr with the time still to go, if that is at
    least :data:`LONG_RUN` seconds: the progress since the first report, extrapolated (the time before it — a
    simulator's start, a board's load — is paid once, and is not a rate)."""

    def __init__(self, bar, rows: int, total: float | None = None):
        self.bar, self.rows, self.done = bar, rows, 0
        self.total, self.count, self.noted, self.t0 = total, 0.0, False, time.perf_counter()
        self.first: tuple[float, float] | None = None  # (time, count) of the first report

    def on_rows(self, k: int) -> None:
        k = min(k, self.rows - 1 - self.done)  # never a whole iteration before it has ended
        if k > 0:
            self.done += k
            self._advance(k / self.rows)

    def on_iteration(self, _=None) -> None:
        self._advance(1 - self.done / self.rows)
        self.done = 0

    def _advance(self, x: float) -> None:
        self.bar.update(x)
        self.count += x
        if self.noted or not self.total or not getattr(self.bar, "disable", False):
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, self.count)
            return
        elapsed, (t1, c1) = now - self.t0, self.first
        if elapsed < ESTIMATE_AFTER or self.count <= c1:
            return
        self.noted = True
        left = (now - t1) * max(self.total - self.count, 0.0) / (self.count - c1)
        if left >= LONG_RUN:
            print(
                f"spherecode: note: about {duration(left)} to go ({100 * self.count / self.total:.2g} % of "
                f"{self.total:g} iteration(s) done in {elapsed:.0f} s)",
                file=sys.stderr,
                flush=True,
            )


def duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def measured_summary(vectors: np.ndarray) -> dict:
    """:func:`summary`, with a progress bar (it is O(N²)) and NaN refused."""
    with progress(2 * len(vectors), "row") as bar:
        try:
            return summary(vectors, bar.update)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def quality_table(r: dict) -> str:
    lines = [f"  min angle     {r['min_angle_deg']:.6f}°"]
    if r["best_known_angle_deg"] is not None:
        own = "this project's own search; " if r.get("best_known_own") else ""
        lines[0] += f"   best known {r['best_known_angle_deg']:.6f}° ({own}short by {r['best_known_gap_deg']:.6f}°)"
    lines += [
        f"  min distance  {r['min_distance']:.9f}",
        f"  max cosine    {r['max_cosine']:.9f}",
        f"  gap (2R = 1)  {r['gap']:+.9f}",
    ]
    return "\n".join(lines)


def write_out(args, result: dict, text: list[str], vectors: np.ndarray, meta: dict, label: str) -> None:
    """Write ``vectors`` to ``args.out`` (if given) atomically; on failure print the result, then one line."""
    if not args.out:
        return
    try:
        write_code(args.out, vectors, meta)
    except OSError as exc:
        print_result(args, result, "\n".join(text))
        raise UsageError(f"{exc} (the result is printed above)") from None
    result["out"] = str(args.out)
    text.append(f"{label}{args.out}")


def print_result(args, result: dict, text: str) -> None:
    if args.json:
        try:
            print(json.dumps(result, allow_nan=False))
        except ValueError:
            raise UsageError("a result is not a finite number (NaN or infinity); nothing printed") from None
    else:
        print(text)
