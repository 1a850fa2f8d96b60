"""The ``sim`` backend: every update runs on the RTL (:class:`~spherecode.hw.dataflow.core.UpdaterCore`) under
Verilator, in one simulator process per backend (:class:`~spherecode.sim.core_server.CoreServer`) that serves
all its updates.
"""

from __future__ import annotations

import dataclasses
import time
import weakref

import numpy as np

from ...hw.config import CoreConfig
from ...hw.dataflow.core import UpdaterCore
from ...sim import core_server
from ...sim.core_server import CoreServer, build_core
from ..loosening import LooseningResult
from .base import LOOSENING_MODES, Update, add_loosening_argument, loosening_mode
from .hardware import FixedPointBackend, run_config

__all__ = ["SimBackend"]


class SimBackend(FixedPointBackend):
    """Parameters: ``config`` (:class:`~spherecode.hw.config.CoreConfig`, default ``CoreConfig()``) — the
    core simulated; ``board_design`` (default False) — simulate exactly the design a board synthesises,
    instead of the same core elaborated for fast simulation (:func:`build_core`: the same results). Options:
    ``--format``, ``--lanes`` (:mod:`spherecode.host.backends.hardware`); it reports the cycles the RTL's
    counter measured and the simulated cycles per second.

    The constructor builds (or finds in the cache) the simulator; the first update starts it, in the
    calling thread, and it is ended when that thread ends (Linux), at :meth:`close`, when the backend is
    collected, or at interpreter exit.

    ``loosening`` (``--loosening``): ``host`` (the default; the paper's system, two updates per iteration)
    or ``chip`` — the core is built with on-chip loosening (``config`` with ``loosening=True``) and
    :meth:`loosen` runs a whole run in the simulator: one request with the N·D coordinates, K iterations
    on the RTL, one answer with the final vectors and state (no per-iteration trace: ``on_iteration`` is not
    called). Its statistics: ``iterations``, ``cycles`` (the RTL's counter, start to done),
    ``load_cycles`` (the formula's cycles outside the iterations), ``update_seconds``, ``delta_min`` and
    ``final_n``. The constructor and :meth:`update`/:meth:`exchange` raise
    :class:`~spherecode.sim.verilator.SimError` for every failure of the toolchain or the simulator (which
    then is ended and its folder removed; the next update starts a fresh one); :meth:`exchange` raises
    ``ValueError`` when the core refuses N or D. :meth:`close` raises nothing of its own."""

    name = "sim"

    def __init__(self, config: CoreConfig | None = None, loosening: str = "host", board_design: bool = False):
        if loosening not in LOOSENING_MODES:
            raise ValueError(f"loosening must be one of {', '.join(LOOSENING_MODES)}, not {loosening!r}")
        if not isinstance(board_design, bool):
            raise ValueError(f"board_design must be True or False, not {board_design!r}")
        self.loosening = loosening
        config = config if config is not None else CoreConfig()
        if loosening == "chip" and not config.loosening:
            config = dataclasses.replace(config, loosening=True)
        self.core = UpdaterCore(config)
        self.config = self.core.config
        self.dp = self.core.dp
        self._server: CoreServer | None = None
        self._finalizer = None
        self._sim = build_core(self.core, board_design)  # at construction, so that no update's time includes a build
        core = self.core
        self._masks = {
            name: (1 << len(port)) - 1
            for name, port in (
                ("n", core.n),
                ("d", core.d),
                ("half_beta", core.half_beta),
                ("step", core.step),
                ("i", core.i.payload),
            )
        }

    @classmethod
    def add_arguments(cls, parser) -> None:
        super().add_arguments(parser)
        add_loosening_argument(parser)

    @classmethod
    def options(cls, args, threads: int) -> dict:
        """``{"config": run_config(args), "loosening": host|chip}``."""
        return {"config": run_config(args), "loosening": loosening_mode(args, cls.name, LOOSENING_MODES)}

    @classmethod
    def report(cls, options: dict, stats: dict) -> dict:
        """:meth:`FixedPointBackend.report` and ``sim_cycles_per_second``: simulated cycles per second of
        the time spent in updates (``update_seconds``); for a chip run, ``cycles_per_loosening_iteration``
        from the RTL's counter (its cycles less the formula's load and output, per iteration)."""
        out = super().report(options, stats)
        if stats.get("update_seconds") and "cycles" in stats:
            out["sim_cycles_per_second"] = stats["cycles"] / stats["update_seconds"]
        return out

    @property
    def process(self):
        """The running simulator's ``Popen``, or None."""
        return self._server.process if self._server else None

    def close(self) -> None:
        """End the simulator (a quit request, then SIGTERM, then SIGKILL, within about two seconds) and
        remove its folder. Idempotent; safe in a ``finally:`` while an interrupt propagates."""
        server, finalizer = self._server, self._finalizer
        self._server = self._finalizer = None
        if finalizer is not None:
            finalizer()
        elif server is not None:
            server.close()

    def __enter__(self) -> SimBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exchange(self, n: int, d: int, half_beta: int, step: int, coords: np.ndarray) -> dict:
        """One iteration on the simulated core with raw inputs, unchecked (each masked to its port's width);
        returns ``{"coords": [hex, …], "move_norm": hex, "delta_min": hex, "cycles": int, "error": None}``.
        Raises ``ValueError`` when the core refuses the configuration (its ``error`` flag)."""
        m = self._masks
        coords = [format(int(x) & m["i"], "x") for x in coords]
        req = " ".join(
            [
                str(n & m["n"]),
                str(d & m["d"]),
                format(half_beta & m["half_beta"], "x"),
                format(step & m["step"], "x"),
                *coords,
            ]
        )
        fields = self._request(req, 4 + len(coords), self.config.cycles(n, d))
        return {
            "coords": fields[4:],
            "move_norm": fields[2],
            "delta_min": fields[3],
            "cycles": int(fields[1]),
            "error": None,
        }

    def exchange_run(self, n: int, d: int, iterations: int, state_n: int, state_l: int, coords: np.ndarray) -> dict:
        """A whole on-chip loosening run (``loosening="chip"``) with raw inputs: ``iterations`` iterations from
        the control state (``state_n``, raw ``state_l``); returns ``{"coords", "move_norm", "delta_min",
        "cycles", "progress", "state_n", "state_l"}`` (hex strings but for the integers). ``ValueError``
        when the core refuses."""
        if not self.config.loosening:
            raise ValueError("this core has no on-chip loosening (loosening='chip' builds one)")
        m = self._masks
        coords = [format(int(x) & m["i"], "x") for x in coords]
        req = " ".join(
            [
                "loosen",
                str(n & m["n"]),
                str(d & m["d"]),
                str(iterations & 0xFFFFFFFF),
                str(state_n & 0xFFFF),
                format(state_l & ((1 << len(self.core.loosen_l)) - 1), "x"),
                *coords,
            ]
        )
        fields = self._request(req, 7 + len(coords), self.config.run_cycles(n, d, iterations))
        return {
            "coords": fields[7:],
            "move_norm": fields[2],
            "delta_min": fields[3],
            "cycles": int(fields[1]),
            "progress": int(fields[4]),
            "state_n": int(fields[5]),
            "state_l": fields[6],
        }

    def _request(self, req: str, count: int, cycles: int) -> list[str]:
        """Send one request line; its answer's fields (``count`` of them, the first ``ok``)."""
        try:
            if self._server is None:
                self._server = CoreServer(self._sim)
                self._finalizer = weakref.finalize(self, self._server.close)
            timeout = core_server.ANSWER_TIMEOUT + cycles / core_server.MIN_RATE
            ans = self._server.request((req + "\n").encode(), timeout)
            fields = ans.split()
            if fields == ["refused"]:
                raise ValueError("refused: N or D outside the configuration")
            if len(fields) != count or fields[0] != "ok":
                raise self._server._failure(f"the simulator answered {ans[:60]!r}, not an iteration's result")
        except ValueError:
            raise
        except BaseException:  # a half-done exchange leaves the pipes out of step: start afresh next time
            self.close()
            raise
        return fields

    def loosen(
        self, vectors: np.ndarray, iterations: int, on_iteration=None, keep_trace: bool = False
    ) -> LooseningResult:
        """A whole on-chip run from float64 ``vectors`` (N, D) on the simulated core, from the paper's start
        (n = 1, l = 2): the coordinates in, K iterations on the RTL, the kept vectors out. ``on_iteration`` is
        not called and the trace is empty (the core reports the final state only)."""
        if iterations < 1:
            raise ValueError(f"iterations must be at least 1, not {iterations!r}")
        dp, control = self.dp, self.config.control
        n, d = vectors.shape
        raw, _, _ = dp.inputs(vectors, 4.0)
        t0 = time.perf_counter()
        ans = self.exchange_run(n, d, iterations, 1, 2 << control.precision, raw.ravel())
        seconds = time.perf_counter() - t0
        out = np.array([int(c, 16) for c in ans["coords"]], dtype=np.int64)
        out = dp.fmt.from_bits(out).reshape(n, d)
        stats = {
            "iterations": iterations,
            "cycles": ans["cycles"],
            "update_seconds": seconds,
            "load_cycles": self.config.load_cycles(n, d, iterations),
            "delta_min": int(ans["delta_min"], 16) * dp.d2_fmt.ulp,
            "final_n": ans["state_n"],
        }
        return LooseningResult(out * dp.fmt.ulp, int(ans["state_l"], 16) / (1 << control.precision), [], stats)

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        dp = self.dp
        n, d = vectors.shape
        raw, hb, c = dp.inputs(vectors, beta)
        ans = self.exchange(n, d, hb, c, raw.ravel())
        out = np.array([int(c, 16) for c in ans["coords"]], dtype=np.int64)
        out = dp.fmt.from_bits(out).reshape(n, d)
        return Update(
            out * dp.fmt.ulp,
            int(ans["move_norm"], 16) * dp.s_fmt.ulp,
            None,
            {"cycles": ans["cycles"], "delta_min": int(ans["delta_min"], 16) * dp.d2_fmt.ulp},
        )
