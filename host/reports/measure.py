""":func:`compare`: measure and model everything the report holds — software timing, the boards' modelled
times and energy, the checks and the quality runs — into one JSON-able dict."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...boards import BoardConfig, get_board
from ...boards.records import source_commit
from ..backends.reference import random_start, reference_update
from ..bestknown import best_known
from ..pairs import blas
from .checks import board_simulators, build_simulators, build_workers, run_checks
from .hwtime import misfit, update_time
from .options import BETA, Options
from .power import PowerModel, Rapl, board_power
from .speedups import board_joules, formats, runs, speed

#: Timed updates repeat until this many seconds have passed (and at least MIN_REPEATS times).
MIN_SECONDS, MIN_REPEATS = 0.2, 3


class _Progress:
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
    simulators = board_simulators(boards)
    total = (
        len(options.points) * len(options.dims) * 2
        + sum(options.starts for _ in groups)
        + 2 * len(boards)
        + len(simulators)
    )
    load_before = _load()
    if say and simulators:
        say(
            f"compare: building {len(simulators)} simulator(s) for the checks, {build_workers(cores)} at a time "
            f"(cached after the first time): " + "; ".join(name for name, _ in simulators)
        )
    with progress(total, "step") if progress else contextlib.nullcontext() as bar:
        steps = _Progress(bar)
        build_simulators(simulators, cores, steps)
        software = _software(options, cores, rapl, steps)
        load_software = _load()
        checks = run_checks(boards, steps)
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
    report["speed"] = speed(report, boards)
    report["runs"] = runs(report, boards, options.run_iters)
    report["formats"] = formats(report, boards)
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
        from ...boards.build import report

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
                        joules = board_joules(watts, t.seconds, t.compute_s)
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

    from ...hw.config import CoreConfig
    from ..metrics import summary
    from ..sweeps.starts import StartTask, run_starts

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
                "best_known_own": known.own if known else None,
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
