"""The protocol's model of the board (hw/board_link/protocol_model.py) against docs/protocol.md's rules, request by
request, on a core that records what it is given; and on the bit-exact model of the real core, behind the host's
driver. (The gateware is checked against the model in test_command_executor.py and test_host_link.py.)"""

import re

import numpy as np
import pytest

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Capability, Command, State, Status
from spherecode.hw.board_link.protocol_model import Loosened, ProtocolModel, Updated
from spherecode.hw.config import CoreConfig

CONFIG = CoreConfig("Q2.20", nmax=8, dmax=3)
DP = CONFIG.datapath
LAY = p.Layout.of(DP)
TOKEN = bytes([0x5E, 0x55, 0x10, 0x4E])
CLOCK_HZ, BAUD = 50_000_000, 3_000_000


class Recorder:
    """A core that records its calls: an update negates the vectors, a run adds K to them; S, δ_min, n and l
    are wider than the ports (the model cuts them). It refuses ``refuse`` vectors."""

    def __init__(self):
        self.calls, self.refuse = [], None

    def update(self, vectors, half_beta, step):
        self.calls.append(("update", vectors.copy(), half_beta, step))
        if vectors.shape[0] == self.refuse:
            return None
        return Updated(-vectors, (1 << 40) + 17, (1 << DP.s_fmt.width) + 5, (1 << DP.d2_fmt.width) + 6)

    def loosen(self, vectors, iterations, n, l):
        self.calls.append(("loosen", vectors.copy(), iterations, n, l))
        if vectors.shape[0] == self.refuse:
            return None
        return Loosened(vectors + iterations, (1 << 50) + 3, 7, 8, n + iterations, l + (1 << p.L_BITS))


def board(loosening=True):
    return ProtocolModel(CONFIG, Recorder(), CLOCK_HZ, BAUD, loosening)


def ask(model, cmd, payload=b"", seq=9):
    """(status, state, payload) of the model's response frame to a whole request, which must be well formed."""
    frame = model.answer(p.request_frame(cmd, seq, payload))
    assert frame[0] == p.SYNC_RESPONSE and frame[1:3] == bytes([cmd, seq]) and p.CRC.compute(frame[1:]) == 0
    length = int.from_bytes(frame[5:7], "little")
    assert len(frame) == p.RESPONSE_HEADER + length + 2
    return Status(frame[3]), State(frame[4]), frame[p.RESPONSE_HEADER : -2]


def configure(n, d, half_beta=0, step=0, token=TOKEN):
    return (
        n.to_bytes(2, "little")
        + bytes([d])
        + half_beta.to_bytes(LAY.half_beta, "little")
        + step.to_bytes(LAY.step, "little")
        + token
    )


def load(first, values, token=TOKEN):
    return (
        token
        + first.to_bytes(2, "little")
        + b"".join(DP.fmt.to_bits(int(v)).to_bytes(LAY.coord, "little") for v in values)
    )


def read(first, count):
    return first.to_bytes(2, "little") + count.to_bytes(2, "little")


def loosen(k, n=1, l=2 << p.L_FRACTION):
    return k.to_bytes(4, "little") + n.to_bytes(2, "little") + l.to_bytes(p.L_BYTES, "little")


def loaded(model, n=4, d=3, seed=0, **fields):
    """Configure N, D and load random coordinates (two LOADs); returns them, raw (N, D)."""
    values = np.random.default_rng(seed).integers(-(1 << 21), 1 << 21, (n, d))
    assert ask(model, Command.CONFIGURE, configure(n, d, **fields))[0] == Status.OK
    flat = values.ravel()
    assert ask(model, Command.LOAD, load(0, flat[:5]))[0] == Status.OK
    assert ask(model, Command.LOAD, load(5, flat[5:]))[:2] == (Status.OK, State.CONFIGURED | State.LOADED)
    return values


def test_arguments_are_checked():
    for kwargs, message in (
        ({"config": "Q2.20"}, "config must be a CoreConfig, not 'Q2.20'"),
        ({"loosening": 1}, "loosening must be True, False or None, not 1"),
        ({"core": object}, f"core must have a update method (a CoreBehaviour), not {object!r}"),
        ({"clock_hz": 0}, f"clock_hz must be an int in 1..{(1 << 32) - 1}, not 0"),
        ({"baud": 3e6}, f"baud must be an int in 1..{(1 << 32) - 1}, not 3000000.0"),
        ({"baud": True}, f"baud must be an int in 1..{(1 << 32) - 1}, not True"),
    ):
        args = {"config": CONFIG, "core": Recorder(), "clock_hz": CLOCK_HZ, "baud": BAUD, **kwargs}
        error = TypeError if message.split()[0] in ("config", "loosening", "core") else ValueError
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            ProtocolModel(**args)

    class Updates:
        def update(self, vectors, half_beta, step):
            return None

    core = Updates()
    ProtocolModel(CONFIG, core, CLOCK_HZ, BAUD)  # the configuration does not loosen: update is enough
    with pytest.raises(
        TypeError, match=f"^{re.escape(f'core must have a loosen method (a CoreBehaviour), not {core!r}')}$"
    ):
        ProtocolModel(CONFIG, core, CLOCK_HZ, BAUD, loosening=True)


def test_answer_refuses_what_is_not_a_whole_request():
    model = board()
    for frame, message in (
        (b"\x5a\x01\x00\x00\x00\x00\x00", "frame must be a request frame, not b'Z\\x01\\x00\\x00\\x00\\x00\\x00'"),
        (
            p.request_frame(Command.IDENTIFY, 1, b"ab")[:-1],
            "frame must hold its 2 payload bytes and the CRC, not 8 bytes",
        ),
    ):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            model.answer(frame)


def test_identify_and_the_capability():
    assert ask(board(), Command.IDENTIFY) == (
        Status.OK,
        State(0),
        p.identity(CONFIG, CLOCK_HZ, BAUD, Capability.LOOSEN),
    )
    assert ask(board(False), Command.IDENTIFY)[2] == p.identity(CONFIG, CLOCK_HZ, BAUD)
    assert ask(board(), Command.IDENTIFY, b"\x00")[0] == Status.BAD_LENGTH
    assert ProtocolModel(CoreConfig("Q2.20", 8, 3, loosening=True), Recorder(), 1, 1).loosening


def test_damaged_and_unknown_requests():
    """A CRC that does not check is BAD_CRC, echoing command and sequence number; a request that stopped
    arriving is the parser's TIMEOUT; neither is executed. An unknown command is UNKNOWN_COMMAND, and so
    are LOOSEN and RESULT on a board without the capability."""
    model = board()
    frame = bytearray(p.request_frame(Command.CONFIGURE, 3, configure(4, 3)))
    frame[-1] ^= 1
    answer = model.answer(bytes(frame))
    assert answer == p.response_frame(Command.CONFIGURE, 3, Status.BAD_CRC, 0)
    assert model.execute(Command.CONFIGURE, LAY.configure, Status.TIMEOUT, configure(4, 3)[:5]) == (Status.TIMEOUT, b"")
    assert model.state() == State(0)
    message = "received must be OK, BAD_CRC or TIMEOUT (the parser's verdicts), not <Status.BUSY: 10>"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.execute(Command.IDENTIFY, 0, Status.BUSY, b"")
    assert ask(model, 0x7F)[0] == Status.UNKNOWN_COMMAND
    plain = board(False)
    assert [ask(plain, c)[0] for c in (Command.LOOSEN, Command.RESULT)] == [Status.UNKNOWN_COMMAND] * 2


def test_configure():
    """BAD_LENGTH, BAD_CONFIG unless 2 ≤ N ≤ Nmax and 2 ≤ D ≤ Dmax; bits above β/2's and 1/(2β)'s widths
    ignored; the load and the result forgotten."""
    model = board()
    assert ask(model, Command.CONFIGURE, configure(4, 3)[:-1])[0] == Status.BAD_LENGTH
    for n, d in ((1, 3), (DP.nmax + 1, 3), (4, 1), (4, DP.dmax + 1)):
        assert ask(model, Command.CONFIGURE, configure(n, d)) == (Status.BAD_CONFIG, State(0), b"")
    half_beta, step = (1 << (8 * LAY.half_beta)) - 1, (1 << (8 * LAY.step)) - 1
    loaded(model, half_beta=half_beta, step=step)
    assert ask(model, Command.RUN)[0] == Status.OK
    assert model.core.calls[-1][2:] == (half_beta % (1 << DP.half_beta_fmt.width), step % (1 << DP.step_fmt.width))
    assert ask(model, Command.CONFIGURE, configure(4, 3)) == (Status.OK, State.CONFIGURED, b"")
    assert ask(model, Command.READ, read(0, 1))[0] == Status.NO_RESULT  # the result is forgotten


def test_load_and_its_prefix():
    """LOAD: NOT_CONFIGURED first; BAD_TOKEN for another token (nothing written); k ≤ P and k + m ≤ N·D
    (BAD_RANGE otherwise, nothing written); a failed LOAD resets P to 0; an accepted LOAD repeated is
    harmless."""
    model = board()
    assert ask(model, Command.LOAD, load(0, [1, 2]))[0] == Status.NOT_CONFIGURED
    assert ask(model, Command.CONFIGURE, configure(2, 2))[0] == Status.OK
    assert ask(model, Command.LOAD, load(0, [1, 2], token=bytes(4)))[0] == Status.BAD_TOKEN
    assert ask(model, Command.LOAD, load(1, [1]))[0] == Status.BAD_RANGE  # skips ahead of P = 0
    assert ask(model, Command.LOAD, load(0, [1, -2, 3]))[:2] == (Status.OK, State.CONFIGURED)
    assert ask(model, Command.LOAD, load(0, [1, -2, 3]))[0] == Status.OK  # repeated: idempotent
    assert ask(model, Command.LOAD, load(3, [4, 5]))[0] == Status.BAD_RANGE  # past N·D
    assert ask(model, Command.LOAD, load(3, [4]))[0] == Status.BAD_RANGE  # the failure reset P
    assert ask(model, Command.LOAD, load(0, [1, -2, 3]) + b"\x00")[0] == Status.BAD_LENGTH  # part of a coordinate
    assert ask(model, Command.LOAD, TOKEN + b"\x00")[0] == Status.BAD_LENGTH  # no whole index
    assert ask(model, Command.LOAD, load(0, [1, -2, 3, 4]))[:2] == (Status.OK, State.CONFIGURED | State.LOADED)
    assert ask(model, Command.LOAD, load(0, [9], token=bytes(4)))[:2] == (Status.BAD_TOKEN, State.CONFIGURED)
    assert ask(model, Command.LOAD, load(0, [1, -2, 3, 4]))[0] == Status.OK
    assert ask(model, Command.RUN)[0] == Status.OK
    assert np.array_equal(model.core.calls[-1][1], [[1, -2], [3, 4]])  # nothing of the refused LOADs written


def test_a_failed_load_may_have_written():
    """A LOAD's coordinates are written as they arrive, before its CRC is checked or its length reached: a
    failed LOAD resets P to 0, and the coordinates it carried may be in the buffer (here: READ shows them in
    the held result)."""
    model = board()
    assert ask(model, Command.CONFIGURE, configure(2, 2))[0] == Status.OK
    assert ask(model, Command.LOAD, load(0, [1, 2, 3, 4]))[0] == Status.OK
    assert ask(model, Command.RUN)[0] == Status.OK
    assert ask(model, Command.LOAD, load(0, [1, 2]))[:2] == (Status.OK, State.CONFIGURED | State.RESULT)
    arrived = load(0, [7, 8, 9])[: 6 + 2 * LAY.coord]  # two of three coordinates, then silence
    assert model.execute(Command.LOAD, 6 + 3 * LAY.coord, Status.TIMEOUT, arrived) == (Status.TIMEOUT, b"")
    assert model.state() == State.CONFIGURED | State.RESULT  # P = 0
    assert ask(model, Command.LOAD, load(2, [3, 4]))[0] == Status.BAD_RANGE
    damaged = bytearray(p.request_frame(Command.LOAD, 1, load(0, [5])))
    damaged[-1] ^= 1
    assert model.answer(bytes(damaged))[3] == Status.BAD_CRC
    words = ask(model, Command.READ, read(0, 3))[2]
    assert [int.from_bytes(words[k * LAY.coord : (k + 1) * LAY.coord], "little") for k in range(3)] == [
        5,
        8,
        -3 % (1 << 24),
    ]


def test_run_read_and_stats():
    """RUN needs P = N·D and consumes it (a second RUN is NOT_LOADED); it answers cycles (the counter's low
    32 bits), S and δ_min cut to their ports, then the token; READ gives the new coordinates sign-extended
    to W bytes; STATS repeats RUN's answer."""
    model = board()
    assert ask(model, Command.RUN)[0] == Status.NOT_LOADED
    assert ask(model, Command.READ, read(0, 1))[0] == Status.NO_RESULT
    assert ask(model, Command.STATS)[0] == Status.NO_RESULT
    values = loaded(model)
    assert ask(model, Command.RUN, b"\x00")[0] == Status.BAD_LENGTH
    status, state, stats = ask(model, Command.RUN)
    assert (status, state) == (Status.OK, State.CONFIGURED | State.RESULT) and len(stats) == LAY.stats
    fields = np.cumsum([0, 4, LAY.move_norm, LAY.delta_min, p.TOKEN_BYTES])
    assert [int.from_bytes(stats[a:b], "little") for a, b in zip(fields[:3], fields[1:4])] == [17, 5, 6]
    assert stats[-p.TOKEN_BYTES :] == TOKEN
    assert ask(model, Command.RUN)[:2] == (Status.NOT_LOADED, State.CONFIGURED | State.RESULT)
    assert ask(model, Command.STATS) == (Status.OK, State.CONFIGURED | State.RESULT, stats)
    status, _, words = ask(model, Command.READ, read(0, 12))
    assert status == Status.OK and words[-p.TOKEN_BYTES :] == TOKEN and len(words) == LAY.read(12)
    got = [int.from_bytes(words[k : k + LAY.coord], "little", signed=True) for k in range(0, 12 * LAY.coord, LAY.coord)]
    assert got == (-values).ravel().tolist()
    assert ask(model, Command.READ, read(11, 2))[0] == Status.BAD_RANGE
    assert ask(model, Command.READ, read(0, 0))[2] == TOKEN
    assert ask(model, Command.READ, read(0, 1)[:3])[0] == Status.BAD_LENGTH
    assert ask(model, Command.RESULT)[0] == Status.NO_RESULT  # a RUN's result


def test_a_core_that_refuses():
    model = board()
    model.core.refuse = 4
    loaded(model)
    assert ask(model, Command.RUN) == (Status.BAD_CONFIG, State.CONFIGURED, b"")
    loaded(model)
    assert ask(model, Command.LOOSEN, loosen(3)) == (Status.BAD_CONFIG, State.CONFIGURED, b"")
    assert ask(model, Command.STATUS)[2] == bytes(5)


def test_a_loosen_run():
    """LOOSEN: BAD_LENGTH, NOT_LOADED, BAD_CONFIG for K = 0 or n = 0; else OK at once with RUNNING, and every
    command but IDENTIFY and STATUS is BUSY (a LOAD writes nothing); STATUS reports the progress; at the end
    the run's vectors replace the loaded ones and RESULT holds its fields, cut to their ports."""
    model = board()
    values = loaded(model)
    assert ask(model, Command.LOOSEN, loosen(3)[:-1])[0] == Status.BAD_LENGTH
    assert [ask(model, Command.LOOSEN, loosen(k, n))[0] for k, n in ((0, 1), (3, 0))] == [Status.BAD_CONFIG] * 2
    l0 = (1 << 70) + 5  # the bits above l's 66 are ignored
    assert ask(model, Command.LOOSEN, loosen(3, 2, l0)) == (Status.OK, State.CONFIGURED | State.RUNNING, TOKEN)
    assert model.core.calls[-1][2:] == ("loosen", 3, 2, 5)[1:] and np.array_equal(model.core.calls[-1][1], values)
    for cmd, payload in (
        (Command.CONFIGURE, configure(4, 3)),
        (Command.LOAD, load(0, [9] * 12)),
        (Command.RUN, b""),
        (Command.READ, read(0, 1)),
        (Command.STATS, b""),
        (Command.LOOSEN, loosen(3)),
        (Command.RESULT, b""),
    ):
        assert ask(model, cmd, payload)[:2] == (Status.BUSY, State.CONFIGURED | State.RUNNING)
    assert ask(model, Command.IDENTIFY)[0] == Status.OK
    assert ask(model, Command.STATUS) == (Status.OK, State.CONFIGURED | State.RUNNING, bytes([0, 0, 0, 0, 1]))
    assert model.progress_varies
    model.advance()
    assert ask(model, Command.STATUS)[2] == bytes([1, 0, 0, 0, 1])
    assert ask(model, Command.STATUS, b"\x00")[0] == Status.BAD_LENGTH and not model.progress_varies
    model.advance(5)
    assert ask(model, Command.STATUS) == (Status.OK, State.CONFIGURED | State.RESULT, bytes([3, 0, 0, 0, 0]))
    assert not model.progress_varies
    status, _, outcome = ask(model, Command.RESULT)
    assert status == Status.OK and len(outcome) == LAY.result and outcome[-p.TOKEN_BYTES :] == TOKEN
    fields = np.cumsum([0, 6, LAY.move_norm, LAY.delta_min, 2, p.L_BYTES])
    assert [int.from_bytes(outcome[a:b], "little") for a, b in zip(fields[:-1], fields[1:])] == [3, 7, 8, 5, 5]
    assert ask(model, Command.RESULT, b"\x00")[0] == Status.BAD_LENGTH
    assert ask(model, Command.STATS)[0] == Status.NO_RESULT  # a LOOSEN's result
    words = ask(model, Command.READ, read(0, 12))[2]
    got = [int.from_bytes(words[k : k + LAY.coord], "little", signed=True) for k in range(0, 12 * LAY.coord, LAY.coord)]
    assert got == (values + 3).ravel().tolist()
    assert ask(model, Command.LOOSEN, loosen(3))[0] == Status.NOT_LOADED  # the run consumed the load


# The real core's behaviour: the bit-exact model (spherecode.host.model), behind the host's driver.


class BitExact:
    """The bit-exact model of the updater core of ``config`` as a CoreBehaviour."""

    def __init__(self, config):
        self.config, self.dp = config, config.datapath

    def update(self, vectors, half_beta, step):
        from spherecode.host.model.updater import iterate

        out = iterate(self.dp, vectors, half_beta, step)
        return Updated(out.vectors, self.config.cycles(*vectors.shape), out.move_norm, int(out.delta.min()))

    def loosen(self, vectors, iterations, n, l):
        from spherecode.host.model.chip_loosening import control, loosen

        new, state, _, kept = loosen(self.dp, vectors, iterations, control(self.dp).load(n, l))
        cycles = self.config.run_cycles(*vectors.shape, iterations)
        return Loosened(new, cycles, kept.move_norm, int(kept.delta.min()), state.n, state.l)


class ModelPort:
    """A pyserial-like port in front of a ProtocolModel; a run completes one iteration per STATUS."""

    def __init__(self, model):
        self.model, self.pending = model, b""

    def write(self, frame):
        if frame[1] == Command.STATUS:
            self.model.advance()
        self.pending += self.model.answer(frame)

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def reset_input_buffer(self):
        self.pending = b""


def test_the_bit_exact_core_behind_the_host():
    """The host's driver against the model on the real core's bit-exact model gives that model's update and
    whole run exactly: the protocol carries every bit."""
    from spherecode.host.link import Board, Link
    from spherecode.host.model.chip_loosening import control, loosen
    from spherecode.host.model.updater import iterate

    config = CoreConfig("Q2.20", nmax=16, dmax=3, lanes=2, loosening=True)
    dp = config.datapath
    board = Board(Link(ModelPort(ProtocolModel(config, BitExact(config), CLOCK_HZ, BAUD)), timeout=1.0))
    assert board.identity.config == config
    vectors = np.random.default_rng(1).standard_normal((12, 3))
    raw, half_beta, step = dp.inputs(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), 6.0)
    new, cycles, s, dmin = board.iterate(raw, half_beta, step)
    want = iterate(dp, raw, half_beta, step)
    assert np.array_equal(new, want.vectors) and (cycles, s, dmin) == (
        config.cycles(12, 3),
        want.move_norm,
        want.delta.min(),
    )
    out = board.loosen(raw, 4, poll=0)
    r, state, _, kept = loosen(dp, raw, 4, control(dp).initial())
    assert np.array_equal(out.vectors, r) and (out.n, out.l, out.move_norm) == (state.n, state.l, kept.move_norm)
    assert out.cycles == config.run_cycles(12, 3, 4) and out.delta_min == kept.delta.min()
