"""The link's requests and responses (:class:`~spherecode.host.link.transport.Link`) against scripted answers
and the board's model behind a port, and opening a serial port (the board itself is tested through the twin
in tests/boards/test_system_twin.py)."""

import os
import termios
import tty

import pytest
from serial import SerialException, SerialTimeoutException

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, State, Status
from spherecode.host.link import Board, BoardError, Link, Lost, PortError, Reset, open_port, response_frame

from .ports import TOKEN, ModelPort, _vectors


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
