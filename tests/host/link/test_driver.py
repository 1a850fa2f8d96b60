"""The host's whole loosening runs (:class:`~spherecode.host.link.driver.Board`), against the protocol's model
of the board behind a port (each written frame answered as docs/protocol.md says), and once against the
gateware on a FakeCore with the loosening ports."""

import numpy as np
import pytest

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, State, Status
from spherecode.host.link import Board, BoardError, Busy, Link, Lost, Reset, open_port

from .ports import TOKEN, ModelPort, _expected, _vectors


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
