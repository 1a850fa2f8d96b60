"""The host's side of the protocol against scripted answers (the board itself is tested through the twin
in tests/boards/test_system_twin.py)."""

import dataclasses
import os
import termios
import tty

import numpy as np
import pytest
from serial import SerialException, SerialTimeoutException

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, State, Status
from spherecode.host.link import (
    Board,
    BoardError,
    Busy,
    Identity,
    Link,
    Lost,
    PortError,
    Reset,
    open_port,
    response_frame,
)

#: A token for requests sent by hand (the host draws a fresh one per CONFIGURE).
TOKEN = bytes([0x5E, 0x55, 0x10, 0x4E])


class ScriptedPort:
    """Answers the n-th request with ``script[n](frame)`` (bytes, or None for silence)."""

    def __init__(self, *script):
        self.script, self.sent, self.pending = list(script), [], b""

    def write(self, frame):
        self.sent.append(frame)
        answer = self.script.pop(0)(frame) if self.script else None
        self.pending += answer or b""

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def reset_input_buffer(self):
        self.pending = b""


def ok(payload=b"", status=Status.OK):
    return lambda frame: response_frame(frame[1], frame[2], status, 1, payload)


def garbled(frame):
    good = bytearray(ok(b"\x01\x02")(frame))
    good[-3] ^= 0x10
    return bytes(good)


def test_ok_response_is_returned():
    link = Link(ScriptedPort(ok(b"\x01\x02")), timeout=0.2)
    assert link.request(Command.STATS, expect=2).payload == b"\x01\x02"
    assert link.retried == 0


def test_garbled_answer_to_an_idempotent_request_is_retried():
    port = ScriptedPort(garbled, ok(b"\x01\x02"))
    link = Link(port, timeout=0.2)
    assert link.request(Command.READ, b"\x00\x00\x01\x00", expect=2).payload == b"\x01\x02"
    assert link.retried == 1 and port.sent[0][2] != port.sent[1][2]  # a new sequence number


def test_lost_answer_to_run_is_not_repeated():
    port = ScriptedPort(lambda f: None, ok())
    with pytest.raises(Lost):
        Link(port, timeout=0.1).request(Command.RUN, expect=0)
    assert len(port.sent) == 1


def test_damaged_request_is_resent_even_for_run():
    port = ScriptedPort(ok(status=Status.BAD_CRC), ok(b"\x05"))
    assert Link(port, timeout=0.2).request(Command.RUN, expect=1).payload == b"\x05"


def test_stale_answer_is_skipped():
    def stale_then_good(frame):
        return response_frame(frame[1], (frame[2] - 1) & 0xFF, Status.OK, 1, b"\x09") + ok(b"\x01")(frame)

    assert Link(ScriptedPort(stale_then_good), timeout=0.2).request(Command.STATS, expect=1).payload == b"\x01"


def test_lost_state_is_a_reset():
    with pytest.raises(Reset, match="NOT_LOADED"):
        Link(ScriptedPort(ok(status=Status.NOT_LOADED)), timeout=0.2).request(Command.RUN)


def test_refusal_is_an_error():
    with pytest.raises(BoardError, match="BAD_CONFIG"):
        Link(ScriptedPort(ok(status=Status.BAD_CONFIG)), timeout=0.2).request(Command.CONFIGURE, b"")


def test_noise_gives_up_after_the_retries():
    port = ScriptedPort(*[lambda f: b"hello world\r\n"] * 3)
    with pytest.raises(BoardError, match="3 attempts"):
        Link(port, timeout=0.05, retries=2).request(Command.IDENTIFY, expect=p.Layout.identity)


def test_identity():
    from spherecode.hw.config import CoreConfig
    from spherecode.hw.fixed import Q

    config = CoreConfig(Q(2, 20), 1024, 3, 1)
    ident = Identity.parse(p.identity(config, 75_000_000, 3_000_000))
    assert ident.config == config and (ident.clock_hz, ident.baud) == (75_000_000, 3_000_000)
    assert (ident.fmt, ident.lanes, ident.dmax, ident.nmax) == (Q(2, 20), 1, 3, 1024)
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(b"ABCD" + bytes(15))
    bad = bytearray(p.identity(config, 75_000_000, 3_000_000))
    bad[8] = 9  # Dmax 9: no datapath for it
    with pytest.raises(BoardError, match="cannot compute with: dmax must be"):
        Identity.parse(bytes(bad))


def test_sequence_numbers_start_at_random():
    """Two hosts on one line must not answer each other's (command, sequence number) pairs in lockstep."""
    first = set()
    for _ in range(32):
        port = ScriptedPort(ok())
        Link(port, timeout=0.2).request(Command.STATS)
        first.add(port.sent[0][2])
    assert len(first) > 8


def test_state_bits_this_host_did_not_cause_are_a_reset():
    answer = lambda frame: response_frame(frame[1], frame[2], Status.OK, 7, b"")  # noqa: E731
    with pytest.raises(Reset, match="another process"):
        Link(ScriptedPort(answer), timeout=0.2).request(Command.CONFIGURE, b"", state=(7, State.CONFIGURED))
    assert Link(ScriptedPort(ok()), timeout=0.2).request(Command.CONFIGURE, b"", state=(7, State.CONFIGURED))


class FailingPort(ScriptedPort):
    """A pyserial port whose ``method`` raises ``exc`` (what pyserial raises when the device goes away)."""

    port = "/dev/ttyTEST"

    def __init__(self, method, exc):
        super().__init__(ok())
        setattr(self, method, self._fail)
        self.exc = exc

    def _fail(self, *args):
        raise self.exc


@pytest.mark.parametrize(
    "method, exc",
    [
        (
            "read",
            SerialException(
                "device reports readiness to read but returned no data (device disconnected "
                "or multiple access on port?)"
            ),
        ),
        ("write", SerialTimeoutException("Write timeout")),
        ("write", SerialException("write failed: [Errno 5] Input/output error")),
        ("reset_input_buffer", termios.error(5, "Input/output error")),
    ],
)
def test_port_failures_are_one_line_board_errors(method, exc):
    link = Link(FailingPort(method, exc), timeout=0.2)
    with pytest.raises(PortError, match="the serial port /dev/ttyTEST closed or failed: ") as info:
        link.request(Command.IDENTIFY, expect=p.Layout.identity)
    assert "\n" not in str(info.value)


def test_open_port_errors(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        with pytest.raises(PortError, match=f"cannot open serial port {path}: .*integer"):
            open_port(path, 99999999999)  # pyserial's OverflowError from the termios custom-baud call
        first = open_port(path, 115200)
        with pytest.raises(PortError, match=f"^serial port {path} is in use by another process$"):
            open_port(path, 115200)
        first.close()
        open_port(path, 115200).close()  # the lock goes with the port
        with pytest.raises(PortError, match="cannot open serial port"):
            open_port(str(tmp_path / "none"), 115200)
    finally:
        os.close(master)
        os.close(slave)


# Whole loosening runs (LOOSEN), against the protocol's model of the board (ProtocolModel, on the FakeCore's
# behaviour of tests/hw/board_model.py) behind a port: each written frame is answered as docs/protocol.md says.


class ModelPort:
    """A board (:class:`~spherecode.hw.board_link.protocol_model.ProtocolModel`) behind a pyserial-like port. A
    LOOSEN run advances one iteration
    per STATUS and ends with its K-th. ``faults``: request index → "lost" (executed, no answer) or
    "reset" (the board is reset before the request). ``late_end``: the STATUS answer on which a run ends
    carries the state from before its end (RUNNING) in its header and running = 0 in its payload — the
    board sends the header before the payload, and a run can end in between."""

    def __init__(self, loosening=True, faults=None, late_end=False):
        from ...hw.board_model import protocol_model

        self.make = lambda: protocol_model(loosening)
        self.board, self.faults, self.sent, self.answers, self.pending = self.make(), dict(faults or {}), [], [], b""
        self.late_end = late_end

    def write(self, frame):
        cmd = frame[1]
        fault = self.faults.pop(len(self.sent), None)
        self.sent.append(cmd)
        if fault == "reset":
            self.board = self.make()
        board, before = self.board, self.board.state()
        if cmd == Command.STATUS:
            board.advance()
        answer = board.answer(frame)
        self.answers.append(answer[3])
        if self.late_end and before & State.RUNNING and not board.running:  # the header went out before the end
            answer = response_frame(answer[1], answer[2], answer[3], before, answer[p.RESPONSE_HEADER : -2])
        if fault != "lost":
            self.pending += answer

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def reset_input_buffer(self):
        self.pending = b""


def _vectors(seed=0, n=8, d=3):
    from ...hw.board_model import WIDTH

    rng = np.random.default_rng(seed)
    return rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), (n, d))


def _expected(raw, k, n0=1, l0=2 << p.L_FRACTION):
    from ...hw.board_model import FakeBehaviour

    out = FakeBehaviour().loosen(raw, k, n0, l0)
    return out.vectors, out.cycles, out.move_norm, out.delta_min, out.n, out.l


def test_loosen_is_one_load_set_and_one_read_set():
    """A whole run: CONFIGURE, one LOAD, LOOSEN, STATUS polls with progress, RESULT, one READ; the result
    decoded field by field (cycles in 6 bytes, l in 9)."""
    port = ModelPort()
    board = Board(Link(port, timeout=1.0))
    assert board.identity.loosens and board.identity.version == p.VERSION == 4
    raw, seen = _vectors(), []
    out = board.loosen(raw, 7, n=3, l=(1 << 66) - 5, progress=lambda done, total: seen.append((done, total)), poll=0)
    new, cycles, s, dmin, n1, l1 = _expected(raw, 7, 3, (1 << 66) - 5)
    assert np.array_equal(out.vectors, new)
    assert (out.cycles, out.move_norm, out.delta_min, out.n, out.l) == (cycles, s, dmin, n1, l1) and n1 == 10
    assert out.cycles >> 32 == 7  # the cycle count's upper bytes arrive
    assert port.sent == [Command.IDENTIFY, Command.CONFIGURE, Command.LOAD, Command.LOOSEN] + [Command.STATUS] * 7 + [
        Command.RESULT,
        Command.READ,
    ]
    assert seen == [(k, 7) for k in range(1, 8)]


def test_a_run_that_ends_while_status_is_answered_is_polled_again():
    """STATUS's header (the state: RUNNING) goes out before its payload (running = 0 once the run has
    ended in between): the host asks again instead of calling it a reset, and gets the run's result."""
    port = ModelPort(late_end=True)
    board = Board(Link(port, timeout=1.0))
    raw = _vectors(3)
    out = board.loosen(raw, 3, poll=0)
    assert np.array_equal(out.vectors, _expected(raw, 3)[0])
    assert port.sent.count(Command.STATUS) == 4 and port.sent.count(Command.LOOSEN) == 1


def test_loosen_after_a_lost_answer_waits_out_the_busy_board():
    """LOOSEN's answer is lost (it ran): the host repeats the whole run; its CONFIGURE meets BUSY and waits
    (STATUS) until the first run ends. The result is the run's, once."""
    port = ModelPort(faults={3: "lost"})
    link = Link(port, timeout=0.05)
    board = Board(link)
    raw = _vectors(1)
    with pytest.raises(Lost, match="LOOSEN"):
        board.loosen(raw, 4, poll=0)
    assert port.board.running
    out = board.loosen(raw, 4, poll=0)
    assert np.array_equal(out.vectors, _expected(raw, 4)[0])
    assert Status.BUSY in port.answers and port.sent.count(Command.LOOSEN) == 2
    assert port.sent.count(Command.READ) == 1


def test_loosen_after_a_reset_mid_run_is_a_reset():
    port = ModelPort(faults={5: "reset"})
    board = Board(Link(port, timeout=0.05))
    raw = _vectors(2)
    with pytest.raises(Reset, match="STATUS: the board's state is none"):
        board.loosen(raw, 6, poll=0)
    out = board.loosen(raw, 6, poll=0)  # what BoardBackend.loosen does next
    assert np.array_equal(out.vectors, _expected(raw, 6)[0]) and out.n == 7


def test_loosen_bad_input():
    board = Board(Link(ModelPort(), timeout=0.05))
    raw = _vectors()
    for name, kwargs, top in (
        ("iterations", {"iterations": 0}, (1 << 32) - 1),
        ("iterations", {"iterations": 2.0}, (1 << 32) - 1),
        ("n", {"n": 0}, (1 << 16) - 1),
        ("l", {"l": 1 << 66}, (1 << 66) - 1),
    ):
        low = 0 if name == "l" else 1
        args = {"iterations": 3, **kwargs}
        with pytest.raises(ValueError, match=f"^{name} must be an int in {low}..{top}, not {args[name]!r}$"):
            board.loosen(raw, args.pop("iterations"), **args)
    old = Board(Link(ModelPort(loosening=False), timeout=0.05))
    assert not old.identity.loosens
    with pytest.raises(BoardError, match="no whole loosening runs .*use --loosening host"):
        old.loosen(raw, 3)


def test_busy_requests_are_retried_once_the_run_ends():
    """A request that meets BUSY was not executed: the link polls STATUS until the run ends, then sends it
    again."""
    port = ModelPort()
    board = Board(Link(port, timeout=0.05))
    link = board.link
    link.request(
        Command.CONFIGURE,
        (8).to_bytes(2, "little") + bytes([3]) + bytes(board.layout.half_beta + board.layout.step) + TOKEN,
    )
    board._load(_vectors().ravel(), TOKEN)
    link.request(
        Command.LOOSEN,
        (3).to_bytes(4, "little") + (1).to_bytes(2, "little") + bytes(9),
        expect=p.TOKEN_BYTES,
        token=TOKEN,
    )
    with pytest.raises(Reset, match="NO_RESULT"):  # STATS after the run: a LOOSEN result is not a RUN's
        link.request(Command.STATS, expect=board.layout.stats)
    assert port.answers[-5:] == [Status.BUSY, Status.OK, Status.OK, Status.OK, Status.NO_RESULT]
    assert link.status() == (3, False)


def test_identity_versions():
    """Version 4 (tokens) is accepted; 1 and 2 (S rounded to f bits), 3 (no token) and later versions
    are refused."""
    from spherecode.hw.config import CoreConfig

    config = CoreConfig("Q2.20", 1024, 3, 2)
    v4 = Identity.parse(p.identity(config, 60_000_000, 3_000_000, p.Capability.LOOSEN))
    assert v4.version == 4 and v4.loosens and v4.config == dataclasses.replace(config, loosening=True)
    plain = Identity.parse(p.identity(config, 60_000_000, 3_000_000))
    assert not plain.config.loosening and (plain.clock_hz, plain.baud) == (60_000_000, 3_000_000)
    for version, size in ((1, 19), (2, 20), (3, 20), (5, 20)):
        old = bytearray(p.identity(config, 60_000_000, 3_000_000)[:size])
        old[4] = version
        with pytest.raises(BoardError, match=f"protocol version {version}, this host 4: rebuild and flash"):
            Identity.parse(bytes(old))
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(p.identity(config, 60_000_000, 3_000_000) + b"\x00\x00")
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(b"SPHX" + p.identity(config, 60_000_000, 3_000_000)[4:])


class CountingPort:
    """A pyserial port that records the command of every request frame written."""

    def __init__(self, port):
        self.port, self.sent = port, []

    def write(self, frame):
        self.sent.append(frame[1])
        return self.port.write(frame)

    def read(self, n):
        return self.port.read(n)

    def reset_input_buffer(self):
        self.port.reset_input_buffer()


@pytest.fixture(scope="module")
def fake_twin():
    """HostLink on a FakeCore with the loosening ports (tests/hw/board_model.py), UART included, in
    Verilator behind a pty."""
    from spherecode.hw.board_link.board_top import BoardTop
    from spherecode.sim.twin import Twin

    from ...hw.board_model import BAUD, CLOCK_HZ, FakeCore

    with Twin(BoardTop(clock_hz=CLOCK_HZ, baud=BAUD, divisor=8, core=FakeCore()), 8) as twin:
        yield twin


def test_loosen_through_the_gateware(fake_twin):
    """The host's whole run against the gateware: one LOAD, one READ, STATUS polls with progress rising
    to K, FakeCore's result field by field; a request during a run meets BUSY, is not executed, and goes
    through once the run has ended."""
    from ...hw.board_model import BAUD

    serial_port = open_port(fake_twin.port, BAUD)
    try:
        port = CountingPort(serial_port)
        board = Board(Link(port, BAUD, timeout=5.0))
        assert board.identity.loosens
        raw, seen, k = _vectors(3), [], 50_000  # 40 cycles an iteration: 2 M cycles
        out = board.loosen(raw, k, n=2, l=5 << p.L_FRACTION, progress=lambda done, total: seen.append(done))
        new, cycles, s, dmin, n1, l1 = _expected(raw, k, 2, 5 << p.L_FRACTION)
        assert np.array_equal(out.vectors, new)
        assert (out.cycles, out.move_norm, out.delta_min, out.n, out.l) == (cycles, s, dmin, n1, l1)
        assert [
            port.sent.count(c) for c in (Command.CONFIGURE, Command.LOAD, Command.LOOSEN, Command.RESULT, Command.READ)
        ] == [1, 1, 1, 1, 1]
        assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == k and seen[0] < k
        # BUSY: a READ during a run is refused and not executed; after the run it reads the new result.
        link, lay = board.link, board.layout
        link.request(
            Command.CONFIGURE, (8).to_bytes(2, "little") + bytes([3]) + bytes(lay.half_beta + lay.step) + TOKEN
        )
        board._load(raw.ravel(), TOKEN)
        link.request(
            Command.LOOSEN,
            k.to_bytes(4, "little") + (1).to_bytes(2, "little") + bytes(9),
            expect=p.TOKEN_BYTES,
            token=TOKEN,
        )
        with pytest.raises(Busy):
            link.exchange(Command.READ, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), expect=lay.read(1))
        assert link.status()[1]
        first = link.request(
            Command.READ, (0).to_bytes(2, "little") + (1).to_bytes(2, "little"), expect=lay.read(1), token=TOKEN
        )
        assert link.status() == (k, False) and first.state == State.CONFIGURED | State.RESULT
        assert int.from_bytes(first.payload, "little", signed=True) == _expected(raw, k, 1, 0)[0][0, 0]
    finally:
        serial_port.close()
