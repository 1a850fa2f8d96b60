"""Shared by the CommandExecutor, HostLink and host-side tests: a small core configuration, :class:`FakeCore`
(the UpdaterCore's ports plus the loosening ports of :data:`~spherecode.hw.board_link.command_executor.LOOSEN_PORTS`,
with a behaviour a test can predict), :func:`protocol_model` (docs/protocol.md's board on it: the expected
response to each request) and :func:`script` (requests for every command and every status)."""

import numpy as np
from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.board_link import protocol as p
from spherecode.hw.config import CoreConfig
from spherecode.hw.board_link.protocol import Command, Status
from spherecode.hw.board_link.protocol_model import Loosened, ProtocolModel, Updated

CONFIG = CoreConfig("Q2.20", nmax=8, dmax=3)
#: The loosening core (two candidates per sweep, K iterations on chip): the UpdaterCore's ports, the
#: loosening ports, and a 48-bit cycle counter.
LOOSENING_SIGNATURE = wiring.Signature(
    {
        **dict(CONFIG.signature.members.items()),
        "loosen": In(1),
        "iterations": In(32),
        "loosen_n": In(16),
        "loosen_l": In(p.L_BITS),
        "progress": Out(32),
        "state_n": Out(16),
        "state_l": Out(p.L_BITS),
        "cycles": Out(48),
    }
)


class StandInCore:
    """What CommandExecutor reads of a core: its configuration and signature (nothing to elaborate)."""

    def __init__(self, signature: wiring.Signature):
        self.config, self.dp, self.lanes, self.signature = CONFIG, CONFIG.datapath, CONFIG.lanes, signature


CORE = StandInCore(CONFIG.signature)
LOOSENING_CORE = StandInCore(LOOSENING_SIGNATURE)
#: FakeCore's cycles per loosening iteration.
ITERATION = 40
DP = CONFIG.datapath
LAY = p.Layout.of(DP)
WIDTH = DP.fmt.width
CLOCK_HZ, BAUD = 50_000_000, 3_000_000
REFUSED_N = 7  # FakeCore refuses this N, as a core refuses an N outside its range


class FakeBehaviour:
    """:class:`FakeCore`'s behaviour, the :class:`~spherecode.hw.board_link.protocol_model.CoreBehaviour` of
    its :class:`~spherecode.hw.board_link.protocol_model.ProtocolModel`, on the coordinates' unsigned words
    x_k (k = 0 … N·D − 1): it refuses N = :data:`REFUSED_N`."""

    def update(self, vectors, half_beta, step):
        """y_k = x_k + k + 1, cycles = Σ x_k (mod 2^32), S = β/2 + 1/(2β), δ_min = (XOR of x_k) ^ (N << 8) ^ D."""
        n, d = vectors.shape
        if n == REFUSED_N:
            return None
        x = DP.fmt.to_bits(vectors.ravel())
        return Updated(
            DP.fmt.from_bits(x + np.arange(x.size) + 1).reshape(n, d),
            int(x.sum()) % (1 << 32),
            (half_beta + step) % (1 << DP.s_fmt.width),
            (int(np.bitwise_xor.reduce(x)) ^ (n << 8) ^ d) % (1 << DP.d2_fmt.width),
        )

    def loosen(self, vectors, iterations, n, l):
        """y_k = x_k + k + K, cycles = (Σ x_k mod 2^32) + K·2^32 (mod 2^48), S = K, δ_min = (XOR of x_k) ^ n,
        final n + K (mod 2^16) and l + K·2^40 (mod 2^66)."""
        rows, d = vectors.shape
        if rows == REFUSED_N:
            return None
        x = DP.fmt.to_bits(vectors.ravel())
        return Loosened(
            DP.fmt.from_bits(x + np.arange(x.size) + iterations).reshape(rows, d),
            (int(x.sum()) % (1 << 32) + (iterations << 32)) % (1 << 48),
            iterations % (1 << DP.s_fmt.width),
            (int(np.bitwise_xor.reduce(x)) ^ n) % (1 << DP.d2_fmt.width),
            (n + iterations) % (1 << 16),
            (l + (iterations << 40)) % (1 << p.L_BITS),
        )


def protocol_model(loosening: bool = True) -> ProtocolModel:
    """docs/protocol.md's board on a :class:`FakeCore` (``FakeCore(loosening)``)."""
    return ProtocolModel(CONFIG, FakeBehaviour(), CLOCK_HZ, BAUD, loosening)


class FakeCore(wiring.Component):
    """The :class:`~spherecode.hw.dataflow.core.UpdaterCore`'s ports (and, with ``loosening``, those of
    :data:`LOOSENING_SIGNATURE`) with a behaviour a test can predict: ``start`` (refused, ``error`` set,
    unless 2 ≤ N ≤ nmax, 2 ≤ D ≤ dmax and N ≠ :data:`REFUSED_N`); takes N·D coordinates x_k on ``i``
    (``ready`` pseudo-random), then offers y_k = x_k + k + 1 (mod 2^width) on ``o`` (``valid``
    pseudo-random), pulsing ``done`` half-way through; ``cycles`` = Σ x_k (unsigned, mod 2^32),
    ``move_norm`` = β/2 + 1/(2β), ``delta_min`` = (XOR of x_k) ^ (N << 8) ^ D.

    With ``loosen`` high at ``start``: after the coordinates, K = ``iterations`` iterations of
    :data:`ITERATION` cycles each (``progress`` counts them from 0), then the output of :meth:`FakeBehaviour.loosen`
    (y_k, cycles, S, δ_min, ``state_n``, ``state_l``), offered and pulsing ``done`` as above."""

    def __init__(self, loosening: bool = True):
        self.loosening = loosening
        self.config, self.dp, self.lanes = CONFIG, DP, CONFIG.lanes
        super().__init__(LOOSENING_SIGNATURE if loosening else CONFIG.signature)

    def elaborate(self, platform):
        m = Module()
        depth = DP.nmax * DP.dmax
        regs = Array(Signal(WIDTH, name=f"x{k}") for k in range(depth))
        lfsr = Signal(16, init=0xACE1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]))
        total, count = Signal(range(depth + 1)), Signal(range(depth + 1))
        ok = (self.n >= 2) & (self.n <= DP.nmax) & (self.d >= 2) & (self.d <= DP.dmax) & (self.n != REFUSED_N)
        x = self.i.payload.as_unsigned()
        loosen, iterations = Signal(), Signal(32)  # the run's mode and K
        tick = Signal(range(ITERATION))
        low = Signal(32)  # Σ x_k mod 2^32
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += self.error.eq(~ok)
                    with m.If(ok):
                        m.d.sync += [
                            total.eq(self.n * self.d),
                            count.eq(0),
                            low.eq(0),
                            self.move_norm.eq(self.half_beta + self.step),
                            self.delta_min.eq((self.n << 8) ^ self.d),
                        ]
                        if self.loosening:
                            m.d.sync += [
                                loosen.eq(self.loosen),
                                iterations.eq(Mux(self.loosen, self.iterations, 0)),
                                self.progress.eq(0),
                                tick.eq(0),
                            ]
                            with m.If(self.loosen):
                                m.d.sync += [
                                    self.move_norm.eq(self.iterations),
                                    self.delta_min.eq(self.loosen_n),
                                    self.state_n.eq(self.loosen_n + self.iterations),
                                    self.state_l.eq(self.loosen_l + (self.iterations << 40)),
                                ]
                        m.next = "IN"
            with m.State("IN"):
                m.d.comb += self.i.ready.eq(lfsr[0])
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += [
                        regs[count].eq(x),
                        count.eq(count + 1),
                        low.eq(low + x),
                        self.delta_min.eq(self.delta_min ^ x),
                    ]
                    with m.If(count == total - 1):
                        m.d.sync += count.eq(0)
                        m.next = "LOOSEN" if self.loosening else "OUT"
                        if self.loosening:
                            with m.If(~loosen):
                                m.next = "OUT"
            if self.loosening:
                with m.State("LOOSEN"):
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == ITERATION - 1):
                        m.d.sync += [tick.eq(0), self.progress.eq(self.progress + 1)]
                        with m.If(self.progress == iterations - 1):
                            m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += [
                    self.o.valid.eq(lfsr[4]),
                    self.o.payload.eq(
                        regs[count] + count + Mux(loosen, iterations, 1) if self.loosening else regs[count] + count + 1
                    ),
                ]
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += count.eq(count + 1)
                    m.d.comb += self.done.eq(count == total >> 1)
                    with m.If(count == total - 1):
                        m.next = "IDLE"
        m.d.comb += [
            self.busy.eq(~fsm.ongoing("IDLE")),
            self.cycles.eq(Cat(low, iterations[:16]) if self.loosening else low),
        ]
        return m


#: A LOOSEN run's iterations in :func:`script`: long enough (ITERATION cycles each) that the requests after
#: it meet the run in progress, even with a slow response line.
SCRIPT_K = 40
#: Idle cycles before the request after a "wait" in :func:`script`: the run has ended.
WAIT = 3 * SCRIPT_K * ITERATION


def loosen_payload(k, n0, l0):
    return k.to_bytes(4, "little") + n0.to_bytes(2, "little") + l0.to_bytes(p.L_BYTES, "little")


def script(rng):
    """(cmd, payload bytes as received, length field, parser status, wait) for every command and status;
    ``wait``: the request comes :data:`WAIT` cycles after the previous one (a LOOSEN run has ended: call
    :meth:`ProtocolModel.finish` first). Over 80 lines because it is the script itself: one line per request,
    in the order the board receives them."""
    words = lambda values: b"".join((int(v) % (1 << 8 * LAY.coord)).to_bytes(LAY.coord, "little") for v in values)
    coords = lambda m: rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), m)
    token = [0]  # the board's token, as the valid CONFIGUREs so far leave it

    def load(k, m, quote=None):
        quote = token[0] if quote is None else quote
        return Command.LOAD, quote.to_bytes(p.TOKEN_BYTES, "little") + k.to_bytes(2, "little") + words(coords(m))

    def cfg(n, d, length=LAY.configure):
        data = (
            n.to_bytes(2, "little") + bytes([d]) + rng.integers(0, 256, LAY.configure - 3).astype(np.uint8).tobytes()
        )[:length]
        if length == LAY.configure and 2 <= n <= DP.nmax and 2 <= d <= DP.dmax:
            token[0] = int.from_bytes(data[-p.TOKEN_BYTES :], "little")
        return Command.CONFIGURE, data

    other = lambda: token[0] ^ (1 << int(rng.integers(0, 8 * p.TOKEN_BYTES)))  # one bit off
    read = lambda k, m: (Command.READ, k.to_bytes(2, "little") + m.to_bytes(2, "little"))
    steps = [
        (Command.IDENTIFY, b""),
        (Command.IDENTIFY, b"\x00"),
        load(0, 2),  # NOT_CONFIGURED
        (Command.RUN, b""),
        read(0, 1),
        (Command.STATS, b""),  # NOT_LOADED, NO_RESULT, NO_RESULT
        cfg(5, 3, LAY.configure - 1),
        cfg(1, 3),
        cfg(9, 3),
        cfg(5, 4),
        cfg(5, 1),
        cfg(5, 3),  # N·D = 15
        load(3, 2),  # BAD_RANGE: skips ahead
        load(0, 7),
        load(7, 8),
        (Command.RUN, b"\x00"),  # loaded; RUN with a payload: BAD_LENGTH
        (Command.LOAD, load(0, 1)[1][:-1]),  # a partial coordinate: BAD_LENGTH, prefix 0
        (Command.LOAD, load(0, 0)[1][:-1]),  # no whole index: BAD_LENGTH
        load(0, 7, other()),
        (Command.RUN, b""),  # another token: BAD_TOKEN; NOT_LOADED
        load(0, 7),
        load(7, 8),
        load(3, 4, other()),  # another token after a whole load …
        (Command.RUN, b""),  # … forgets the prefix: NOT_LOADED
        load(0, 7),
        ("bad_crc",) + load(7, 8),  # damaged: prefix 0
        load(7, 8),  # BAD_RANGE now
        load(0, 10),
        load(10, 8),  # past N·D: BAD_RANGE (some written)
        load(0, 8),
        load(4, 11),  # overlapping, idempotent
        (Command.RUN, b""),
        (Command.RUN, b""),
        (Command.STATS, b""),
        read(0, 15),
        read(3, 5),
        read(14, 2),
        (Command.READ, b"\x00\x00\x01"),
        (0x7F, b""),
        ("timeout",) + read(0, 2),
        ("timeout",) + load(0, 3),  # not executed; the LOAD resets the prefix
        (Command.RUN, b""),
        read(10, 5),  # NOT_LOADED; the result is still there
        cfg(REFUSED_N, 2),
        load(0, 14),
        (Command.RUN, b""),
        (Command.STATS, b""),  # the core refuses
        cfg(8, 3),
        load(0, 5),
        load(5, 19),
        (Command.RUN, b""),
        read(0, 24),
        (Command.STATS, b""),
        (Command.RESULT, b""),  # NO_RESULT: a RUN's result
        (Command.LOOSEN, loosen_payload(3, 1, 2 << 48)),  # NOT_LOADED
        cfg(8, 3),
        load(0, 24),
        (Command.LOOSEN, loosen_payload(3, 1, 2 << 48)[:-1]),  # BAD_LENGTH (prefix 0)
        load(0, 24),
        (Command.LOOSEN, loosen_payload(0, 1, 2 << 48)),  # K = 0: BAD_CONFIG
        (Command.LOOSEN, loosen_payload(3, 0, 2 << 48)),  # n = 0: BAD_CONFIG
        (Command.STATUS, b""),
        (Command.LOOSEN, loosen_payload(SCRIPT_K, 5, (1 << 66) - (3 << 40) + 12345)),  # runs
        (Command.STATUS, b""),
        (Command.CONFIGURE, b"\x00"),
        read(0, 2),
        load(0, 3),  # BUSY, nothing written
        (Command.IDENTIFY, b""),
        (Command.RESULT, b""),
        (Command.STATUS, b"\x00"),
        (0x7F, b""),
        ("wait",) + (Command.STATUS, b""),  # over: progress K
        (Command.RESULT, b""),
        (Command.STATS, b""),
        read(0, 24),
        (Command.RESULT, b"\x01"),
        (Command.LOOSEN, loosen_payload(2, 1, 0)),  # NOT_LOADED: the run used the vectors
        load(0, 24),
        (Command.LOOSEN, loosen_payload(2, 7, 1)),  # a short run …
        ("wait",) + (Command.RESULT, b""),
        read(0, 24),  # … read back
        load(0, 24),
        (Command.RUN, b""),
        (Command.RESULT, b""),
        (Command.STATUS, b""),  # a RUN: no RESULT
        cfg(REFUSED_N, 2),
        load(0, 14),
        (Command.LOOSEN, loosen_payload(4, 1, 2 << 48)),  # the core refuses
        (Command.STATUS, b""),
        (Command.RESULT, b""),
    ]
    out = []
    for step in steps:
        wait = step[0] == "wait"
        step = step[1:] if wait else step
        status = Status.OK
        if step[0] == "bad_crc":
            status, step = Status.BAD_CRC, step[1:]
        elif step[0] == "timeout":
            status, step = Status.TIMEOUT, step[1:]
        cmd, data = step
        length = len(data)
        if status == Status.TIMEOUT:
            data = data[: int(rng.integers(0, len(data)))]  # stopped arriving
        out.append((int(cmd), data, length, status, wait))
    return out


def matches(frame: bytes, expected: bytes, wild: bool) -> bool:
    """``frame`` is the ``expected`` response; ``wild`` (a STATUS during a run): its progress (≤ the run's
    iterations) and so its CRC are not predicted, but the CRC must check."""
    if not wild:
        return frame == expected
    same = len(frame) == len(expected) and frame[:7] == expected[:7] and frame[11] == expected[11]
    return same and int.from_bytes(frame[7:11], "little") <= SCRIPT_K and p.CRC.compute(frame[1:]) == 0
