"""The host's side of the protocol against scripted answers (the board itself is tested through the twin
in tests/sim/test_twin_board.py)."""

import pytest

from spherecode.hw import protocol as p
from spherecode.hw.protocol import Command, Status
from spherecode.host.link import (BoardError, Identity, Link, Lost, Reset, request_frame, response_frame)


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


def test_request_frame_layout_and_crc_residue():
    frame = request_frame(Command.LOAD, 7, b"\x00\x00\x01\x02\x03")
    assert frame[:5] == bytes([0xA5, 0x03, 7, 5, 0])
    assert p.CRC.compute(frame[1:]) == 0  # what the gateware checks
    assert p.CRC.compute(b"123456789") == 0x29B1


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
    from spherecode.hw.fixed import Q

    ident = Identity.parse(p.identity(Q(2, 20), 1, 3, 1024, 75_000_000, 3_000_000))
    assert (ident.fmt, ident.lanes, ident.dmax, ident.nmax, ident.clock_hz) == (Q(2, 20), 1, 3, 1024, 75_000_000)
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(b"ABCD" + bytes(15))
