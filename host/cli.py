"""The ``spherecode`` command line.

Every failure the user can cause or meet (bad numbers, bad files, unknown backends, a board or simulator
that fails, too little memory) ends in one line on stderr and exit status 2; results go to stdout, as a
short table or, with ``--json``, one JSON object; progress bars go to stderr and only appear on a
terminal, after two seconds. Ctrl-C ends a command with one line and status 130 (SIGTERM: 143, SIGHUP:
129), its worker processes and simulators stopped and no partial output file left.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from spherecode import __version__

from .argtypes import integer as _integer
from .argtypes import positive_float as _positive_float
from .argtypes import real_in
from .backends import BACKENDS, backend_class
from .link import BoardError
from .codefile import SUFFIXES, CodeFileError, check_writable, probe_create, read_code, regular_file, write_code
from .loosening import max_beta
from .metrics import edge_occurrences, gram_checks, summary
from .starts import StartTask, initial_vectors, run_starts

__all__ = ["main"]

#: Largest N for which ``verify`` lists edge-length occurrences (they hold N²/2 values).
EDGE_LIST_MAX = 4096
#: The most (N, start) tasks of one ``table`` (each is an object held, and a row of the file).
TABLE_TASKS_MAX = 1_000_000
#: Seconds of a run after which, off a terminal, the time still to go is estimated, and the least time to go
#: that is worth a line.
ESTIMATE_AFTER, LONG_RUN = 5.0, 60.0
#: The largest clock divisor of ``emulate`` (a UART bit of 65536 simulated cycles is already very slow).
TWIN_DIVISOR_MAX = 1 << 16
#: Seconds before a progress bar appears (none for short commands).
PROGRESS_DELAY = 2.0


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that every ``finally`` runs (exit 128 + signal)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    _ignore_further()
    raise Terminated(signum)


def _interrupt(signum, frame):
    _ignore_further()
    raise KeyboardInterrupt


def _ignore_further() -> None:
    """After the first interrupt, the next ones would only break the clean-up (workers, simulators and
    temporary files being stopped and removed, a bounded wait): ignore them until the command returns."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the whole usage; one line is the contract
        raise UsageError(message)


def _out_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"--out must end in one of {', '.join(SUFFIXES)}, got {text!r}")
    try:
        check_writable(path)  # before the run, not after it
    except CodeFileError as exc:
        raise argparse.ArgumentTypeError(f"--out {exc}") from None
    return path


def _progress(total: int, unit: str):
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (CI, pipes); delay: none for short runs.
    # Iterations advance by fractions (blocks of rows, :class:`_Iterations`): one decimal.
    fmt = "{l_bar}{bar}| {n:.1f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]" if unit == "it" else None
    return tqdm(
        total=total, unit=unit, file=sys.stderr, disable=None, delay=PROGRESS_DELAY, leave=False, bar_format=fmt
    )


def _common(p: argparse.ArgumentParser, with_points: bool = True) -> None:
    p.add_argument("--dim", "-d", type=_integer("--dim", 2), required=True, help="dimension D (≥ 2)")
    if with_points:
        p.add_argument("--points", "-n", type=_integer("--points", 2), required=True, help="number of points N (≥ 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


#: Arrays of N × D float64 a run holds at once (vectors, two candidates, force, copies in the metrics), on
#: top of the blocked pairwise work arrays: the basis of the memory check before a run.
_ARRAYS = 12


def _prepare(args, names: list[str]) -> None:
    """Refuse what the chosen backends cannot do before any work starts: the memory of this machine, the
    β the run asks for; backends that cannot run starts in parallel (one serial port) take turns."""
    _check_memory(args)
    classes = [backend_class(name) for name in names]
    _check_fixed_point_options(args, names)
    for cls in classes:
        _check_beta(args, cls)
    if not all(cls.parallel for cls in classes):
        args.jobs = 1


def _options(args, names: list[str], threads: int) -> dict[str, dict]:
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


def _check_fixed_point_options(args, names: list[str]) -> None:
    """``--format`` and ``--lanes`` set the fixed-point backends' numbers: refused, not ignored, where every
    chosen backend computes in float64."""
    from .backends.hardware import FixedPointBackend

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


def _check_beta(args, cls) -> None:
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


def _check_memory(args, points: int | None = None, workers: int | None = None) -> None:
    """Refuse a size that cannot fit this machine's memory before anything is allocated: ``points``
    (default ``args.points``) in ``args.dim``, in each of ``workers`` (default: as many as run at once)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    points = args.points if points is None else points
    if workers is None:
        workers = 1 if getattr(args, "starts", 1) == 1 else min(args.starts, args.jobs or os.cpu_count() or 1)
    need = _ARRAYS * 8 * points * args.dim * workers
    if need > total:
        raise UsageError(
            f"--points {points} --dim {args.dim} needs about {need / 2**30:.3g} GiB of memory "
            f"({workers} worker(s)); this machine has {total / 2**30:.3g} GiB"
        )


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spherecode", description="Spherical codes by the variable-repulsion-force method.")
    p.add_argument("--version", action="version", version=f"spherecode {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="design a code with force loosening, best of several random starts")
    _common(run)
    run.add_argument("--iters", "-k", type=_integer("--iters", 1), default=3000, help="loosening iterations (3000)")
    run.add_argument("--starts", "-s", type=_integer("--starts", 1), default=1, help="independent starts (1)")
    run.add_argument("--seed", type=_integer("--seed", 0), default=0, help="random seed (0)")
    run.add_argument("--backend", "-b", choices=sorted(BACKENDS), default="reference")
    _backend_arguments(run)
    run.add_argument("--jobs", "-j", type=_integer("--jobs", 1), default=None, help="worker processes (all cores)")
    run.add_argument("--out", "-o", type=_out_path, help=f"write the best code ({', '.join(SUFFIXES)})")
    run.add_argument("--vs", choices=sorted(BACKENDS), help="also run the same starts on this backend, side by side")
    _method(run)

    verify = sub.add_parser("verify", help="metrics and Gram-matrix checks of a code file")
    verify.add_argument("file", help=f"code file ({', '.join(SUFFIXES)})")
    _common(verify, with_points=False)
    verify.add_argument("--tol", type=_positive_float("--tol"), default=1e-8, help="Gram check tolerance (1e-8)")
    verify.add_argument("--edge-tol", type=_positive_float("--edge-tol"), default=1e-6, help="edge grouping (1e-6)")

    polish = sub.add_parser("polish", help="climb from a code file to a local max–min optimum")
    polish.add_argument("file", help=f"code file ({', '.join(SUFFIXES)})")
    _common(polish, with_points=False)
    polish.add_argument("--out", "-o", type=_out_path, help=f"write the polished code ({', '.join(SUFFIXES)})")

    table = sub.add_parser("table", help="best codes for a range of N: every (N, start) a Dask task")
    table.add_argument("--dim", "-d", type=_integer("--dim", 2), required=True, help="dimension D (≥ 2)")
    table.add_argument("--points", "-n", type=_points_range, required=True, help="N range A..B (or one N)")
    table.add_argument(
        "--starts",
        "-s",
        type=_integer("--starts", 1),
        default=None,
        help="starts per N (8), or searches per N with --search (1)",
    )
    table.add_argument(
        "--search",
        type=_positive_float("--search"),
        default=None,
        metavar="SECONDS",
        help="each task an iterated search of this many seconds (method cg or vrf, polished)",
    )
    table.add_argument("--iters", "-k", type=_integer("--iters", 1), default=3000, help="iterations per start (3000)")
    table.add_argument("--seed", type=_integer("--seed", 0), default=0, help="random seed (0)")
    _method(table)
    table.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="tcp://HOST:PORT (or tls:// with Dask's TLS configuration) of a running Dask scheduler, "
        "which is trusted: it and its workers run the sweep's code and results (default: a "
        "LocalCluster here, over TLS with credentials of its own)",
    )
    table.add_argument(
        "--workers", type=_integer("--workers", 1), default=None, help="LocalCluster worker processes (all cores)"
    )
    table.add_argument(
        "--out", "-o", type=_table_path, required=True, help="the table, .tsv or .json; an existing one is resumed"
    )
    table.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    search = sub.add_parser("search", help="iterated local search: perturb the best code, re-optimise, polish")
    _common(search)
    search.add_argument(
        "--time", "-t", type=_positive_float("--time"), default=60.0, help="time budget in seconds (60)"
    )
    search.add_argument(
        "--method",
        "-m",
        choices=_search_methods(),
        default="cg",
        help="the method that re-optimises each perturbed code (cg)",
    )
    search.add_argument(
        "--target",
        type=_positive_float("--target"),
        default=None,
        help="stop at this minimum angle in degrees (default: the best known, where there is one)",
    )
    search.add_argument("--no-stop", action="store_true", help="go on until the time budget, whatever the angle")
    search.add_argument("--jobs", "-j", type=_integer("--jobs", 1), default=None, help="worker processes (all cores)")
    search.add_argument("--seed", type=_integer("--seed", 0), default=0, help="random seed (0)")
    search.add_argument("--out", "-o", type=_out_path, help=f"write the best code ({', '.join(SUFFIXES)})")

    bench = sub.add_parser("bench", help="time iterations of a backend")
    _common(bench)
    bench.add_argument("--backend", "-b", choices=sorted(BACKENDS), default="reference")
    _backend_arguments(bench)
    bench.add_argument("--repeats", "-r", type=_integer("--repeats", 1), default=5, help="timed iterations (5)")
    bench.add_argument("--beta", type=_positive_float("--beta"), default=8.0, help="repulsion exponent β (8)")
    bench.add_argument("--seed", type=_integer("--seed", 0), default=0, help="random seed (0)")
    bench.add_argument("--threads", type=_integer("--threads", 1), default=None, help="threads (all cores)")

    build = sub.add_parser("build", help="a board's bitstream and its timing/utilisation report (YoWASP)")
    build.add_argument("--board", type=_board, default=_default_board(), help=f"board ({_default_board()})")
    build.add_argument("--out", type=Path, default=None, help="build folder (build/BOARD)")
    build.add_argument("--seed", type=_integer("--seed", 0), default=1, help="nextpnr placement seed (1)")
    from spherecode.boards import ROUTERS

    build.add_argument(
        "--router",
        choices=ROUTERS,
        default="router1",
        help="nextpnr's router (router1); router2 can finish dense designs that router1 cannot",
    )
    build.add_argument(
        "--synth-only",
        action="store_true",
        help="yosys alone: does it fit? (minutes; no placement, timing or bitstream)",
    )
    build.add_argument(
        "--record",
        action="store_true",
        help="write the build's record (fmax, resources, clock, baud, core, seed, tool versions, "
        "commit, date) as the board's shipped record, boards/shipped/BOARD.json; "
        "only a whole build whose timing is met is recorded",
    )
    build.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    flash = sub.add_parser("flash", help="program a board with openFPGALoader")
    flash.add_argument("--board", type=_board, default=_default_board(), help=f"board ({_default_board()})")
    flash.add_argument("--bitstream", type=Path, default=None, help="bitstream (build/BOARD/top.bit)")
    flash.add_argument("--persist", action="store_true", help="write the configuration flash, not SRAM")
    flash.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    emulate = sub.add_parser("emulate", help="the board's whole design in Verilator behind a pseudo-terminal")
    emulate.add_argument("--board", type=_board, default=_default_board(), help=f"board ({_default_board()})")
    emulate.add_argument(
        "--divisor",
        type=_integer("--divisor", 4, TWIN_DIVISOR_MAX),
        default=8,
        help="clock cycles per UART bit in the twin (8)",
    )
    emulate.add_argument(
        "--loosening",
        action="store_true",
        help="the board's design with on-chip loosening (LOOSEN: a whole run per command); "
        "the boards ulx3s-85f-loosening and ecpix5-85f-loosening have it built in",
    )
    emulate.set_defaults(json=False)

    from .compare import add_arguments as _compare_arguments

    _compare_arguments(
        sub.add_parser("compare", help="software against hardware: time, energy and quality, a report with figures")
    )
    codebook = sub.add_parser("codebook", help="an IVF codebook: k-means++ beside MSE + a packing-gap penalty")
    source = codebook.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="data set: .npy of shape (M, dim); rows are normalised")
    source.add_argument("--synthetic", metavar="MxDIM", help="clustered synthetic data, e.g. 50000x128")
    codebook.add_argument(
        "--clusters",
        type=_integer("--clusters", 1),
        default=None,
        help="clusters of --synthetic (100, or the rows where fewer)",
    )
    codebook.add_argument(
        "--spread",
        type=real_in("--spread", 0, 1000),
        default=3.0,
        help="--synthetic noise: cosine to the centre ≈ 1/√(1 + spread²) (3)",
    )
    codebook.add_argument("--codewords", "-n", type=_integer("--codewords", 2), required=True, help="codebook size N")
    codebook.add_argument(
        "--lambda", dest="lam", type=real_in("--lambda", 0, 1e6), default=2.0, help="gap penalty weight λ (2; 0 … 1e6)"
    )
    codebook.add_argument("--steps", "-k", type=_integer("--steps", 1), default=5000, help="Adam steps (5000)")
    codebook.add_argument(
        "--batch",
        type=_integer("--batch", 1),
        default=2048,
        help="data rows per Adam step (2048; at least M: all rows)",
    )
    codebook.add_argument("--probe", type=_integer("--probe", 1), default=4, help="IVF lists scanned per query (4)")
    codebook.add_argument(
        "--queries", type=_integer("--queries", 1), default=1000, help="held-out queries for recall@10 (1000)"
    )
    codebook.add_argument("--seed", type=_integer("--seed", 0), default=0, help="random seed (0)")
    codebook.add_argument("--out", "-o", type=_out_path, help=f"write the joint codebook ({', '.join(SUFFIXES)})")
    codebook.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return p


def _search_methods() -> tuple[str, ...]:
    from .search import METHODS

    return METHODS


def _backend_arguments(p: argparse.ArgumentParser) -> None:
    """Every backend's own options (shared ones, such as ``--format``, declared once)."""
    for name in BACKENDS:
        backend_class(name).add_arguments(p)


def _method(p: argparse.ArgumentParser) -> None:
    from .methods import METHODS

    p.add_argument(
        "--method",
        "-m",
        choices=tuple(METHODS),
        default="vrf",
        help="; ".join(f"{m.name}: {m.description}" for m in METHODS.values()),
    )
    p.add_argument("--polish", action="store_true", help="climb each start's code to a local max–min optimum")


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
    from .table import SUFFIXES as TABLE_SUFFIXES

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


def _default_board() -> str:
    from spherecode.boards import DEFAULT

    return DEFAULT


def _board(text: str):
    from spherecode.boards import get_board

    try:
        return get_board(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Iterations:
    """Advances a bar counting iterations smoothly: by fractions as blocks of rows finish (backends that
    report them; an iteration is ``rows`` rows), and to the whole iteration when it ends.

    Where the bar is not shown (stderr is not a terminal) and ``total`` iterations are expected: once
    :data:`ESTIMATE_AFTER` seconds have passed, one line on stderr with the time still to go, if that is at
    least :data:`LONG_RUN` seconds (measured progress, extrapolated)."""

    def __init__(self, bar, rows: int, total: float | None = None):
        self.bar, self.rows, self.done = bar, rows, 0
        self.total, self.count, self.noted, self.t0 = total, 0.0, False, time.perf_counter()

    def on_rows(self, k: int) -> None:
        k = min(k, self.rows - 1 - self.done)  # never a whole iteration before it has ended
        if k > 0:
            self.done += k
            self._advance(k / self.rows)

    def on_step(self, _=None) -> None:
        self._advance(1 - self.done / self.rows)
        self.done = 0

    def _advance(self, x: float) -> None:
        self.bar.update(x)
        self.count += x
        if self.noted or not self.total or not getattr(self.bar, "disable", False):
            return
        elapsed = time.perf_counter() - self.t0
        if elapsed < ESTIMATE_AFTER or self.count <= 0:
            return
        self.noted = True
        left = elapsed * max(self.total - self.count, 0.0) / self.count
        if left >= LONG_RUN:
            print(
                f"spherecode: note: about {_duration(left)} to go ({100 * self.count / self.total:.2g} % of "
                f"{self.total:g} iteration(s) done in {elapsed:.0f} s)",
                file=sys.stderr,
                flush=True,
            )


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


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
    with _progress(args.iters * args.starts if single else args.starts, "it" if single else "start") as bar:
        steps = _Iterations(bar, 2 * args.points, args.iters * args.starts)  # an iteration: two updates of N rows
        try:
            best, results = run_starts(
                tasks,
                jobs=args.jobs,
                on_done=None if single else (lambda _: bar.update(1)),
                on_step=steps.on_step if single else None,
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
        **_summary(best.vectors),
        "seconds": seconds,
        **report,
    }
    return result, best


def _summary(vectors: np.ndarray) -> dict:
    """:func:`summary`, with a progress bar (it is O(N²)) and NaN refused."""
    with _progress(2 * len(vectors), "row") as bar:
        try:
            return summary(vectors, bar.update)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def _cmd_run(args) -> tuple[dict, str, int]:
    from .methods import get_method

    method = get_method(args.method)
    if method.host_only:
        for option, backend in (("--backend", args.backend), ("--vs", args.vs or args.backend)):
            if backend not in method.backends:
                raise UsageError(
                    f"--method {args.method} runs in float64 only (--backend "
                    f"{' or '.join(method.backends)}), not {option} {backend}"
                )
    names = [args.backend] + ([args.vs] if args.vs else [])
    _prepare(args, names)
    # One process running the starts in turn gives each update all cores; worker processes get one each.
    single = args.starts == 1 or args.jobs == 1
    options = _options(args, names, (os.cpu_count() or 1) if single else 1)
    result, best = _run_backend(args, args.backend, options[args.backend])
    result = {"command": "run", **result, "out": None}
    failed = None
    if args.out:
        try:
            write_code(args.out, best.vectors, {k: result[k] for k in ("backend", "iterations", "starts", "seed")})
            result["out"] = str(args.out)
        except OSError as exc:  # the result is still printed; the old file, if any, is intact
            failed = str(exc)
    text = [_headline(args, result), _quality_table(result)]
    runs = {args.backend: best.stats}
    if args.vs:
        other, other_best = _run_backend(args, args.vs, options[args.vs])
        runs[args.vs] = other_best.stats
        result["vs"] = other
        text += [
            _headline(args, other),
            _quality_table(other),
            f"  difference    {result['min_angle_deg'] - other['min_angle_deg']:+.6f}° in the minimum angle",
        ]
    if args.method == "vrf":
        from .hwtime import iteration_comparison

        on_board = backend_class(args.backend).modelled_board(options[args.backend])
        fields, lines = iteration_comparison(args.points, args.dim, runs, on_board)
        result.update(fields)
        text += lines
    if result["out"]:
        text.append(f"  wrote         {args.out}")
    if failed:
        _print(args, result, "\n".join(text))
        raise UsageError(f"{failed} (the result is printed above)")
    return result, "\n".join(text), 0


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


def _quality_table(r: dict) -> str:
    lines = [f"  min angle     {r['min_angle_deg']:.6f}°"]
    if r["best_known_angle_deg"] is not None:
        lines[0] += f"   best known {r['best_known_angle_deg']:.6f}° (short by {r['best_known_gap_deg']:.6f}°)"
    lines += [
        f"  min distance  {r['min_distance']:.9f}",
        f"  max cosine    {r['max_cosine']:.9f}",
        f"  gap (2R = 1)  {r['gap']:+.9f}",
    ]
    return "\n".join(lines)


def _cmd_verify(args) -> tuple[dict, str, int]:
    try:
        vectors = read_code(args.file, args.dim)
    except CodeFileError as exc:
        raise UsageError(str(exc)) from None
    n = vectors.shape[0]
    metrics = _summary(vectors)
    gram = gram_checks(vectors, args.tol)
    edges = edge_occurrences(vectors, args.edge_tol) if n <= EDGE_LIST_MAX else None
    ok = gram["valid"]
    result = {"command": "verify", "file": args.file, **metrics, "gram": gram, "valid": ok}
    result["edge_occurrences"] = edges
    text = [f"spherecode verify: {args.file}: D={args.dim} N={n}", _quality_table(result)]
    text.append(f"  max |norm−1|  {result['max_norm_error']:.3e}")
    if edges is not None:
        shown = ", ".join(f"{e['count']}×{e['cosine']:.6f}" for e in edges[:4])
        text.append(f"  edges         {len(edges)} distinct inner products (largest: {shown})")
    else:
        text.append(f"  edges         not listed for N > {EDGE_LIST_MAX}")
    graph = result["contacts"] = _contacts(vectors)
    if graph is not None:
        text.append(
            f"  contacts      {graph['edges']} pairs at the minimum distance, {graph['min_contacts']}–"
            f"{graph['max_contacts']} per point, {len(graph['rattlers'])} rattler(s)"
        )
    checks = [("symmetric", "symmetric"), ("unit diagonal", "unit_diagonal"), ("rank ≤ D", "rank_ok"), ("PSD", "psd")]
    text.append("  Gram          " + ", ".join(f"{label} {'yes' if gram[key] else 'NO'}" for label, key in checks))
    text.append("  valid spherical code" if ok else "  NOT a valid spherical code within the tolerance")
    return result, "\n".join(text), 0 if ok else 1


def _contacts(vectors: np.ndarray) -> dict | None:
    """The contact graph (pairs within 1e−9 of the minimum distance), for N ≤ ``EDGE_LIST_MAX``."""
    from .polish import contacts

    return contacts(vectors) if len(vectors) <= EDGE_LIST_MAX else None


def _write_out(args, result: dict, text: list[str], vectors: np.ndarray, meta: dict, label: str) -> None:
    """Write ``vectors`` to ``args.out`` (if given) atomically; on failure print the result, then one line."""
    if not args.out:
        return
    try:
        write_code(args.out, vectors, meta)
    except OSError as exc:
        _print(args, result, "\n".join(text))
        raise UsageError(f"{exc} (the result is printed above)") from None
    result["out"] = str(args.out)
    text.append(f"{label}{args.out}")


def _cmd_polish(args) -> tuple[dict, str]:
    from .polish import polish

    try:
        vectors = read_code(args.file, args.dim)
    except CodeFileError as exc:
        raise UsageError(str(exc)) from None
    before = _summary(vectors)
    if before["min_distance"] == 0:  # the minimum distance has no direction to climb in
        raise UsageError(f"{args.file}: two points coincide (minimum distance 0): polish needs distinct points")
    t0 = time.perf_counter()
    with _progress(None, "round") as bar:
        try:
            polished, stats = polish(vectors, on_round=lambda *_: bar.update(1))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    seconds = time.perf_counter() - t0
    after = _summary(polished)
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
        _quality_table(result),
    ]
    _write_out(args, result, text, polished, {"polished_from": args.file}, "  wrote         ")
    return result, "\n".join(text)


def _cmd_table(args) -> tuple[dict, str]:
    from .table import best_rows, sweep, table_tasks

    if args.starts is None:
        args.starts = 8 if args.search is None else 1
    count = (args.points.stop - args.points.start) * args.starts  # len() of a range fails beyond 2**63
    if count > TABLE_TASKS_MAX:
        raise UsageError(
            f"--points {args.points.start}..{args.points.stop - 1} with --starts {args.starts} is "
            f"{count} tasks; a table has at most {TABLE_TASKS_MAX}"
        )
    if args.scheduler is None:  # a cluster elsewhere has its own memory
        _check_memory(args, args.points.stop - 1, min(count, args.workers or len(os.sched_getaffinity(0))))
    try:
        tasks = table_tasks(
            args.dim, args.points, args.starts, args.iters, args.seed, args.method, args.polish, args.search
        )
        rows = sweep(tasks, args.out, scheduler=args.scheduler, workers=args.workers)
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
    return result, "\n".join(lines)


def _cmd_search(args) -> tuple[dict, str]:
    from .search import Search

    _check_memory(args)
    with _progress(math.ceil(args.time), "s") as bar:

        def progress(search: Search) -> None:
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
                on_progress=progress,
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
        **_summary(best),
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
        _quality_table(result),
    ]
    _write_out(args, result, text, best, _search_meta(args, search), "  wrote         ")
    return result, "\n".join(text)


def _search_meta(args, search) -> dict:
    return {
        "command": "search",
        "method": args.method,
        "seed": args.seed,
        "rounds": search.rounds,
        "seconds": round(search.elapsed, 3),
    }


def _cmd_bench(args) -> tuple[dict, str]:
    _prepare(args, [args.backend])
    threads = args.threads or os.cpu_count() or 1
    cls = backend_class(args.backend)
    options = _options(args, [args.backend], threads)[args.backend]
    task = StartTask(args.backend, args.dim, args.points, 0, args.seed, 0, 1, options)
    try:
        vectors = initial_vectors(task)
        backend = cls(**options)
    except (ValueError, BoardError) as exc:
        raise UsageError(f"backend {args.backend}: {exc}") from None
    times = []
    cycles = 0
    try:
        with _progress(args.repeats + 1, "it") as bar:
            steps = _Iterations(bar, args.points, args.repeats + 1)
            if hasattr(backend, "on_rows"):
                backend.on_rows = steps.on_rows
            vectors = backend.update(vectors, args.beta).vectors  # warm-up, not timed
            steps.on_step()
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                t = time.perf_counter()
                update = backend.update(vectors, args.beta)
                times.append(time.perf_counter() - t)
                vectors = update.vectors
                cycles += update.stats.get("cycles", 0)
                steps.on_step()
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
        **_summary(vectors),
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
    return result, text


def _cmd_build(args) -> tuple[dict, str, int]:
    from spherecode.boards.build import BuildError, build

    cfg = args.board
    out = args.out or Path("build") / cfg.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if args.record and args.synth_only:
        raise UsageError("--record: a synthesis-only build has no post-route figures to record")
    if args.record:
        from spherecode.boards.records import SHIPPED

        from .codefile import probe_create

        try:
            probe_create(SHIPPED / f"{cfg.name}.json")
        except OSError as exc:
            raise UsageError(f"--record: cannot write in {SHIPPED}: {exc.strerror or exc}") from None
    try:
        r = build(cfg, out, seed=args.seed, synth_only=args.synth_only, router=args.router)
    except BuildError as exc:
        raise UsageError(str(exc)) from None
    r = {"command": "build", **r}
    u = r["utilisation"]
    rows = "\n".join(f"  {k:<6} {v['used']:>7} / {v['available']}" for k, v in u.items() if v["used"] is not None)
    if args.synth_only:
        verdict = "fits" if r["fits"] else "does NOT fit"
        return (
            r,
            (
                f"spherecode build --synth-only: {cfg.name} ({r['device']}), {r['format']}: {verdict} "
                f"(yosys cell counts)\n{rows}\n  ({r['seconds']:.0f} s)"
            ),
            0 if r["fits"] else 1,
        )
    verdict = "met" if r["timing_met"] else "FAILED"
    text = (
        f"spherecode build: {cfg.name} ({r['device']}), {r['format']}, Nmax {cfg.nmax}, Dmax {cfg.dmax}, "
        f"{cfg.lanes} lane(s)\n"
        f"  timing {verdict}: fmax {r['fmax_mhz']:.1f} MHz for a {r['clock_mhz']:g} MHz clock (post-route)\n"
        f"{rows}\n  bitstream {r['bitstream']}  ({r['seconds']:.0f} s)"
    )
    if args.record:
        from spherecode.boards.records import record_of, write_record

        if r["timing_met"]:
            r["record"] = str(write_record(record_of(cfg, r, args.seed, args.router)))
            text += f"\n  record {r['record']}"
        else:
            r["record"] = None
            text += "\n  not recorded: timing failed"
    return r, text, 0 if r["timing_met"] else 1


def _cmd_flash(args) -> tuple[dict, str]:
    from spherecode.boards.flash import FlashError, flash

    cfg = args.board
    bitstream = args.bitstream or Path("build") / cfg.name / cfg.bitstream_name
    try:
        last = flash(cfg, bitstream, persist=args.persist)
    except FlashError as exc:
        raise UsageError(str(exc)) from None
    return (
        {"command": "flash", "board": cfg.name, "bitstream": str(bitstream), "message": last},
        f"spherecode flash: {cfg.name} programmed from {bitstream}: {last}",
    )


def _cmd_emulate(args) -> int:
    from spherecode.sim.twin import serve

    cfg = args.board
    print(
        f"spherecode emulate: {cfg.name} ({cfg.fmt}, Nmax {cfg.nmax}, Dmax {cfg.dmax}, {cfg.lanes} lane(s)"
        f"{', on-chip loosening' if args.loosening else ''}); building the twin (cached after the first time)…",
        file=sys.stderr,
    )
    try:
        return serve(cfg.twin(args.divisor, args.loosening), args.divisor)
    except RuntimeError as exc:  # the twin could not be built (SimError) or died before printing its pty
        raise UsageError(f"emulate: {exc}") from None


def _cmd_compare(args) -> tuple[dict, str, int]:
    from .compare import command

    try:
        return command(args, _progress)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _cmd_codebook(args) -> tuple[dict, str]:
    from . import codebook as cb

    try:
        if args.data is not None:
            if args.clusters is not None:
                raise ValueError("--clusters applies to --synthetic data only")
            data = cb.load_data(args.data)
            order = np.random.default_rng([args.seed, 0x9E]).permutation(len(data))
            if args.queries >= len(data):
                raise ValueError(f"--queries must be below the data's {len(data)} rows, not {args.queries}")
            data, queries = data[order[args.queries :]], data[order[: args.queries]]
            source = args.data
        else:
            m, dim = cb.parse_shape(args.synthetic)
            clusters = args.clusters or min(100, m + args.queries)  # the default: no more centres than rows
            all_rows = cb.synthetic(m + args.queries, dim, clusters, args.seed, args.spread)
            data, queries = all_rows[:m], all_rows[m:]
            source = f"synthetic {m}x{dim}, {clusters} clusters, spread {args.spread:g}"
        with _progress(None, "step") as bar:
            result, joint = cb.compare(
                data,
                queries,
                args.codewords,
                args.lam,
                args.steps,
                args.seed,
                args.probe,
                args.batch,
                on_progress=bar.update,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = {
        "command": "codebook",
        "data": source,
        "points": len(data),
        "dim": data.shape[1],
        "queries": len(queries),
        "codewords": args.codewords,
        "lambda": args.lam,
        "steps": args.steps,
        "batch": min(args.batch, len(data)),
        "probe": args.probe,
        "seed": args.seed,
        **result,
        "out": None,
    }
    km, jt, ch = result["kmeans"], result["joint"], result["change"]
    text = [
        f"spherecode codebook: {source}, {len(queries)} queries; N={args.codewords}, λ={args.lam:g}, "
        f"{args.steps} steps, probe {args.probe}, seed {args.seed}",
        "              MSE        min distance   recall@10   seconds",
        f"  k-means++   {km['mse']:.6f}   {km['min_distance']:.6f}       {km['recall']:.4f}      {km['seconds']:.1f}",
        f"  joint       {jt['mse']:.6f}   {jt['min_distance']:.6f}       {jt['recall']:.4f}      {jt['seconds']:.1f}",
        f"  change      {ch['mse_pct']:+.2f} %    {ch['min_distance_pct']:+.2f} %        "
        f"{ch['recall_points']:+.2f} pt   (target min distance {result['target']:.6f})",
    ]
    _write_out(args, result, text, joint, {"codebook": source, "lambda": args.lam, "seed": args.seed}, "  wrote       ")
    return result, "\n".join(text)


def _print(args, result: dict, text: str) -> None:
    if args.json:
        try:
            print(json.dumps(result, allow_nan=False))
        except ValueError:
            raise UsageError("a result is not a finite number (NaN or infinity); nothing printed") from None
    else:
        print(text)


def main(argv: list[str] | None = None) -> int:
    handlers = {signal.SIGINT: _interrupt, signal.SIGTERM: _terminate, signal.SIGHUP: _terminate}
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, h) for signum, h in handlers.items()} if main_thread else {}
    status = _main(argv)
    if status < 128:  # after an interrupt the signals stay ignored: the process is only exiting now
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def _main(argv: list[str] | None) -> int:
    args = None
    try:
        args = _parser().parse_args(argv)
        status = 0
        if args.command == "run":
            result, text, status = _cmd_run(args)
        elif args.command == "verify":
            result, text, status = _cmd_verify(args)
        elif args.command == "polish":
            result, text = _cmd_polish(args)
        elif args.command == "table":
            result, text = _cmd_table(args)
        elif args.command == "search":
            result, text = _cmd_search(args)
        elif args.command == "build":
            result, text, status = _cmd_build(args)
        elif args.command == "flash":
            result, text = _cmd_flash(args)
        elif args.command == "emulate":
            return _cmd_emulate(args)
        elif args.command == "compare":
            result, text, status = _cmd_compare(args)
        elif args.command == "codebook":
            result, text = _cmd_codebook(args)
        else:
            result, text = _cmd_bench(args)
        _print(args, result, text)
        return status
    except Terminated as exc:
        print(f"spherecode: terminated ({signal.Signals(exc.signum).name}){getattr(exc, 'note', '')}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:
        print(f"spherecode: interrupted{getattr(exc, 'note', '')}", file=sys.stderr)
        return 130
    except (UsageError, BoardError, CodeFileError) as exc:
        return _error(exc)
    except MemoryError:
        return _error("out of memory: try fewer --points, a smaller --dim or fewer --jobs")
    except OSError as exc:
        return _error(exc)
    except RuntimeError as exc:
        from spherecode.sim.verilator import SimError

        if isinstance(exc, SimError):
            return _error(exc)
        raise


def _error(message) -> int:
    line = " ".join(str(message).split()) or type(message).__name__
    print(f"spherecode: error: {line}", file=sys.stderr)
    return 2
