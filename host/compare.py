"""``spherecode compare``: the co-design report — software against hardware in speed, energy and quality
(the paper's Figure 3, Table II and Figure 4; Stanojević, Šenk, Milutinović, §III.C and §IV).

:func:`compare` measures and models everything and returns the report as one JSON-able dict;
:func:`write_report` turns it into ``report.md``, ``report.json`` and figures (PNG and SVG) in a folder,
all files written to a temporary folder first and moved into place only when complete.

- **Time per update** (the paper's iteration: steps 1–5 for all N vectors; a force-loosening iteration is
  two). Software: the float64 reference measured here on one thread (BLAS held to one thread: the paper's
  baseline) and on all cores. Hardware, per board: :func:`~spherecode.host.hwtime.update_time` (the core's
  cycle formula at the board's clock plus the protocol's bytes at its baud rate; host-run loosening). Two
  checks in the same run: the formula against the simulated RTL's cycle counter, and the link model's byte
  count against one exchange with the board's twin (bytes counted on its pty, and its core's counter).
- **Whole runs** of K force-loosening iterations (two updates each): software as 2K times its measured
  time per update; per board, host-run loosening (2K modelled updates, each a full exchange) and, on a board
  whose core loosens on chip, :func:`~spherecode.host.hwtime.chip_run_time` (the run's exact cycle formula
  plus one exchange).
- **Energy** per update and per pair: CPU power from RAPL where readable, else a per-core figure; board
  power from :mod:`~spherecode.host.power`'s model. Each figure is labelled measured or modelled.
- **Quality**: best of S starts of force loosening for each (D, N), in float64 and in the bit-exact model
  in Q3.44 and in each board's format, beside the best-known codes.
- **Formats and lanes**: per board, lanes, clock, post-route fmax (the last ``spherecode build`` report
  under ``build/NAME/``, or the board's shipped build record, saying which), pairs/s and the quality
  the board's format costs against float64.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..boards import BOARDS, DEFAULT, TWIN_DIVISOR, BoardConfig, get_board
from ..boards.records import source_commit
from ..hw.config import NMAX_LIMIT
from .argtypes import integer, watts
from .bestknown import best_known
from .hwtime import BITS_PER_BYTE, chip_run_time, core_cycles, exchange_bytes, misfit, update_time
from .pairs import blas
from .power import PowerModel, Rapl, board_power
from .backends.reference import random_start, reference_update

__all__ = ["Options", "QUICK", "FULL", "compare", "write_report", "crossover", "add_arguments", "command"]

#: β of the timed updates (the time does not depend on it; ``spherecode bench`` uses the same).
BETA = 8.0
#: Timed updates repeat until this many seconds have passed (and at least MIN_REPEATS times).
MIN_SECONDS, MIN_REPEATS = 0.2, 3
#: The simulated core for the cycle check: the board's format, Dmax and lanes at this Nmax (the smallest
#: configuration the RTL tests build, so that the Verilator build is shared), one update of N × Dmax.
CHECK_NMAX, CHECK_POINTS = 16, 12
#: The twin exchange for the link check: N vectors in the board's Dmax.
TWIN_POINTS = 16


@dataclass(frozen=True)
class Options:
    """What one report measures. ``points``/``dims``: the timing sweep (Figure 3); ``quality_points``/
    ``quality_dims``, ``starts``, ``iters``, ``seed``: the quality runs (Figure 4); ``run_iters``: K of the
    whole runs (modelled from the timing sweep; 3000 by default); ``boards``: board
    names; ``jobs``: worker processes for the starts (None: all cores); ``builds``: where ``spherecode
    build`` left its reports; ``power``: the power model in force."""

    points: tuple[int, ...]
    dims: tuple[int, ...]
    quality_points: tuple[int, ...]
    quality_dims: tuple[int, ...]
    starts: int
    iters: int
    boards: tuple[str, ...] = tuple(BOARDS)
    seed: int = 0
    jobs: int | None = None
    builds: str = "build"
    quick: bool = False
    power: PowerModel = field(default_factory=PowerModel)
    run_iters: int = 3000

    def __post_init__(self):
        for name, low in (("points", 4), ("quality_points", 2)):
            values = getattr(self, name)
            if not values or any(
                isinstance(v, bool) or not isinstance(v, int) or not low <= v <= NMAX_LIMIT for v in values
            ):
                raise ValueError(f"{name} must be integers in {low} … {NMAX_LIMIT}, not {values!r}")
        for name, high in (("dims", 64), ("quality_dims", 7)):
            values = getattr(self, name)
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= high for v in values):
                raise ValueError(f"{name} must be integers in 2 … {high}, not {values!r}")
        if isinstance(self.starts, bool) or not isinstance(self.starts, int) or self.starts < 1:
            raise ValueError(f"starts must be an integer ≥ 1, not {self.starts!r}")
        if isinstance(self.run_iters, bool) or not isinstance(self.run_iters, int) or self.run_iters < 1:
            raise ValueError(f"run_iters must be an integer ≥ 1, not {self.run_iters!r}")
        from .loosening import max_beta
        from ..hw.datapath import HALF_BETA_RANGE

        if (
            isinstance(self.iters, bool)
            or not isinstance(self.iters, int)
            or self.iters < 1
            or max_beta(self.iters) / 2 > HALF_BETA_RANGE[1]
        ):
            raise ValueError(
                f"iters must be an integer in 1 … {int(HALF_BETA_RANGE[1] // 2 - 1)} (the hardware's "
                f"β range), not {self.iters!r}"
            )
        for name in self.boards:
            get_board(name)  # ValueError naming the known ones

    def command_line(self, out: str) -> str:
        """The command that writes this report again (every option explicit)."""
        words = ["spherecode", "compare"] + (["--quick"] if self.quick else [])
        for b in self.boards:
            words += ["--board", b]
        words += [
            "--points",
            *map(str, self.points),
            "--dims",
            *map(str, self.dims),
            "--quality-points",
            *map(str, self.quality_points),
            "--quality-dims",
            *map(str, self.quality_dims),
            "--starts",
            str(self.starts),
            "--iters",
            str(self.iters),
            "--run-iters",
            str(self.run_iters),
            "--seed",
            str(self.seed),
        ]
        if self.jobs:
            words += ["--jobs", str(self.jobs)]
        if self.builds != "build":
            words += ["--builds", self.builds]
        words += ["--out", out]
        overrides = {k: v for k, v in self.power.values.items() if self.power.kinds[k].startswith("override")}
        if overrides:  # the same numbers through --power FILE.json
            words += ["--power", "FILE.json", f"  # FILE.json = {json.dumps(overrides)}"]
        return " ".join(words)


#: The two presets: ``--quick`` (CI, under two minutes) and the full report (under 30 minutes, 2 cores).
QUICK = dict(
    points=(4, 16, 64, 256, 1024),
    dims=(3,),
    quality_points=(6, 12),
    quality_dims=(3, 4),
    starts=4,
    iters=150,
    quick=True,
)
FULL = dict(
    points=tuple(4 << k for k in range(12)),
    dims=(3, 6),
    quality_points=(6, 12, 24, 48),
    quality_dims=(3, 4, 5, 6),
    starts=32,
    iters=500,
    quick=False,
)


class _Steps:
    """A progress bar's ``update``, or nothing."""

    def __init__(self, bar=None):
        self.bar = bar

    def __call__(self, k: float = 1) -> None:
        if self.bar is not None:
            self.bar.update(k)


def compare(options: Options, progress: Callable | None = None, say: Callable[[str], None] | None = None) -> dict:
    """Measure and model everything of ``options``; returns the report (JSON-able). ``progress(total,
    unit)`` may give a context-managed bar with ``update(k)`` (the CLI's tqdm bar); ``say(line)`` is told
    which simulators the checks build before they are built."""
    boards = [get_board(b) for b in options.boards]
    cores = os.cpu_count() or 1
    rapl = Rapl()
    groups = _quality_groups(options, boards)
    simulators = _simulators(boards)
    total = (
        len(options.points) * len(options.dims) * 2
        + sum(options.starts for _ in groups)
        + 2 * len(boards)
        + len(simulators)
    )
    load_before = _load()
    if say and simulators:
        say(
            f"compare: building {len(simulators)} simulator(s) for the checks, {_build_workers(cores)} at a time "
            f"(cached after the first time): " + "; ".join(name for name, _ in simulators)
        )
    with progress(total, "step") if progress else contextlib.nullcontext() as bar:
        steps = _Steps(bar)
        _build_simulators(simulators, cores, steps)
        software = _software(options, cores, rapl, steps)
        load_software = _load()
        checks = _checks(boards, steps)
        quality = _quality(options, groups, steps)
    hardware, builds = _hardware(options, boards)
    report = {
        "command": "compare",
        "quick": options.quick,
        "commit": source_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            **_machine(cores, rapl),
            "load_average": {"start": load_before, "after_timing": load_software, "end": _load()},
        },
        "options": {k: v for k, v in asdict(options).items() if k != "power"},
        "unit": "one update = the paper's steps 1–5 for all N vectors (its 'iteration'); a force-loosening "
        "iteration is two updates, on both sides",
        "software": software,
        "hardware": hardware,
        "builds": builds,
        "power_model": options.power.table(),
        "checks": checks,
        "quality": quality,
    }
    report["speed"] = _speed(report, boards)
    report["runs"] = _runs(report, boards, options.run_iters)
    report["formats"] = _formats(report, boards)
    return report


# ------------------------------------------------------------------------------------------------ software


def _software(options: Options, cores: int, rapl: Rapl, steps) -> list[dict]:
    rows = []
    rng = np.random.default_rng(options.seed)
    for d in options.dims:
        for n in options.points:
            vectors = random_start(n, d, rng)
            for threads in (1, cores):
                rows.append(_time_software(vectors, threads, cores, rapl, options.power))
                steps()
    return rows


def _time_software(vectors: np.ndarray, threads: int, cores: int, rapl: Rapl, power: PowerModel) -> dict:
    """Seconds per update of the float64 reference on ``threads`` threads, median of the timed updates, with
    the CPU's power: RAPL around the timed updates, or the per-core figure × cores busy.

    One thread (BLAS held to it too): the thread's CPU time (``time.thread_time``), which other work
    sharing the cores does not inflate — on a quiet machine it equals the wall time. All cores: wall time,
    which such work does inflate. Both are reported (``cpu_seconds`` for one thread, ``wall_seconds``)."""
    n, d = vectors.shape
    wall: list[float] = []
    cpu: list[float] = []

    def work():
        reference_update(vectors, BETA, threads=threads)  # warm-up, not timed
        t_end = time.perf_counter() + MIN_SECONDS
        while len(wall) < MIN_REPEATS or time.perf_counter() < t_end:
            t, c = time.perf_counter(), time.thread_time()
            reference_update(vectors, BETA, threads=threads)
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - t)

    if threads == 1:
        with blas().limit(limits=1, user_api="blas"):
            _, watts = rapl.measure(work)
        seconds, clock = statistics.median(cpu), "CPU time of the one computing thread"
    else:
        _, watts = rapl.measure(work)
        seconds, clock = statistics.median(wall), "wall clock"
    busy = 1 if threads == 1 else cores
    if watts is None:
        watts, kind = busy * power.values["cpu_watts_per_core"], "modelled"
        source = f"{busy} core(s) × cpu_watts_per_core ({power.kinds['cpu_watts_per_core']})"
    else:
        kind, source = "measured", "RAPL package energy around the timed updates"
    return {
        "points": n,
        "dim": d,
        "threads": threads,
        "seconds": seconds,
        "clock": clock,
        "wall_seconds": statistics.median(wall),
        "cpu_seconds": statistics.median(cpu) if threads == 1 else None,
        "repeats": len(wall),
        "time": "measured",
        "watts": watts,
        "power": kind,
        "power_source": source,
        "joules": watts * seconds,
        "joules_per_pair": watts * seconds / (n * (n - 1)),
    }


def _load() -> float | None:
    """The 1-minute load average (other work sharing the cores while this one was timed), or None."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine(cores: int, rapl: Rapl) -> dict:
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rapl": rapl.available,
        "platform": platform.platform(),
    }


# ------------------------------------------------------------------------------------------------ hardware


def _build_figures(board: BoardConfig, builds: str) -> dict:
    """fmax and resource counts: the last ``spherecode build`` report under ``builds/NAME``, else the
    board's shipped build record (:attr:`~spherecode.boards.BoardConfig.record`)."""
    folder = Path(builds) / board.name
    if (folder / "report.json").exists():
        from ..boards.build import report

        try:
            r = report(board, folder)
            util = r["utilisation"]
            return {
                "fmax_mhz": r["fmax_mhz"],
                "timing_met": r["timing_met"],
                "resources": {k: (v["used"] or 0) for k, v in util.items()},
                "source": f"measured: the last `spherecode build` report, {folder / 'report.json'}",
            }
        except (OSError, ValueError, KeyError, TypeError):
            pass
    shipped = board.record
    if shipped is None:
        return {"fmax_mhz": None, "resources": {}, "source": "no build report and no shipped build record"}
    return {
        "fmax_mhz": shipped["fmax_mhz"],
        "resources": {k: v["used"] for k, v in shipped["utilisation"].items()},
        "source": f"shipped build record (boards/shipped/{board.name}.json)",
    }


def _board_joules(power: dict, seconds: float, compute_s: float) -> float:
    """A board's modelled energy (:func:`~spherecode.host.power.board_power`'s ``power``): idle power over
    the whole ``seconds``, dynamic power while the core computes (``compute_s``)."""
    return power["idle_w"] * seconds + power["dynamic_w"] * compute_s


def _hardware(options: Options, boards: list[BoardConfig]) -> tuple[list[dict], dict]:
    rows, builds = [], {}
    for board in boards:
        build = builds[board.name] = _build_figures(board, options.builds)
        watts = board_power(options.power, board.name, build["resources"], board.clock_hz)
        build["power"] = watts
        for d in options.dims:
            for n in options.points:
                why = misfit(board, n, d)
                row = {"board": board.name, "points": n, "dim": d, "fits": why is None, "reason": why}
                if why is None:
                    t = update_time(board, n, d)
                    row.update(t.as_dict())
                    row["time"] = "modelled"
                    if watts["idle_w"] is not None:
                        joules = _board_joules(watts, t.seconds, t.compute_s)
                        row.update(
                            watts=joules / t.seconds,
                            joules=joules,
                            joules_per_pair=joules / (n * (n - 1)),
                            power="modelled",
                        )
                    else:
                        row.update(watts=None, joules=None, joules_per_pair=None, power="no model for this board")
                rows.append(row)
    return rows, builds


# ------------------------------------------------------------------------------------------------ checks


def _checked(boards: list[BoardConfig]) -> tuple[list[BoardConfig], list[BoardConfig]]:
    """The fitting ``boards`` whose core the cycle check simulates (one per distinct format, Dmax, lanes
    and loosening) and those whose twin the link check runs (one per distinct top)."""
    cores, tops = {}, {}
    for board in boards:
        if board.fits:
            core = (str(board.fmt), board.dmax, board.lanes, board.core.loosening)
            cores.setdefault(core, board)
            tops.setdefault((core, board.nmax, board.clock_hz, board.baud), board)
    return list(cores.values()), list(tops.values())


def _small(board: BoardConfig) -> BoardConfig:
    """``board`` with Nmax = CHECK_NMAX: the core the cycle check simulates."""
    return replace(board, core=replace(board.core, nmax=CHECK_NMAX))


def _simulators(boards: list[BoardConfig]) -> list[tuple[str, Callable[[], object]]]:
    """(what, build) for every simulator the checks need: the cycle check's cores and the link check's twins."""
    from ..hw.core import UpdaterCore
    from ..sim.core_server import build_core
    from ..sim.twin import build_twin

    cores, tops = _checked(boards)
    out = []
    for board in cores:
        kind = ", loosening" if board.core.loosening else ""
        out.append(
            (f"core {board.fmt}, {board.lanes} lane(s){kind}", lambda b=board: build_core(UpdaterCore(_small(b).core)))
        )
    for board in tops:
        out.append((f"{board.name}'s twin", lambda b=board: build_twin(b.twin(), TWIN_DIVISOR)))
    return out


def _build_workers(cores: int) -> int:
    """Simulators built at once: each build's compile already runs on every core (``make -j``), so one per
    two cores."""
    return max(1, cores // 2)


def _build_simulators(simulators, cores: int, steps) -> None:
    """Build (or find cached) every simulator of :func:`_simulators`, :func:`_build_workers` at a time. A
    failed build is left to its check, which reports it."""
    from concurrent.futures import ThreadPoolExecutor

    from ..sim.verilator import SimError

    def one(build):
        try:
            build()
        except (SimError, OSError, RuntimeError, TypeError, ValueError):
            pass

    with ThreadPoolExecutor(_build_workers(cores)) as pool:
        for _ in pool.map(one, [build for _, build in simulators]):
            steps()


def _checks(boards: list[BoardConfig], steps) -> dict:
    """The cycle formula against the simulated RTL, and the link model against the board twin, once per
    distinct core configuration among the fitting ``boards``."""
    cores, tops = _checked(boards)
    out = {"cycles": [_check_cycles(board) for board in cores], "link": [_check_link(board) for board in tops]}
    steps(2 * len(boards))
    return out


def _check_cycles(board: BoardConfig) -> dict:
    """One update of CHECK_POINTS × Dmax vectors on the RTL under Verilator (the board's format, Dmax and
    lanes, Nmax = CHECK_NMAX): its cycle counter against the formula."""
    from .backends.sim import SimBackend
    from ..sim.verilator import SimError

    small = _small(board)
    n, d = CHECK_POINTS, board.dmax
    kind = ", the loosening core" if board.core.loosening else ""
    result = {
        "boards": board.name,
        "config": f"{board.fmt}, Nmax {CHECK_NMAX}, Dmax {d}, {board.lanes} lane(s){kind}",
        "points": n,
        "dim": d,
        "formula": core_cycles(small, n, d),
    }
    try:
        with SimBackend(small.core) as sim:
            t0 = time.perf_counter()
            update = sim.update(random_start(n, d, np.random.default_rng(0)), BETA)
            result["wall_s"] = time.perf_counter() - t0
    except (SimError, ValueError, OSError) as exc:
        return {**result, "counter": None, "passed": False, "error": " ".join(str(exc).split())}
    result["counter"] = update.stats["cycles"]
    result["passed"] = result["counter"] == result["formula"]
    return result


class _Counting:
    """A serial port that counts the bytes written to it and read from it."""

    def __init__(self, port):
        self.inner, self.written, self.read_bytes = port, 0, 0
        self.port = getattr(port, "port", None)

    def write(self, data):
        self.written += len(data)
        return self.inner.write(data)

    def read(self, n=1):
        data = self.inner.read(n)
        self.read_bytes += len(data)
        return data

    def reset_input_buffer(self):
        return self.inner.reset_input_buffer()

    def close(self):
        return self.inner.close()


def _check_link(board: BoardConfig) -> dict:
    """One update of TWIN_POINTS × Dmax vectors through the board's twin (its whole top, UART included,
    under Verilator behind a pty): the bytes on the pty against :func:`exchange_bytes`, and its core's
    counter against the formula at the board's own configuration."""
    from .link import Board, BoardError, Link, open_port
    from ..sim.verilator import SimError
    from ..sim.twin import Twin

    n, d = TWIN_POINTS, board.dmax
    model = exchange_bytes(board, n, d)
    result = {
        "board": board.name,
        "points": n,
        "dim": d,
        "bytes_model": model["total"],
        "bytes_model_parts": model,
        "cycles_formula": core_cycles(board, n, d),
    }
    twin = Twin(board.twin(), TWIN_DIVISOR)
    port = None
    try:
        twin.start(timeout=60)
        port = _Counting(open_port(twin.port, board.baud))
        link = Link(port, board.baud, timeout=30.0, retries=0)
        dev = Board(link)
        port.written = port.read_bytes = 0
        raw, hb, c = dev.dp.inputs(random_start(n, d, np.random.default_rng(1)), BETA)
        t0 = time.perf_counter()
        _, cycles, _, _ = dev.iterate(raw, hb, c)
        result["wall_s"] = time.perf_counter() - t0
    except (BoardError, SimError, RuntimeError, OSError, ValueError) as exc:
        return {**result, "bytes_measured": None, "passed": False, "error": " ".join(str(exc).split())}
    finally:
        if port is not None:
            port.close()
        twin.close()
    result.update(
        bytes_written=port.written,
        bytes_read=port.read_bytes,
        bytes_measured=port.written + port.read_bytes,
        cycles_counter=cycles,
        twin_uart=f"{TWIN_DIVISOR} clock cycles per bit (the twin's; the board's is its baud rate)",
    )
    result["passed"] = result["bytes_measured"] == result["bytes_model"] and cycles == result["cycles_formula"]
    return result


# ------------------------------------------------------------------------------------------------ quality


def _quality_groups(options: Options, boards: list[BoardConfig]) -> list[tuple[int, int, str, str | None]]:
    """(D, N, backend, format) for every quality run: float64, Q3.44 and each board's format where the
    board holds N and D."""
    formats = {}
    for b in boards:
        if b.fits:
            formats.setdefault(str(b.fmt), []).append(b)
    groups = []
    for d in options.quality_dims:
        for n in options.quality_points:
            groups.append((d, n, "reference", None))
            groups.append((d, n, "model", "Q3.44"))
            for fmt, holders in formats.items():
                if fmt != "Q3.44" and any(misfit(b, n, d) is None for b in holders):
                    groups.append((d, n, "model", fmt))
    return groups


def _quality(options: Options, groups, steps) -> list[dict]:
    from concurrent.futures.process import BrokenProcessPool

    from ..hw.config import CoreConfig
    from .metrics import summary
    from .starts import StartTask, run_starts

    rows = []
    for d, n, backend, fmt in groups:
        opts = (
            {"threads": 1}
            if backend == "reference"
            else {"config": CoreConfig(fmt, max(64, 1 << (n - 1).bit_length()), max(3, d), 1), "threads": 1}
        )
        tasks = [
            StartTask(backend, d, n, options.iters, options.seed, k, options.starts, opts)
            for k in range(options.starts)
        ]
        t0 = time.perf_counter()
        try:
            best, _ = run_starts(tasks, jobs=options.jobs, on_done=lambda _: steps())
        except BrokenProcessPool:
            raise ValueError("a worker process of the quality runs died (killed, or out of memory?)") from None
        metrics = summary(best.vectors)
        known = best_known(d, n)
        rows.append(
            {
                "dim": d,
                "points": n,
                "backend": backend,
                "format": fmt,
                "starts": options.starts,
                "iters": options.iters,
                "seed": options.seed,
                "best_start": best.index,
                "seconds": time.perf_counter() - t0,
                "min_angle_deg": metrics["min_angle_deg"],
                "min_distance": metrics["min_distance"],
                "best_known_angle_deg": known.min_angle_deg if known else None,
                "best_known_distance": known.min_distance if known else None,
                "best_known_source": known.source if known else None,
            }
        )
    ref = {(r["dim"], r["points"]): r for r in rows if r["backend"] == "reference"}
    for r in rows:
        base = ref[r["dim"], r["points"]]
        r["delta_angle_deg"] = r["min_angle_deg"] - base["min_angle_deg"]
        r["short_of_best_known_deg"] = (
            r["best_known_angle_deg"] - r["min_angle_deg"] if r["best_known_angle_deg"] is not None else None
        )
    return rows


# ------------------------------------------------------------------------------------------------ summaries


def crossover(points: list[int], software: list[float], hardware: list[float]) -> float | None:
    """The N from which hardware stays faster: the first grid point from which hardware < software at every
    larger N, interpolated log–log with the point before it (None if hardware is not faster at the largest
    N; the first N itself if it is faster everywhere)."""
    ratio = [s / h for s, h in zip(software, hardware)]
    if not ratio or ratio[-1] <= 1:
        return None
    k = len(ratio) - 1
    while k > 0 and ratio[k - 1] > 1:
        k -= 1
    if k == 0:
        return float(points[0])
    x0, x1 = math.log(points[k - 1]), math.log(points[k])
    y0, y1 = math.log(ratio[k - 1]), math.log(ratio[k])
    return float(math.exp(x0 + (x1 - x0) * (0 - y0) / (y1 - y0)))


def _speed(report: dict, boards: list[BoardConfig]) -> list[dict]:
    """Per fitting board and D: the crossover against one thread, the ratio at the largest N that fits,
    and the asymptotic ratio (N → ∞: software's time per pair at its largest measured N against the
    core's 1/(lanes × clock) per pair; the link's O(N) share vanishes)."""
    one = {(r["dim"], r["points"]): r["seconds"] for r in report["software"] if r["threads"] == 1}
    out = []
    for board in boards:
        for d in sorted({r["dim"] for r in report["software"]}):
            hw = [r for r in report["hardware"] if r["board"] == board.name and r["dim"] == d and r["fits"]]
            entry = {"board": board.name, "dim": d}
            if not hw:
                entry.update(
                    crossover=None,
                    note=board.misfit
                    and "the core does not fit this board's device"
                    or f"no N in the sweep fits (Nmax {board.nmax}, Dmax {board.dmax})",
                )
                out.append(entry)
                continue
            pts = [r["points"] for r in hw]
            sw = [one[d, n] for n in pts]
            ht = [r["seconds"] for r in hw]
            biggest = max(n for (dd, n) in one if dd == d)
            per_pair_sw = one[d, biggest] / (biggest * (biggest - 1))
            entry.update(
                crossover=crossover(pts, sw, ht),
                largest_fitting=pts[-1],
                speedup_at_largest=sw[-1] / ht[-1],
                compute_only_speedup_at_largest=sw[-1] / hw[-1]["compute_s"],
                asymptotic_speedup=per_pair_sw * board.lanes * board.clock_hz,
                software_points=biggest,
                link_share_at_largest=hw[-1]["link_s"] / hw[-1]["seconds"],
            )
            out.append(entry)
    return out


def _runs(report: dict, boards: list[BoardConfig], iterations: int) -> dict:
    """Whole runs of K = ``iterations`` force-loosening iterations at each (D, N) of the timing sweep:
    software, 2K times its measured time per update (``software_1_s`` on one thread, ``software_all_s`` on
    ``threads_all``); per fitting
    board, host-run loosening, 2K modelled updates (``host_s``), and where the board's core loosens on chip,
    the modelled whole run (``chip``: :func:`~spherecode.host.hwtime.chip_run_time`). ``summary``: per
    board with on-chip loosening and D, the ratio to one software thread at the largest N that fits and the
    N from which the board stays faster (:func:`crossover`)."""
    sw = {(r["dim"], r["points"], r["threads"]): r["seconds"] for r in report["software"]}
    watts = {(r["dim"], r["points"], r["threads"]): r["watts"] for r in report["software"]}
    rows = []
    for d, n in sorted({(r["dim"], r["points"]) for r in report["software"]}):
        threads = max(t for (dd, nn, t) in sw if (dd, nn) == (d, n))
        row = {
            "dim": d,
            "points": n,
            "software_1_s": 2 * iterations * sw[d, n, 1],
            "software_1_j": 2 * iterations * sw[d, n, 1] * watts[d, n, 1],
            "software_all_s": 2 * iterations * sw[d, n, threads],
            "threads_all": threads,
            "boards": {},
        }
        for board in boards:
            if misfit(board, n, d) is None:
                entry = {"host_s": 2 * iterations * update_time(board, n, d).seconds}
                if board.core.loosening:
                    entry["chip"] = t = chip_run_time(board, n, d, iterations).as_dict()
                    power = report["builds"][board.name]["power"]
                    if power["idle_w"] is not None:  # modelled as for an update
                        t["joules"] = _board_joules(power, t["seconds"], t["compute_s"])
                row["boards"][board.name] = entry
        rows.append(row)
    summary = []
    for board in boards:
        if not board.core.loosening:
            continue
        for d in sorted({r["dim"] for r in rows}):
            at = [r for r in rows if board.name in r["boards"] and r["dim"] == d]
            if not at:
                continue
            pts = [r["points"] for r in at]
            one = [r["software_1_s"] for r in at]
            chip = [r["boards"][board.name]["chip"]["seconds"] for r in at]
            faster = [n for n, a, b in zip(pts, one, chip) if b < a]
            last = at[-1]["boards"][board.name]["chip"]
            summary.append(
                {
                    "board": board.name,
                    "dim": d,
                    "largest_fitting": pts[-1],
                    "software_1_s": one[-1],
                    "chip_s": chip[-1],
                    "speedup_at_largest": one[-1] / chip[-1],
                    "software_1_j": at[-1]["software_1_j"],
                    "chip_j": last.get("joules"),
                    "crossover": crossover(pts, one, chip),
                    "faster_at": faster,
                }
            )
    return {"iterations": iterations, "rows": rows, "summary": summary}


def _formats(report: dict, boards: list[BoardConfig]) -> list[dict]:
    rows = []
    for board in boards:
        build = report["builds"][board.name]
        cost = [
            r
            for r in report["quality"]
            if r["backend"] == "model"
            and r["format"] == str(board.fmt)
            and misfit(board, r["points"], r["dim"]) is None
        ]
        row = {
            "board": board.name,
            "format": str(board.fmt),
            "lanes": board.lanes,
            "nmax": board.nmax,
            "dmax": board.dmax,
            "clock_mhz": board.clock_hz / 1e6,
            "fits": board.fits,
            "reason": board.misfit,
            "fmax_mhz": build["fmax_mhz"],
            "fmax_source": build["source"],
            "pairs_per_second_compute": board.lanes * board.clock_hz if board.fits else None,
        }
        at = [r for r in report["hardware"] if r["board"] == board.name and r["fits"]]
        if at:
            last = max(at, key=lambda r: (r["points"], r["dim"]))
            row["pairs_per_second_with_link"] = last["points"] * (last["points"] - 1) / last["seconds"]
            row["pairs_per_second_at"] = {"points": last["points"], "dim": last["dim"]}
        row["quality_cost_deg"] = [
            {"dim": r["dim"], "points": r["points"], "delta_angle_deg": r["delta_angle_deg"]} for r in cost
        ]
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------ output


def write_report(report: dict, out: Path, command_line: str) -> list[Path]:
    """Write ``report.md``, ``report.json`` and the figures into ``out`` (created if need be). Everything
    is written to a temporary folder beside ``out`` first; only complete files are moved into place
    (``report.json`` last), and the temporary folder is removed on every way out."""
    out = Path(out)
    report = {**report, "command_line": command_line}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        figures = _figures(report, tmp)
        (tmp / "report.md").write_text(_markdown(report, figures))
        (tmp / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
        names = [*figures, "report.md", "report.json"]
        if not out.exists():
            os.rename(tmp, out)
            return [out / name for name in names]
        for name in names:
            os.replace(tmp / name, out / name)
        return [out / name for name in names]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: A panel is laid out for at most this many series (series that coincide are merged, :func:`_merged`).
MAX_SERIES = 6
#: Software's two series, then one style per board in the order of the report: colour and marker each.
_SOFTWARE_STYLES = (("black", "o", "--"), ("0.45", "D", ":"))
_BOARD_STYLES = (
    ("tab:blue", "s"),
    ("tab:orange", "^"),
    ("tab:green", "v"),
    ("tab:red", "P"),
    ("tab:purple", "X"),
    ("tab:brown", "*"),
    ("tab:pink", "h"),
    ("tab:olive", "<"),
    ("tab:cyan", ">"),
)


def _merged(series: list[tuple[str, list, list, dict]], rtol: float = 0.1) -> list[tuple[str, list, list, dict]]:
    """``series`` (label, xs, ys, style) with every series that lies on an earlier one (the same xs, every y
    within ``rtol``: on a log axis, on top of it) folded into it, its label joined with " = ": no series
    hides another."""
    out = []
    for label, xs, ys, style in series:
        for k, (l0, x0, y0, st0) in enumerate(out):
            if x0 == xs and all(abs(a - b) <= rtol * max(abs(a), abs(b)) for a, b in zip(y0, ys)):
                out[k] = (f"{l0}\n= {label}", x0, y0, st0)
                break
        else:
            out.append((label, xs, ys, style))
    return out


def _panel(ax, series, title: str, ylabel: str) -> None:
    """Draw ``series`` (after :func:`_merged`) on a log–log panel, its legend outside the data (right)."""
    series = _merged(series)
    for label, xs, ys, st in series:
        ax.plot(xs, ys, label=label, ms=4, **st)
    ax.set(xscale="log", yscale="log", xlabel="N (vectors)", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)


def _figures(report: dict, folder: Path) -> list[str]:
    """time (per update), runs (whole force-loosening runs), energy (per update) and quality: one panel per
    D (time: two, the whole update and the core alone), laid out for :data:`MAX_SERIES` series each, told
    apart by colour and marker, with the legend outside the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    software = report["software"]
    dims = sorted({r["dim"] for r in software})
    cores = max(r["threads"] for r in software)
    boards = sorted({r["board"] for r in report["hardware"] if r["fits"]})
    board_style = {
        b: dict(zip(("color", "marker"), _BOARD_STYLES[i % len(_BOARD_STYLES)]), linestyle="-")
        for i, b in enumerate(boards)
    }

    def style(threads):
        return dict(zip(("color", "marker", "linestyle"), _SOFTWARE_STYLES[threads != 1]))

    def sw(d, threads, key, label):
        rows = [r for r in software if r["dim"] == d and r["threads"] == threads]
        return (label, [r["points"] for r in rows], [r[key] for r in rows], style(threads))

    def hw(d, board, key, label):
        rows = [
            r for r in report["hardware"] if r["board"] == board and r["dim"] == d and r["fits"] and r[key] is not None
        ]
        return (label, [r["points"] for r in rows], [r[key] for r in rows], board_style[board]) if rows else None

    def grid(cols: int):
        fig, axes = plt.subplots(len(dims), cols, figsize=(6.2 * cols + 1.2, 3.6 * len(dims)), squeeze=False)
        return fig, axes

    # Time per update: the whole update (core + link) and the core alone, per D.
    fig, axes = grid(2)
    for row, d in zip(axes, dims):
        one, all_ = sw(d, 1, "seconds", "software, 1 thread"), sw(d, cores, "seconds", f"software, {cores} threads")
        whole = [s for s in (hw(d, b, "seconds", b) for b in boards) if s]
        core = [s for s in (hw(d, b, "compute_s", b) for b in boards) if s]
        _panel(row[0], [one, all_, *whole], f"D = {d}: per update, core + link (modelled)", "seconds per update")
        if core:
            _panel(row[1], [one, *core], f"D = {d}: per update, the core alone (modelled)", "seconds per update")
        else:
            row[1].set_axis_off()
            row[1].text(0.5, 0.5, f"no board holds D = {d}", ha="center", va="center", transform=row[1].transAxes)
    names += _save(fig, folder, "time")

    # Whole runs: K force-loosening iterations, software against host-run and on-chip loosening.
    runs = report["runs"]
    default = DEFAULT if DEFAULT in boards else next((b for b in boards if not get_board(b).core.loosening), None)
    fig, axes = grid(1)
    for (ax,), d in zip(axes, dims):
        rows = [r for r in runs["rows"] if r["dim"] == d]
        series = [
            ("software, 1 thread", [r["points"] for r in rows], [r["software_1_s"] for r in rows], style(1)),
            (
                f"software, {cores} threads",
                [r["points"] for r in rows],
                [r["software_all_s"] for r in rows],
                style(cores),
            ),
        ]
        if default:
            at = [r for r in rows if default in r["boards"]]
            if at:
                series.append(
                    (
                        f"{default}, host-run loosening",
                        [r["points"] for r in at],
                        [r["boards"][default]["host_s"] for r in at],
                        {**board_style[default], "linestyle": "-."},
                    )
                )
        for b in boards:
            at = [r for r in rows if "chip" in r["boards"].get(b, {})]
            if at:
                series.append(
                    (
                        f"{b}, on chip",
                        [r["points"] for r in at],
                        [r["boards"][b]["chip"]["seconds"] for r in at],
                        board_style[b],
                    )
                )
        _panel(ax, series, f"D = {d}: a whole run of {runs['iterations']} iterations", "seconds per run")
    names += _save(fig, folder, "runs")

    # Energy per update.
    fig, axes = grid(1)
    for (ax,), d in zip(axes, dims):
        one = sw(d, 1, "joules", f"software, 1 thread ({next(r['power'] for r in software if r['threads'] == 1)})")
        series = [one, *[s for s in (hw(d, b, "joules", f"{b} (modelled)") for b in boards) if s]]
        _panel(ax, series, f"D = {d}: energy per update", "joules per update")
    names += _save(fig, folder, "energy")

    # Minimum distance against N, one panel per D.
    qdims = sorted({r["dim"] for r in report["quality"]})
    formats = sorted({r["format"] for r in report["quality"] if r["format"]})
    fig, axes = plt.subplots(1, len(qdims), figsize=(4.2 * len(qdims) + 1.6, 3.8), squeeze=False)
    for ax, d in zip(axes[0], qdims):
        rows = [r for r in report["quality"] if r["dim"] == d]
        ref = sorted((r["points"], r["min_distance"]) for r in rows if r["backend"] == "reference")
        ax.plot(*zip(*ref), "-", marker="o", ms=4, color="black", label="float64")
        for fmt in sorted({r["format"] for r in rows if r["format"]}):
            pts = sorted((r["points"], r["min_distance"]) for r in rows if r["format"] == fmt)
            color, marker = _BOARD_STYLES[formats.index(fmt)]
            ax.plot(*zip(*pts), linestyle="none", marker=marker, ms=7, mfc="none", color=color, label=f"model {fmt}")
        known = sorted(
            (r["points"], r["best_known_distance"])
            for r in rows
            if r["backend"] == "reference" and r["best_known_distance"] is not None
        )
        if known:  # markers: the table has gaps, a line would invent values
            ax.plot(*zip(*known), linestyle="none", marker="_", ms=16, mew=2, color="tab:gray", label="best known")
        ticks = sorted({r["points"] for r in rows})
        ax.set(xscale="log", xlabel="N (vectors)", ylabel="minimum distance", title=f"D = {d}")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle("Minimum distance, best of the starts, against the best known")
    names += _save(fig, folder, "quality")
    return names


def _save(fig, folder: Path, stem: str) -> list[str]:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    names = []
    for ext in ("png", "svg"):
        # SVG without a date or random ids, so that the same report gives the same file; the legends
        # outside the axes are kept inside the image.
        meta = {"Date": None} if ext == "svg" else {}
        fig.savefig(folder / f"{stem}.{ext}", dpi=120, metadata=meta, bbox_inches="tight")
        names.append(f"{stem}.{ext}")
    plt.close(fig)
    return names


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} µs"


def _fmt_j(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, scale in (("J", 1), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x / 1e-15:.3g} fJ"


def _load_text(load: dict) -> str:
    values = [load.get(k) for k in ("start", "after_timing", "end")]
    if any(v is None for v in values):
        return "unknown"
    return f"{values[0]:.1f} at the start, {values[1]:.1f} after the software timing, {values[2]:.1f} at the end"


def _markdown(report: dict, figures: list[str]) -> str:
    m = report["machine"]
    opts = report["options"]
    cores = m["cores"]
    L = []
    add = L.append
    add("# spherecode: software against hardware" + (" (quick)" if report["quick"] else ""))
    add("")
    made = f" at commit {report['commit']}" if report.get("commit") else ""
    made += f", {report['date']}," if report.get("date") else ""
    add(
        f"Written by `{report['command_line']}`{made} on {m['cpu']}, {cores} core(s), Python {m['python']}, "
        f"NumPy {m['numpy']}; 1-minute load average {_load_text(m['load_average'])} — other work shared the "
        "cores, so software times are upper bounds (±20 % on a quiet machine, more under load). "
        f"RAPL {'readable: CPU power measured' if m['rapl'] else 'not readable here: CPU power modelled'}. "
        "Every number below says whether it was **measured** here or **modelled**; the model's constants are "
        "listed at the end and each can be overridden (`--power FILE.json`, `--cpu-watts`, `--board-watts`)."
    )
    add("")
    add(
        f"Unit: {report['unit']}. Software: the float64 reference (`host/backends/reference.py`) measured here, "
        "median of "
        f"≥ {MIN_REPEATS} updates and ≥ {MIN_SECONDS} s after a warm-up, at β = {BETA:g}; on one thread with BLAS held "
        "to one thread (the paper's baseline: single-threaded), timed as that thread's CPU time so that other "
        "work on the cores does not inflate it (the wall times are in report.json), and on all cores, timed by "
        "the wall clock (which such work does inflate). Hardware: modelled — the core's "
        "exact cycle formula (`CoreConfig.cycles`) at the board's clock, plus the bytes of one protocol "
        f"exchange (CONFIGURE, LOAD chunks, RUN, READ chunks with their framing and CRC, docs/protocol.md) at "
        f"{BITS_PER_BYTE} bits per byte and the board's baud rate, for host-run loosening (every update moves all "
        "N·D coordinates both ways). A board whose core loosens on chip (LOOSEN, docs/protocol.md) runs a "
        "whole run per command instead: its whole runs are in their own section below. The *core only* "
        "curves show what the core alone takes per update."
    )
    add("")
    add("## Summary")
    add("")
    for s in report["speed"]:
        if s.get("crossover", None) is None and "note" in s:
            add(f"- **{s['board']}**, D = {s['dim']}: {s['note']}.")
            continue
        cross = (
            f"hardware is faster than one software thread from N ≈ {s['crossover']:.0f}"
            if s["crossover"] is not None
            else f"hardware is **not** faster than one software thread at any N up to Nmax = {s['largest_fitting']}"
        )
        add(
            f"- **{s['board']}**, D = {s['dim']}: {cross}; at N = {s['largest_fitting']} the speed-up is "
            f"{s['speedup_at_largest']:.3g}× (core alone: {s['compute_only_speedup_at_largest']:.3g}×; the link "
            f"takes {100 * s['link_share_at_largest']:.0f} % of the hardware's time); asymptotically (N → ∞, "
            f"compute-bound, beyond this board's Nmax) {s['asymptotic_speedup']:.3g}× "
            f"(software per pair from N = {s['software_points']})."
        )
    add(
        "- The paper (Stanojević, Šenk, Milutinović, §III.C, Figure 3): on a Maxeler MAX2 against one thread of an "
        "i7-3770K, hardware faster for N ≳ 50, asymptotic speed-up (18 ÷ 24)× for D ∈ [3, 6]."
    )
    runs = report["runs"]
    for s in runs["summary"]:
        if s["crossover"] is not None:
            cross = f"faster than one software thread from N ≈ {s['crossover']:.0f}"
        elif s["faster_at"]:
            cross = (
                f"faster than one software thread at N = {', '.join(map(str, s['faster_at']))} of the sweep, "
                f"**not** at N = {s['largest_fitting']}"
            )
        else:
            cross = f"**not** faster than one software thread at any N up to {s['largest_fitting']}"
        add(
            f"- **{s['board']}**, D = {s['dim']}, a whole run of {runs['iterations']} force-loosening iterations on "
            f"chip: {cross}; at N = {s['largest_fitting']} {_fmt_s(s['chip_s'])} (modelled) against "
            f"{_fmt_s(s['software_1_s'])} (2 × {runs['iterations']} × the measured update), "
            f"{s['speedup_at_largest']:.3g}×"
            + (
                f"; energy {_fmt_j(s['chip_j'])} against {_fmt_j(s['software_1_j'])} (both modelled, as in the "
                "energy section)."
                if s.get("chip_j") is not None
                else "."
            )
        )
    failed = [c for kind in ("cycles", "link") for c in report["checks"][kind] if not c["passed"]]
    add(f"- Checks in this run: {'all passed' if not failed else f'{len(failed)} FAILED'} (below).")
    add("")
    add("## Time per update (the paper's Figure 3)")
    add("")
    add("![time per update](time.svg)")
    add("")
    boards = sorted({r["board"] for r in report["hardware"] if r["fits"]})  # the others: in the summary
    head = (
        "| D | N | software, 1 thread (measured, CPU time) | software, {} threads (measured, wall) | ".format(cores)
        + " | ".join(f"{b} (modelled: core + link)" for b in boards)
        + " |"
    )
    add(head)
    add("|" + "---:|" * (4 + len(boards)))
    sw = {(r["dim"], r["points"], r["threads"]): r for r in report["software"]}
    hw = {(r["board"], r["dim"], r["points"]): r for r in report["hardware"]}
    for d in opts["dims"]:
        for n in opts["points"]:
            cells = [str(d), str(n), _fmt_s(sw[d, n, 1]["seconds"]), _fmt_s(sw[d, n, cores]["seconds"])]
            for b in boards:
                r = hw[b, d, n]
                cells.append(
                    f"{_fmt_s(r['seconds'])} ({_fmt_s(r['compute_s'])} + {_fmt_s(r['link_s'])})"
                    if r["fits"]
                    else f"no point: {r['reason']}"
                )
            add("| " + " | ".join(cells) + " |")
    add("")
    add("### Checks")
    add("")
    for c in report["checks"]["cycles"]:
        verdict = "**pass**" if c["passed"] else "**FAIL**"
        got = c["counter"] if c.get("counter") is not None else f"not measured ({c.get('error')})"
        add(
            f"- Cycle formula against the simulated RTL ({c['config']}; one update, N = {c['points']}, D = {c['dim']}, "
            f"RTL under Verilator via the `sim` backend): counter {got}, formula {c['formula']} — {verdict}."
        )
    for c in report["checks"]["link"]:
        verdict = "**pass**" if c["passed"] else "**FAIL**"
        if c.get("bytes_measured") is None:
            add(f"- Link model against the {c['board']} twin: not measured ({c.get('error')}) — {verdict}.")
            continue
        add(
            f"- Link model against one exchange with the {c['board']} twin (its whole top, UART included, under "
            f"Verilator behind a pty; N = {c['points']}, D = {c['dim']}): {c['bytes_measured']} bytes counted on "
            f"the pty ({c['bytes_written']} written, {c['bytes_read']} read), model {c['bytes_model']}; the twin "
            f"core's counter {c['cycles_counter']} cycles, formula at the board's configuration "
            f"{c['cycles_formula']} — {verdict}. The exchange took {_fmt_s(c['wall_s'])} of simulation wall time "
            f"({c['twin_uart']}): a check of bytes and cycles, not of the board's speed."
        )
    add("")
    add(f"## Whole runs: {runs['iterations']} force-loosening iterations")
    add("")
    add("![whole runs](runs.svg)")
    add("")
    add(
        f"A force-loosening iteration is two updates (β and β(1 + 1/n)). Software: 2 × {runs['iterations']} × its "
        "time per update above (modelled from the measured update). Host-run loosening on a board: 2 × "
        f"{runs['iterations']} × its modelled update (every update a full exchange over the link). Rows where no "
        "board holds N and D are left out. On chip "
        "(a board with LOOSEN): the loosening core's exact run formula (`CoreConfig.run_cycles`: the load, "
        "one sweep of both candidates per iteration, the output) at the board's clock, plus one CONFIGURE, "
        "LOAD, LOOSEN, RESULT and READ; the host's STATUS polls overlap the run and are not counted."
    )
    add("")
    run_boards = sorted({b for r in runs["rows"] for b in r["boards"]})
    chip_boards = {b for r in runs["rows"] for b, e in r["boards"].items() if "chip" in e}
    cols = []
    for b in run_boards:
        cols.append(f"{b}, host-run (modelled)")
        if b in chip_boards:
            cols.append(f"{b}, on chip (modelled: core + link)")
    add(f"| D | N | software, 1 thread | software, {cores} threads | " + " | ".join(cols) + " |")
    add("|" + "---:|" * (4 + len(cols)))
    for r in runs["rows"]:
        if not r["boards"]:  # no board holds N and D: the software's alone is in the table above
            continue
        cells = [str(r["dim"]), str(r["points"]), _fmt_s(r["software_1_s"]), _fmt_s(r["software_all_s"])]
        for b in run_boards:
            e = r["boards"].get(b)
            cells.append(_fmt_s(e["host_s"]) if e else "—")
            if b in chip_boards:
                cells.append(
                    f"{_fmt_s(e['chip']['seconds'])} ({_fmt_s(e['chip']['compute_s'])} + {_fmt_s(e['chip']['link_s'])})"
                    if e
                    else "—"
                )
        add("| " + " | ".join(cells) + " |")
    add("")
    add("## Power and energy (the paper's Table II)")
    add("")
    add("![energy per update](energy.svg)")
    add("")
    add("| who | power | W | N | D | time per update | energy per update | energy per pair |")
    add("|---|---|---:|---:|---:|---:|---:|---:|")
    pick = sorted({n for n in opts["points"] if n in (64, 256, 1024) or n == max(opts["points"])})
    for d in opts["dims"]:
        for n in pick:
            for threads in (1, cores):
                r = sw[d, n, threads]
                add(
                    f"| software, {threads} thread(s) | {r['power']} | {r['watts']:.3g} | {n} | {d} | "
                    f"{_fmt_s(r['seconds'])} (measured) | {_fmt_j(r['joules'])} | {_fmt_j(r['joules_per_pair'])} |"
                )
            for b in boards:
                r = hw[b, d, n]
                if r["fits"] and r.get("joules") is not None:
                    add(
                        f"| {b} | {r['power']} | {r['watts']:.3g} | {n} | {d} | {_fmt_s(r['seconds'])} (modelled) | "
                        f"{_fmt_j(r['joules'])} | {_fmt_j(r['joules_per_pair'])} |"
                    )
                else:
                    add(f"| {b} | — | — | {n} | {d} | {r.get('reason') or 'no power model'} | — | — |")
    add("")
    add(
        "Energy = power × time. Software: the CPU's power while it computes (RAPL package power where readable, "
        "else cores busy × `cpu_watts_per_core`); the rest of the host is not counted. Board: idle power over the "
        "whole update plus the core's dynamic power while it computes (clock × Σ resources × energy per cycle × "
        "activity); the host's own power while it drives the link is not counted. The paper measured the whole "
        "host at the mains: idle 68 W, software 88 W, hardware 74 W (Table II)."
    )
    add("")
    for b, build in report["builds"].items():
        if b not in boards:
            continue
        p = build["power"]
        res = ", ".join(f"{k} {v}" for k, v in build["resources"].items())
        idle = "—" if p["idle_w"] is None else f"{p['idle_w']:.3g} W"
        add(
            f"- {b}: resources {res or '—'} ({build['source']}); idle {idle}, dynamic while computing "
            f"{p['dynamic_w']:.3g} W (modelled)."
        )
    add("")
    add("## Quality against the best known (the paper's Figure 4)")
    add("")
    add("![minimum distance](quality.svg)")
    add("")
    workers = "one after another" if opts["jobs"] == 1 else f"in parallel on {opts['jobs'] or cores} worker processes"
    add(
        f"Best of {opts['starts']} starts × {opts['iters']} force-loosening iterations (seed {opts['seed']}, starts "
        f"{workers}), measured: float64 reference, the bit-exact model in Q3.44 (the paper's format) and in each "
        "board's format where the board holds N and D. Δ = model − float64 in the minimum angle."
    )
    add("")
    add("| D | N | backend | min angle | min distance | Δ vs float64 | best known | short of best known |")
    add("|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in report["quality"]:
        name = "float64" if r["backend"] == "reference" else f"model {r['format']}"
        known = f"{r['best_known_angle_deg']:.6f}°" if r["best_known_angle_deg"] is not None else "—"
        short = f"{r['short_of_best_known_deg']:.6f}°" if r["short_of_best_known_deg"] is not None else "—"
        delta = "" if r["backend"] == "reference" else f"{r['delta_angle_deg']:+.6f}°"
        add(
            f"| {r['dim']} | {r['points']} | {name} | {r['min_angle_deg']:.6f}° | {r['min_distance']:.9f} | {delta} | "
            f"{known} | {short} |"
        )
    add("")
    add("## Formats and lanes")
    add("")
    add(
        "| board | format | lanes | Nmax | Dmax | clock | post-route fmax | pairs/s (core) | pairs/s (with link) | "
        "quality cost vs float64 (Δ min angle, measured) |"
    )
    add("|---|---|---:|---:|---:|---:|---|---:|---:|---|")
    for f in report["formats"]:
        if not f["fits"]:
            add(
                f"| {f['board']} | {f['format']} | {f['lanes']} | {f['nmax']} | {f['dmax']} | {f['clock_mhz']:g} MHz | "
                f"— | — | — | does not fit: {f['reason']} |"
            )
            continue
        fmax = f"{f['fmax_mhz']:g} MHz ({f['fmax_source']})" if f["fmax_mhz"] else f"— ({f['fmax_source']})"
        link = (
            f"{f['pairs_per_second_with_link']:.3g} (N = {f['pairs_per_second_at']['points']}, modelled)"
            if "pairs_per_second_with_link" in f
            else "—"
        )
        cost = (
            ", ".join(f"D{c['dim']} N{c['points']}: {c['delta_angle_deg']:+.4f}°" for c in f["quality_cost_deg"]) or "—"
        )
        add(
            f"| {f['board']} | {f['format']} | {f['lanes']} | {f['nmax']} | {f['dmax']} | {f['clock_mhz']:g} MHz | "
            f"{fmax} | {f['pairs_per_second_compute']:.3g} (modelled) | {link} | {cost} |"
        )
    add("")
    add("## Model constants")
    add("")
    add("| constant | value | unit | kind | source |")
    add("|---|---:|---|---|---|")
    for c in report["power_model"]:
        add(f"| `{c['key']}` | {c['value']:g} | {c['unit']} | {c['kind']} | {c['source']} |")
    add("")
    add("Figures: " + ", ".join(f"[{name}]({name})" for name in figures) + ". The data: [report.json](report.json).")
    add("")
    return "\n".join(L)


# ------------------------------------------------------------------------------------------------ command line


def _board_name(text: str) -> str:
    import argparse

    try:
        return get_board(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p) -> None:
    """The options of ``spherecode compare`` (an argparse parser)."""
    p.add_argument("--quick", action="store_true", help="a small report in under two minutes (CI)")
    p.add_argument(
        "--board",
        action="append",
        type=_board_name,
        default=None,
        help=f"board configuration, repeatable (all: {', '.join(BOARDS)})",
    )
    p.add_argument(
        "--points", nargs="+", type=integer("--points", 4, NMAX_LIMIT), help=f"N of the timing sweep (4 … {NMAX_LIMIT})"
    )
    p.add_argument("--dims", nargs="+", type=integer("--dims", 2, 64), help="D of the timing sweep (3 6)")
    p.add_argument(
        "--quality-points",
        nargs="+",
        type=integer("--quality-points", 2, NMAX_LIMIT),
        help=f"N of the quality runs (2 … {NMAX_LIMIT}: the fixed-point model's Nmax)",
    )
    p.add_argument(
        "--quality-dims", nargs="+", type=integer("--quality-dims", 2, 7), help="D of the quality runs (3 … 6)"
    )
    p.add_argument("--starts", type=integer("--starts", 1), help="starts per quality run, best kept (32)")
    p.add_argument("--iters", type=integer("--iters", 1), help="force-loosening iterations per start (500)")
    p.add_argument(
        "--run-iters",
        type=integer("--run-iters", 1),
        default=3000,
        help="force-loosening iterations of the modelled whole runs (3000)",
    )
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument(
        "--jobs", type=integer("--jobs", 1), default=None, help="worker processes for the starts (all cores)"
    )
    p.add_argument("--power", type=Path, help="JSON object overriding power-model constants (see report.md)")
    p.add_argument("--cpu-watts", type=watts("--cpu-watts"), help="CPU watts per busy core where RAPL is unreadable")
    p.add_argument("--board-watts", type=watts("--board-watts"), help="idle watts of every board")
    p.add_argument("--builds", default="build", help="folder of `spherecode build` reports (build)")
    p.add_argument("--out", type=Path, required=True, help="report folder (report.md, report.json, figures)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")


def options_from(args) -> Options:
    """:class:`Options` from parsed arguments; ``ValueError`` with one line for bad input."""
    preset = QUICK if args.quick else FULL
    model = PowerModel.from_file(args.power) if args.power else PowerModel()
    overrides = {}
    if args.cpu_watts is not None:
        overrides["cpu_watts_per_core"] = args.cpu_watts
    if args.board_watts is not None:
        overrides.update({f"idle_watts.{b}": args.board_watts for b in (args.board or BOARDS)})
    if overrides:
        model = model.with_overrides(overrides, "override (command line)")
    pick = lambda name: tuple(getattr(args, name)) if getattr(args, name) else preset[name]  # noqa: E731
    return Options(
        points=tuple(sorted(set(pick("points")))),
        dims=tuple(sorted(set(pick("dims")))),
        quality_points=tuple(sorted(set(pick("quality_points")))),
        quality_dims=tuple(sorted(set(pick("quality_dims")))),
        starts=args.starts or preset["starts"],
        iters=args.iters or preset["iters"],
        boards=tuple(dict.fromkeys(args.board)) if args.board else tuple(BOARDS),
        seed=args.seed,
        jobs=args.jobs,
        builds=args.builds,
        quick=args.quick,
        power=model,
        run_iters=args.run_iters,
    )


def check_out(out: Path) -> None:
    """``ValueError`` unless ``out`` can become the report folder (checked before any work)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    from .codefile import probe_create

    try:  # what write_report does: a folder beside out, files in out (os.access passes root anywhere)
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        if out.exists():
            probe_create(out / "report.json")
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write: {exc.strerror or exc}") from None


def command(args, progress: Callable | None = None) -> tuple[dict, str, int]:
    """``spherecode compare``: (JSON result, text for people, exit status: 0, or 1 if a check failed).
    ``ValueError`` with one line for bad input."""
    options = options_from(args)
    check_out(args.out)
    report = compare(options, progress, say=lambda line: print(line, file=sys.stderr, flush=True))
    report["command_line"] = options.command_line(str(args.out))
    files = write_report(report, args.out, report["command_line"])
    failed = [c for kind in ("cycles", "link") for c in report["checks"][kind] if not c["passed"]]
    text = [f"spherecode compare: {args.out / 'report.md'} ({len(files)} files)"]
    for s in report["speed"]:
        if "speedup_at_largest" not in s:
            text.append(f"  {s['board']}, D = {s['dim']}: {s['note']}")
            continue
        cross = (
            f"faster than 1 thread from N ≈ {s['crossover']:.0f}"
            if s["crossover"] is not None
            else f"not faster than 1 thread up to N = {s['largest_fitting']}"
        )
        text.append(
            f"  {s['board']}, D = {s['dim']}: {cross}; {s['speedup_at_largest']:.3g}× at N = "
            f"{s['largest_fitting']}, asymptotically {s['asymptotic_speedup']:.3g}× (modelled)"
        )
    for s in report["runs"]["summary"]:
        text.append(
            f"  {s['board']}, D = {s['dim']}: a whole run of {report['runs']['iterations']} iterations on chip "
            f"at N = {s['largest_fitting']}: {_fmt_s(s['chip_s'])} against {_fmt_s(s['software_1_s'])} on "
            f"1 thread, {s['speedup_at_largest']:.3g}× (modelled)"
        )
    text.append(
        "  checks: "
        + ("all passed" if not failed else "FAILED: " + "; ".join(c.get("error") or "mismatch" for c in failed))
    )
    result = {**report, "out": str(args.out), "files": [str(f) for f in files]}
    return result, "\n".join(text), 1 if failed else 0
