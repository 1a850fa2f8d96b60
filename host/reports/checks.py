"""The report's checks in the same run: the cycle formula against the simulated RTL's counter, and the link
model's byte count against one exchange with each board's twin."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ...boards import TWIN_DIVISOR, BoardConfig
from ..backends.reference import random_start
from .hwtime import core_cycles, exchange_bytes
from .options import BETA, TWIN_POINTS

#: The simulated core for the cycle check: the board's format, Dmax and lanes at this Nmax (the smallest
#: configuration the RTL tests build, so that the Verilator build is shared), one update of N × Dmax.
CHECK_NMAX, CHECK_POINTS = 16, 12


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


def board_simulators(boards: list[BoardConfig]) -> list[tuple[str, Callable[[], object]]]:
    """(what, build) for every simulator the checks need: the cycle check's cores and the link check's twins."""
    from ...hw.dataflow.core import UpdaterCore
    from ...sim.core_server import build_core
    from ...sim.twin import build_twin

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


def build_workers(cores: int) -> int:
    """Simulators built at once: each build's compile already runs on every core (``make -j``), so one per
    two cores."""
    return max(1, cores // 2)


def build_simulators(simulators, cores: int, steps) -> None:
    """Build (or find cached) every simulator of :func:`board_simulators`, :func:`build_workers` at a time. A
    failed build is left to its check, which reports it."""
    from concurrent.futures import ThreadPoolExecutor

    from ...sim.verilator import SimError

    def one(build):
        try:
            build()
        except (SimError, OSError, RuntimeError, TypeError, ValueError):
            pass

    with ThreadPoolExecutor(build_workers(cores)) as pool:
        for _ in pool.map(one, [build for _, build in simulators]):
            steps()


def run_checks(boards: list[BoardConfig], steps) -> dict:
    """The cycle formula against the simulated RTL, and the link model against the board twin, once per
    distinct core configuration among the fitting ``boards``."""
    cores, tops = _checked(boards)
    out = {"cycles": [_check_cycles(board) for board in cores], "link": [_check_link(board) for board in tops]}
    steps(2 * len(boards))
    return out


def _check_cycles(board: BoardConfig) -> dict:
    """One update of CHECK_POINTS × Dmax vectors on the RTL under Verilator (the board's format, Dmax and
    lanes, Nmax = CHECK_NMAX): its cycle counter against the formula."""
    from ...sim.verilator import SimError
    from ..backends.sim import SimBackend

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
    from ...sim.twin import Twin
    from ...sim.verilator import SimError
    from ..link import Board, BoardError, Link, open_port

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
