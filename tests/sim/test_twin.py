import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import serial
from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spherecode.sim import twin as twin_module
from spherecode.sim.twin import Twin, build_twin, serve

from ..processes import gone_or_killed


class Echo(wiring.Component):
    """tx follows rx through two flip-flops: every byte comes back as it went."""

    rx: In(1)
    tx: Out(1)
    busy: Out(1)

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(init=1), Signal(init=1)
        m.d.sync += [a.eq(self.rx), b.eq(a)]
        m.d.comb += [self.tx.eq(b), self.busy.eq(0)]
        return m


class Greeter(wiring.Component):
    """After each reset, sends ``GREETING`` (one idle bit first: tx stays high in reset), then echoes."""

    GREETING = 0xA5

    rx: In(1)
    tx: Out(1)
    busy: Out(1)

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Const(0b1_0000_0000_01 | self.GREETING << 2, 11)  # idle, start, 8 data LSB first, stop
        bit, sub = Signal(range(12)), Signal(range(self.divisor))
        echo = Signal(init=1)
        m.d.sync += echo.eq(self.rx)
        with m.If(bit < 11):
            m.d.comb += self.tx.eq(line.bit_select(bit, 1))
            m.d.sync += sub.eq(sub + 1)
            with m.If(sub == self.divisor - 1):
                m.d.sync += [sub.eq(0), bit.eq(bit + 1)]
        with m.Else():
            m.d.comb += self.tx.eq(echo)
        m.d.comb += self.busy.eq(0)
        return m


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def idle_cpu(pid, settle=0.2, span=1.0):
    time.sleep(settle)
    before = cpu_seconds(pid)
    time.sleep(span)
    return cpu_seconds(pid) - before


@pytest.fixture(scope="module")
def echo():
    with Twin(Echo(), divisor=8) as twin:
        yield twin


def test_random_bytes_echo(echo):
    data = random.Random(1).randbytes(1000)
    with serial.Serial(echo.port, 115200, timeout=10) as port:
        port.write(data)
        assert port.read(len(data)) == data


def test_reopen_and_idle(echo):
    for _ in range(3):
        with serial.Serial(echo.port, 115200, timeout=5) as port:
            port.write(b"again")
            assert port.read(5) == b"again"
            assert idle_cpu(echo.process.pid, span=0.5) < 0.15
    # Bytes written just before the host closes the port still reach the board, and the board's answer
    # waits in the pty (pyserial's open() would flush it: read it with a plain open()).
    with serial.Serial(echo.port, 115200, timeout=5) as port:
        port.write(b"late")
    time.sleep(0.2)
    fd = os.open(echo.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        assert os.read(fd, 100) == b"late"
    finally:
        os.close(fd)
    # No host: the twin must sleep, not spin on a hung-up pty.
    assert idle_cpu(echo.process.pid) < 0.3


def test_reset_is_observed():  # at an odd divisor, close to the least
    with Twin(Greeter(5), divisor=5) as twin, serial.Serial(twin.port, 115200, timeout=5) as port:
        time.sleep(0.2)
        port.reset_input_buffer()  # the greeting at start-up may or may not precede the host's open()
        for _ in range(2):
            twin.reset()
            assert port.read(1) == bytes([Greeter.GREETING])
            port.write(b"hello")
            assert port.read(5) == b"hello"
        assert twin.close() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_clean_exit(signum):
    twin = Twin(Echo(), divisor=8).start()
    twin.process.send_signal(signum)
    assert twin.process.wait(5) == 0
    assert twin.close() == 0


def test_close_returns_zero_and_reports_cycles(capfd):
    twin = Twin(Echo(), divisor=8, stats=True).start()
    with serial.Serial(twin.port, 115200, timeout=5) as port:
        port.write(b"x")
        assert port.read(1) == b"x"
    assert twin.close() == 0 and twin.process.returncode == 0
    cycles = int(capfd.readouterr().err.split("cycles: ")[1].split()[0])
    assert cycles >= 100  # reset, then a frame of 10 bits of 8 cycles each way


def test_build_is_cached_per_divisor():
    first = build_twin(Echo(), 8)
    start = time.monotonic()
    assert build_twin(Echo(), 8) == first
    assert time.monotonic() - start < 0.2  # no Yosys, no Verilator
    with pytest.raises(ValueError, match="divisor"):
        build_twin(Echo(), 3)


def test_top_contract_is_checked():
    class Mute(wiring.Component):
        rx: In(1)
        tx: Out(1)
        busy: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.d.comb += self.tx.eq(self.rx)
            return m

    class NoBusy(wiring.Component):
        rx: In(1)
        tx: Out(1)

        def elaborate(self, platform):
            return Module()

    with pytest.raises(TypeError, match="busy"):
        build_twin(Mute(), 8)  # busy undriven: Amaranth would make it an input
    with pytest.raises(TypeError, match="busy"):
        Twin(NoBusy())


def test_start_reports_a_dead_or_silent_simulator(monkeypatch, tmp_path):
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexec sleep 30\n")
    silent.chmod(0o755)
    monkeypatch.setattr(twin_module, "build_twin", lambda top, divisor: "/bin/false")
    with pytest.raises(RuntimeError, match="exited with status 1"):
        Twin(Echo()).start()
    monkeypatch.setattr(twin_module, "build_twin", lambda top, divisor: silent)
    twin = Twin(Echo())
    with pytest.raises(RuntimeError, match="no pty"):
        twin.start(timeout=0.3)
    assert twin.process.poll() is not None  # not left running


def test_serve_until_sigterm():
    lines = []
    printed = threading.Event()
    failures = []

    class Out:
        def write(self, text):
            lines.append(text)
            printed.set()

        def flush(self):
            pass

    def host():
        try:
            printed.wait(30)
            with serial.Serial("".join(lines).strip(), 115200, timeout=5) as port:
                port.write(b"served")
                assert port.read(6) == b"served"
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            if printed.is_set():  # serve() has its handler: it turns SIGTERM into a clean stop
                os.kill(os.getpid(), signal.SIGTERM)

    handler = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=host)
    thread.start()
    assert serve(Echo(), 8, out=Out()) == 0
    thread.join()
    assert not failures, failures
    assert signal.getsignal(signal.SIGTERM) is handler


@pytest.mark.parametrize(
    "signum, line",
    [
        (signal.SIGKILL, "spherecode: error: the board twin was killed by SIGKILL"),
        (signal.SIGTERM, "spherecode: error: the board twin exited with status 0"),  # stopped by someone else
    ],
)
def test_serve_reports_a_twin_that_stopped_on_its_own(monkeypatch, capsys, signum, line):
    started = []

    class Recorded(Twin):
        def start(self, *args, **kwargs):
            started.append(self)
            return super().start(*args, **kwargs)

    class Out:
        def write(self, text):
            started[0].process.send_signal(signum)

        def flush(self):
            pass

    monkeypatch.setattr(twin_module, "Twin", Recorded)
    assert serve(Echo(), 8, out=Out()) == 1
    assert capsys.readouterr().err.splitlines() == [line]


def test_twin_outlives_the_thread_that_started_it():
    """The twin watches its parent process, not the thread (which PR_SET_PDEATHSIG would)."""
    box = []
    thread = threading.Thread(target=lambda: box.append(Twin(Echo(), divisor=8).start()))
    thread.start()
    thread.join()
    twin = box[0]
    try:
        time.sleep(0.3)
        assert twin.process.poll() is None
        with serial.Serial(twin.port, 115200, timeout=5) as port:
            port.write(b"alive")
            assert port.read(5) == b"alive"
    finally:
        assert twin.close() == 0


def test_twin_stops_when_its_parent_dies(tmp_path):
    """A host killed with SIGKILL never leaves its twin running (and holding the pty)."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from amaranth.hdl import Module, Signal\n"
        "from amaranth.lib import wiring\n"
        "from amaranth.lib.wiring import In, Out\n"
        "from spherecode.sim.twin import Twin\n"
        "class Echo(wiring.Component):\n"
        "    rx: In(1)\n"
        "    tx: Out(1)\n"
        "    busy: Out(1)\n"
        "    def elaborate(self, platform):\n"
        "        m = Module()\n"
        "        a, b = Signal(init=1), Signal(init=1)\n"  # as Echo above: its cached build
        "        m.d.sync += [a.eq(self.rx), b.eq(a)]\n"
        "        m.d.comb += [self.tx.eq(b), self.busy.eq(0)]\n"
        "        return m\n"
        "twin = Twin(Echo(), divisor=8).start(timeout=600)\n"
        "print(twin.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    assert gone_or_killed(pid, 2), "the twin outlived its parent"
