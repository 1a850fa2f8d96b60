"""Shared by the CommandExecutor, HostLink and host-side tests: a small core configuration, :class:`FakeCore`
(the UpdaterCore's ports plus the loosening ports of :data:`~spherecode.hw.board_link.command_executor.LOOSEN_PORTS`,
with a behaviour a test can predict), :class:`Board` (docs/protocol.md's board, as a Python model: the
expected response to each request) and :func:`script` (requests for every command and every status)."""

import numpy as np
from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.board_link import protocol as p
from spherecode.hw.config import CoreConfig
from spherecode.hw.board_link.protocol import Command, Status

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


def loosened(x, n, d, iterations, n0, l0):
    """FakeCore's LOOSEN run on coordinates ``x`` (unsigned raw) → (new coordinates, cycles, S, δ_min,
    final n, final l): y_k = x_k + k + K, cycles = (Σ x_k mod 2^32) + K·2^32 (mod 2^48), S = K, δ_min =
    (XOR of x_k) ^ n0, n = n0 + K (mod 2^16), l = l0 + K·2^40 (mod 2^66)."""
    xor = 0
    for v in x:
        xor ^= v
    new = [(v + k + iterations) % (1 << WIDTH) for k, v in enumerate(x)]
    cycles = (sum(x) % (1 << 32) + (iterations << 32)) % (1 << 48)
    return (
        new,
        cycles,
        iterations % (1 << DP.s_fmt.width),
        (xor ^ n0) % (1 << DP.d2_fmt.width),
        (n0 + iterations) % (1 << 16),
        (l0 + (iterations << 40)) % (1 << p.L_BITS),
    )


class FakeCore(wiring.Component):
    """The :class:`~spherecode.hw.dataflow.core.UpdaterCore`'s ports (and, with ``loosening``, those of
    :data:`LOOSENING_SIGNATURE`) with a behaviour a test can predict: ``start`` (refused, ``error`` set,
    unless 2 ≤ N ≤ nmax, 2 ≤ D ≤ dmax and N ≠ :data:`REFUSED_N`); takes N·D coordinates x_k on ``i``
    (``ready`` pseudo-random), then offers y_k = x_k + k + 1 (mod 2^width) on ``o`` (``valid``
    pseudo-random), pulsing ``done`` half-way through; ``cycles`` = Σ x_k (unsigned, mod 2^32),
    ``move_norm`` = β/2 + 1/(2β), ``delta_min`` = (XOR of x_k) ^ (N << 8) ^ D.

    With ``loosen`` high at ``start``: after the coordinates, K = ``iterations`` iterations of
    :data:`ITERATION` cycles each (``progress`` counts them from 0), then the output of :func:`loosened`
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


class Board:
    """docs/protocol.md's board, for the FakeCore: the expected response to each request."""

    def __init__(self, loosening: bool = True):
        self.loosening = loosening  # the core runs LOOSEN (FakeCore(loosening))
        self.n = self.d = self.nd = self.filled = 0
        self.configured = self.result = False
        self.half_beta = self.step = 0
        self.token = 0  # the last CONFIGURE's; every response carries it
        self.foreign = False  # the LOAD quotes another token
        self.buf = [0] * (DP.nmax * DP.dmax)
        self.stats = b""
        self.range_err = False
        self.running = self.loosened = False  # a LOOSEN run is in progress; the result is a LOOSEN's
        self.progress, self.iterations = 0, 0
        self.outcome, self.pending = b"", None
        self.wild = False  # the last answer's progress is not predictable (a run goes on)

    def state(self):
        return (
            self.configured
            | ((self.filled == self.nd and self.nd != 0) << 1)
            | (self.result << 2)
            | (self.running << 3)
        )

    def quote(self):
        """The token, as RUN's, STATS's, READ's, LOOSEN's and RESULT's answers end with it."""
        return self.token.to_bytes(p.TOKEN_BYTES, "little")

    def finish(self):
        """The LOOSEN run in progress ends (the test waited long enough)."""
        if self.running:
            self.buf[: self.nd] = self.pending
            self.running, self.result, self.progress = False, True, self.iterations

    def load_bytes(self, data):
        """LOAD's coordinates as they arrive, before the request's verdict."""
        if not data:
            return
        quoted = self.token.to_bytes(p.TOKEN_BYTES, "little")
        self.foreign = data[: p.TOKEN_BYTES] != quoted[: len(data[: p.TOKEN_BYTES])]
        self.range_err = False
        if len(data) < p.LOAD_PREFIX:
            return
        index = int.from_bytes(data[p.TOKEN_BYTES : p.LOAD_PREFIX], "little")
        for k in range((len(data) - p.LOAD_PREFIX) // LAY.coord):
            addr = index + k
            word = int.from_bytes(data[p.LOAD_PREFIX + k * LAY.coord : p.LOAD_PREFIX + (k + 1) * LAY.coord], "little")
            if self.configured and not self.foreign and addr < self.nd and index <= self.filled and not self.running:
                self.buf[addr] = word & ((1 << WIDTH) - 1)
            else:
                self.range_err = True

    def execute(self, cmd, length, status, data):
        """(status, payload) for a request whose payload bytes ``data`` have arrived."""
        self.wild = False
        if status != Status.OK:
            if cmd == Command.LOAD:
                self.filled = 0
            return status, b""
        if self.running and cmd not in (Command.IDENTIFY, Command.STATUS):
            return Status.BUSY, b""
        if cmd == Command.STATUS:
            if length:
                return Status.BAD_LENGTH, b""
            self.wild = self.running
            return Status.OK, self.progress.to_bytes(4, "little") + bytes([self.running])
        if cmd == Command.LOOSEN and self.loosening:
            if length != LAY.loosen:
                return Status.BAD_LENGTH, b""
            if not self.configured or self.filled != self.nd:
                return Status.NOT_LOADED, b""
            k, n0 = int.from_bytes(data[:4], "little"), int.from_bytes(data[4:6], "little")
            l0 = int.from_bytes(data[6:], "little") % (1 << p.L_BITS)
            if k == 0 or n0 == 0:
                return Status.BAD_CONFIG, b""
            self.filled, self.result = 0, False
            if self.n == REFUSED_N:
                return Status.BAD_CONFIG, b""
            new, cycles, s, dmin, n, l = loosened(self.buf[: self.nd], self.n, self.d, k, n0, l0)
            self.pending, self.iterations, self.progress = new, k, 0
            self.outcome = (
                cycles.to_bytes(6, "little")
                + s.to_bytes(LAY.move_norm, "little")
                + dmin.to_bytes(LAY.delta_min, "little")
                + n.to_bytes(2, "little")
                + l.to_bytes(p.L_BYTES, "little")
            )
            self.running = self.loosened = True
            return Status.OK, self.quote()
        if cmd == Command.RESULT and self.loosening:
            if length:
                return Status.BAD_LENGTH, b""
            return (
                (Status.OK, self.outcome + self.quote()) if self.result and self.loosened else (Status.NO_RESULT, b"")
            )
        if cmd == Command.IDENTIFY:
            caps = p.Capability.LOOSEN if self.loosening else p.Capability(0)
            return (Status.BAD_LENGTH, b"") if length else (Status.OK, p.identity(CONFIG, CLOCK_HZ, BAUD, caps))
        if cmd == Command.CONFIGURE:
            if length != LAY.configure:
                return Status.BAD_LENGTH, b""
            n, d = int.from_bytes(data[:2], "little"), data[2]
            if not (2 <= n <= DP.nmax and 2 <= d <= DP.dmax):
                return Status.BAD_CONFIG, b""
            self.n, self.d, self.nd = n, d, n * d
            # bits above the formats' widths are ignored
            self.half_beta = int.from_bytes(data[3 : 3 + LAY.half_beta], "little") % (1 << DP.half_beta_fmt.width)
            self.step = int.from_bytes(data[3 + LAY.half_beta : -p.TOKEN_BYTES], "little") % (1 << DP.step_fmt.width)
            self.token = int.from_bytes(data[-p.TOKEN_BYTES :], "little")
            self.configured, self.filled, self.result = True, 0, False
            return Status.OK, b""
        if cmd == Command.LOAD:
            old, self.filled = self.filled, 0
            if length < p.LOAD_PREFIX or (length - p.LOAD_PREFIX) % LAY.coord:
                return Status.BAD_LENGTH, b""
            if not self.configured:
                return Status.NOT_CONFIGURED, b""
            if self.foreign:
                return Status.BAD_TOKEN, b""
            index = int.from_bytes(data[p.TOKEN_BYTES : p.LOAD_PREFIX], "little")
            if self.range_err or index > old:
                return Status.BAD_RANGE, b""
            self.filled = max(old, index + (length - p.LOAD_PREFIX) // LAY.coord)
            return Status.OK, b""
        if cmd == Command.RUN:
            if length:
                return Status.BAD_LENGTH, b""
            if not self.configured or self.filled != self.nd:
                return Status.NOT_LOADED, b""
            self.filled, self.result = 0, False
            if self.n == REFUSED_N:
                return Status.BAD_CONFIG, b""
            self.loosened, self.progress = False, 0
            x = self.buf[: self.nd]
            xor = 0
            for v in x:
                xor ^= v
            cycles = sum(x) % (1 << 32)
            move_norm = (self.half_beta + self.step) % (1 << DP.s_fmt.width)
            delta_min = (xor ^ (self.n << 8) ^ self.d) % (1 << DP.d2_fmt.width)
            self.buf[: self.nd] = [(v + k + 1) % (1 << WIDTH) for k, v in enumerate(x)]
            self.stats = (
                cycles.to_bytes(4, "little")
                + move_norm.to_bytes(LAY.move_norm, "little")
                + delta_min.to_bytes(LAY.delta_min, "little")
            )
            self.result = True
            return Status.OK, self.stats + self.quote()
        if cmd == Command.READ:
            if length != 4:
                return Status.BAD_LENGTH, b""
            if not self.result:
                return Status.NO_RESULT, b""
            first, many = int.from_bytes(data[:2], "little"), int.from_bytes(data[2:4], "little")
            if first + many > self.nd or many > 0xFFFF // LAY.coord:
                return Status.BAD_RANGE, b""
            signed = DP.fmt.from_bits
            return Status.OK, b"".join(
                (signed(v) % (1 << 8 * LAY.coord)).to_bytes(LAY.coord, "little") for v in self.buf[first : first + many]
            ) + self.quote()
        if cmd == Command.STATS:
            if length:
                return Status.BAD_LENGTH, b""
            return (
                (Status.OK, self.stats + self.quote()) if self.result and not self.loosened else (Status.NO_RESULT, b"")
            )
        return Status.UNKNOWN_COMMAND, b""


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
    :meth:`Board.finish` first)."""
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
