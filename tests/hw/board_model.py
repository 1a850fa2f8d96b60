"""Shared by the CommandExecutor and HostLink tests: a small core configuration, :class:`FakeCore` (the
UpdaterCore's ports with a behaviour a test can predict), :class:`Board` (docs/protocol.md's board, as a
Python model: the expected response to each request) and :func:`script` (requests for every command and
every status)."""

import numpy as np
from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring

from spherecode.hw import protocol as p
from spherecode.hw.config import CoreConfig
from spherecode.hw.core import UpdaterCore
from spherecode.hw.pipeline import parameters_only
from spherecode.hw.protocol import Command, Status

CONFIG = CoreConfig("Q2.20", nmax=8, dmax=3)
CORE = parameters_only(UpdaterCore(CONFIG))   # for its signature only: never elaborated
DP = CORE.dp
LAY = p.Layout.of(DP)
WIDTH = DP.fmt.width
CLOCK_HZ, BAUD = 50_000_000, 3_000_000
REFUSED_N = 7                       # FakeCore refuses this N, as a core refuses an N outside its range


class FakeCore(wiring.Component):
    """The :class:`~spherecode.hw.core.UpdaterCore`'s ports with a behaviour a test can predict: ``start``
    (refused, ``error`` set, unless 2 ≤ N ≤ nmax, 2 ≤ D ≤ dmax and N ≠ :data:`REFUSED_N`); takes N·D
    coordinates x_k on ``i`` (``ready`` pseudo-random), then offers y_k = x_k + k + 1 (mod 2^width) on
    ``o`` (``valid`` pseudo-random), pulsing ``done`` half-way through; ``cycles`` = Σ x_k (unsigned, mod
    2^32), ``move_norm`` = β/2 + 1/(2β), ``delta_min`` = (XOR of x_k) ^ (N << 8) ^ D."""

    def __init__(self):
        super().__init__(CORE.signature)

    def elaborate(self, platform):
        m = Module()
        depth = DP.nmax * DP.dmax
        regs = Array(Signal(WIDTH, name=f"x{k}") for k in range(depth))
        lfsr = Signal(16, init=0xACE1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]))
        total, count = Signal(range(depth + 1)), Signal(range(depth + 1))
        ok = ((self.n >= 2) & (self.n <= DP.nmax) & (self.d >= 2) & (self.d <= DP.dmax) & (self.n != REFUSED_N))
        x = self.i.payload.as_unsigned()
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += self.error.eq(~ok)
                    with m.If(ok):
                        m.d.sync += [total.eq(self.n * self.d), count.eq(0), self.cycles.eq(0),
                                     self.move_norm.eq(self.half_beta + self.step),
                                     self.delta_min.eq((self.n << 8) ^ self.d)]
                        m.next = "IN"
            with m.State("IN"):
                m.d.comb += self.i.ready.eq(lfsr[0])
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += [regs[count].eq(x), count.eq(count + 1), self.cycles.eq(self.cycles + x),
                                 self.delta_min.eq(self.delta_min ^ x)]
                    with m.If(count == total - 1):
                        m.d.sync += count.eq(0)
                        m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += [self.o.valid.eq(lfsr[4]), self.o.payload.eq(regs[count] + count + 1)]
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += count.eq(count + 1)
                    m.d.comb += self.done.eq(count == total >> 1)
                    with m.If(count == total - 1):
                        m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m


class Board:
    """docs/protocol.md's board, for the FakeCore: the expected response to each request."""

    def __init__(self):
        self.n = self.d = self.nd = self.filled = 0
        self.configured = self.result = False
        self.half_beta = self.step = 0
        self.buf = [0] * (DP.nmax * DP.dmax)
        self.stats = b""
        self.range_err = False

    def state(self):
        return self.configured | ((self.filled == self.nd and self.nd != 0) << 1) | (self.result << 2)

    def load_bytes(self, data):
        """LOAD's coordinates as they arrive, before the request's verdict."""
        if len(data) < 2:
            return
        index = int.from_bytes(data[:2], "little")
        self.range_err = False
        for k in range((len(data) - 2) // LAY.coord):
            addr = index + k
            word = int.from_bytes(data[2 + k * LAY.coord:2 + (k + 1) * LAY.coord], "little")
            if self.configured and addr < self.nd and index <= self.filled:
                self.buf[addr] = word & ((1 << WIDTH) - 1)
            else:
                self.range_err = True

    def execute(self, cmd, length, status, data):
        """(status, payload) for a request whose payload bytes ``data`` have arrived."""
        if status != Status.OK:
            if cmd == Command.LOAD:
                self.filled = 0
            return status, b""
        if cmd == Command.IDENTIFY:
            return (Status.BAD_LENGTH, b"") if length else (Status.OK, p.identity(CONFIG, CLOCK_HZ, BAUD))
        if cmd == Command.CONFIGURE:
            if length != LAY.configure:
                return Status.BAD_LENGTH, b""
            n, d = int.from_bytes(data[:2], "little"), data[2]
            if not (2 <= n <= DP.nmax and 2 <= d <= DP.dmax):
                return Status.BAD_CONFIG, b""
            self.n, self.d, self.nd = n, d, n * d
            # bits above the formats' widths are ignored
            self.half_beta = int.from_bytes(data[3:3 + LAY.half_beta], "little") % (1 << DP.half_beta_fmt.width)
            self.step = int.from_bytes(data[3 + LAY.half_beta:], "little") % (1 << DP.step_fmt.width)
            self.configured, self.filled, self.result = True, 0, False
            return Status.OK, b""
        if cmd == Command.LOAD:
            old, self.filled = self.filled, 0
            if length < 2 or (length - 2) % LAY.coord:
                return Status.BAD_LENGTH, b""
            if not self.configured:
                return Status.NOT_CONFIGURED, b""
            index = int.from_bytes(data[:2], "little")
            if self.range_err or index > old:
                return Status.BAD_RANGE, b""
            self.filled = max(old, index + (length - 2) // LAY.coord)
            return Status.OK, b""
        if cmd == Command.RUN:
            if length:
                return Status.BAD_LENGTH, b""
            if not self.configured or self.filled != self.nd:
                return Status.NOT_LOADED, b""
            self.filled, self.result = 0, False
            if self.n == REFUSED_N:
                return Status.BAD_CONFIG, b""
            x = self.buf[:self.nd]
            xor = 0
            for v in x:
                xor ^= v
            cycles = sum(x) % (1 << 32)
            move_norm = (self.half_beta + self.step) % (1 << DP.s_fmt.width)
            delta_min = (xor ^ (self.n << 8) ^ self.d) % (1 << DP.d2_fmt.width)
            self.buf[:self.nd] = [(v + k + 1) % (1 << WIDTH) for k, v in enumerate(x)]
            self.stats = (cycles.to_bytes(4, "little") + move_norm.to_bytes(LAY.move_norm, "little")
                          + delta_min.to_bytes(LAY.delta_min, "little"))
            self.result = True
            return Status.OK, self.stats
        if cmd == Command.READ:
            if length != 4:
                return Status.BAD_LENGTH, b""
            if not self.result:
                return Status.NO_RESULT, b""
            first, many = int.from_bytes(data[:2], "little"), int.from_bytes(data[2:4], "little")
            if first + many > self.nd or many > 0xFFFF // LAY.coord:
                return Status.BAD_RANGE, b""
            signed = lambda v: v - (1 << WIDTH) if v >> (WIDTH - 1) else v
            return Status.OK, b"".join((signed(v) % (1 << 8 * LAY.coord)).to_bytes(LAY.coord, "little")
                                       for v in self.buf[first:first + many])
        if cmd == Command.STATS:
            if length:
                return Status.BAD_LENGTH, b""
            return (Status.OK, self.stats) if self.result else (Status.NO_RESULT, b"")
        return Status.UNKNOWN_COMMAND, b""


def script(rng):
    """(cmd, payload bytes as received, length field, parser status) for every command and status."""
    words = lambda values: b"".join((int(v) % (1 << 8 * LAY.coord)).to_bytes(LAY.coord, "little") for v in values)
    coords = lambda m: rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), m)
    load = lambda k, m: (Command.LOAD, k.to_bytes(2, "little") + words(coords(m)))
    cfg = lambda n, d, length=LAY.configure: (Command.CONFIGURE, (n.to_bytes(2, "little") + bytes([d])
                                              + rng.integers(0, 256, LAY.configure - 3).astype(np.uint8).tobytes())[:length])
    read = lambda k, m: (Command.READ, k.to_bytes(2, "little") + m.to_bytes(2, "little"))
    steps = [
        (Command.IDENTIFY, b""), (Command.IDENTIFY, b"\x00"),
        load(0, 2),                                              # NOT_CONFIGURED
        (Command.RUN, b""), read(0, 1), (Command.STATS, b""),     # NOT_LOADED, NO_RESULT, NO_RESULT
        cfg(5, 3, LAY.configure - 1), cfg(1, 3), cfg(9, 3), cfg(5, 4), cfg(5, 1),
        cfg(5, 3),                                               # N·D = 15
        load(3, 2),                                              # BAD_RANGE: skips ahead
        load(0, 7), load(7, 8), (Command.RUN, b"\x00"),           # loaded; RUN with a payload: BAD_LENGTH
        (Command.LOAD, b"\x00\x00\x01\x02\x03\x04"),             # a partial coordinate: BAD_LENGTH, prefix 0
        (Command.RUN, b""),                                      # NOT_LOADED
        load(0, 7), ("bad_crc",) + load(7, 8),                   # damaged: prefix 0
        load(7, 8),                                              # BAD_RANGE now
        load(0, 10), load(10, 8),                                # past N·D: BAD_RANGE (some written)
        load(0, 8), load(4, 11),                                 # overlapping, idempotent
        (Command.RUN, b""), (Command.RUN, b""), (Command.STATS, b""),
        read(0, 15), read(3, 5), read(14, 2), (Command.READ, b"\x00\x00\x01"), (0x7F, b""),
        ("timeout",) + read(0, 2), ("timeout",) + load(0, 3),    # not executed; the LOAD resets the prefix
        (Command.RUN, b""), read(10, 5),                         # NOT_LOADED; the result is still there
        cfg(REFUSED_N, 2), load(0, 14), (Command.RUN, b""), (Command.STATS, b""),   # the core refuses
        cfg(8, 3), load(0, 5), load(5, 19), (Command.RUN, b""), read(0, 24), (Command.STATS, b""),
    ]
    out = []
    for step in steps:
        status = Status.OK
        if step[0] == "bad_crc":
            status, step = Status.BAD_CRC, step[1:]
        elif step[0] == "timeout":
            status, step = Status.TIMEOUT, step[1:]
        cmd, data = step
        length = len(data)
        if status == Status.TIMEOUT:
            data = data[:int(rng.integers(0, len(data)))]        # stopped arriving
        out.append((int(cmd), data, length, status))
    return out


