"""CommandExecutor: the commands of the host link (docs/protocol.md, "Commands") against the vector
buffer and an :class:`~.core.UpdaterCore` — the board's state (configuration, loaded prefix, result), the
checks behind every status, and each response's header and payload bytes.

It sits between a :class:`~.request_parser.RequestParser` (parsed requests and their payload bytes) and a
:class:`~.response_writer.ResponseWriter` (response headers and payload bytes);
:class:`~.host_link.HostLink` is the three together.
"""

from __future__ import annotations

import enum
import numbers
from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .protocol import Capability, Command, Status
from .request_parser import PAYLOAD, request_layout
from .response_writer import HEADER

__all__ = ["CommandExecutor", "args_bytes", "LOOSEN_PORTS", "runs_loosening"]

#: Largest value of IDENTIFY's 4-byte clock and baud fields.
_U32 = (1 << 32) - 1


#: The ports of a core that runs whole loosening runs (docs/protocol.md, LOOSEN), beside the
#: :class:`~.core.UpdaterCore`'s: inputs ``loosen`` (1, sampled with ``start``), ``iterations`` (32),
#: ``loosen_n`` (16), ``loosen_l`` (UQ18.48, 66 bits); outputs ``progress`` (32, iterations completed in
#: the current run), ``state_n`` (16), ``state_l`` (66), the final state; ``cycles`` (48) counts start to done.
LOOSEN_PORTS = ("loosen", "iterations", "loosen_n", "loosen_l", "progress", "state_n", "state_l")


def runs_loosening(signature) -> bool:
    """Whether a core's signature has every port of :data:`LOOSEN_PORTS`."""
    return all(name in signature.members for name in LOOSEN_PORTS)


class Payload(enum.IntEnum):
    """Where a response's payload bytes come from (the executor's ``kind`` register)."""

    NONE = 0
    IDENTITY = 1  #: IDENTIFY's identity (a constant)
    STATS = 2  #: RUN's and STATS's statistics and the token
    BUFFER = 3  #: READ's coordinates from the vector buffer, then the token
    STATUS = 4  #: STATUS's progress and running flag
    RESULT = 5  #: RESULT's outcome and the token
    TOKEN = 6  #: the token alone (LOOSEN; READ's end)


def args_bytes(layout: p.Layout) -> int:
    """Payload bytes a :class:`~.request_parser.RequestParser` must keep for the commands with
    fixed-length payloads: CONFIGURE's, READ's (4) and LOOSEN's."""
    return max(layout.configure, 4, layout.loosen)


def _times(a, b):
    """a · b as shifts and adds: a multiplier here would take a DSP block that the core needs."""
    if isinstance(b, int):
        return sum((a << k for k in range(b.bit_length()) if b >> k & 1), start=0)
    return sum((Mux(b[k], a << k, 0) for k in range(len(b))), start=0)


def _check_rate(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= _U32:
        raise ValueError(f"{name} must be an int in 1..{_U32} (IDENTIFY sends it in 4 bytes), not {value!r}")
    return int(value)


class CommandExecutor(wiring.Component):
    """The board's side of each command, one request at a time.

    Ports:

    - ``payload`` — stream of :data:`~.request_parser.PAYLOAD`: the current request's payload bytes, each
      before the request itself. Always ready while no request is pending. LOAD's coordinates (W bytes
      each, little-endian after the 4-byte token and the 2-byte first index k) are written to the buffer
      as they arrive: the one at index a only if the board is configured, the LOAD quotes the board's
      token, a < N·D, k ≤ P (the loaded prefix) and no run is in progress; otherwise nothing more of the
      LOAD is written (``BAD_TOKEN`` for another token, else ``BAD_RANGE``).
    - ``request`` — stream of :func:`~.request_parser.request_layout` (:func:`args_bytes`): the request,
      checked and executed from the cycle it is offered, and taken in the cycle its response's header is
      taken by the writer. Its fields are read throughout (``cmd`` and ``seq`` are echoed from it).
    - ``header`` — stream of :data:`~.response_writer.HEADER`: the response, offered once the request is
      executed (at once, except RUN: when the core is done and its output written back; LOOSEN: the cycle
      after the core's start, once ``error`` shows whether it took the run) and held until taken;
      ``state`` is the board's state after the request.
    - ``body`` — the response's ``header.length`` payload bytes, in order: IDENTIFY's identity, RUN's and
      STATS's statistics (cycles, S, δ_min), STATUS's progress and running flag, RESULT's cycles, S,
      δ_min, n, l, READ's coordinates from the buffer (sign-extended to W bytes); RUN's, STATS's,
      RESULT's and READ's end with the board's token (the last accepted CONFIGURE's; 0 after reset),
      which is LOOSEN's whole payload. A buffer byte is offered
      from the third cycle after its read address is set (the read, then a register: two idle cycles per
      coordinate, against W bytes of 10 bit times each on the UART); the others at once.
    - ``core`` — the flipped signature of the core. RUN and LOOSEN pulse ``start`` with the configuration
      (LOOSEN: with ``loosen`` high and its K, n, l), then feed ``buffer[0 … N·D)`` into ``core.i`` at up
      to one coordinate per clock while ``core.i.ready`` (from a register: the first is offered two cycles
      after ``start``, as :meth:`~.config.CoreConfig.cycles` assumes), and write every coordinate of ``core.o`` (always
      ready) back in order from index 0 (none leaves the core before the last has arrived, so one buffer
      serves both directions); the run ends when ``done`` has been seen and N·D are back (a result is
      held), or when the core raises ``error`` (none is). RUN answers at its end (``BAD_CONFIG`` for
      ``error``); LOOSEN answers at once and the run goes on behind the following requests, which get
      ``BUSY`` except IDENTIFY and STATUS.
    - ``busy`` — high from a request until its response's header is taken, and while a run is in progress.

    LOOSEN, RESULT and the capability bit in IDENTIFY exist only for a core with the ports of
    :data:`LOOSEN_PORTS` (:func:`runs_loosening`); with another core LOOSEN and RESULT are unknown
    commands. STATS reports ``cycles[:32]``. The checks and statuses are docs/protocol.md's. A LOAD that
    fails in any way (CRC, timeout, length, range) resets the loaded prefix to 0, since its bytes may
    already be in the buffer.

    Parameters: ``core`` (the :class:`~.core.UpdaterCore` or a core with the loosening ports, for its
    configuration and signature), ``clock_hz`` and ``baud`` (reported by IDENTIFY).
    """

    def __init__(self, core, clock_hz: int, baud: int):
        self.config = core.config
        self.dp = core.dp
        self.layout = p.Layout.of(self.dp)
        self.args = args_bytes(self.layout)
        self.clock_hz, self.baud = _check_rate("clock_hz", clock_hz), _check_rate("baud", baud)
        self.loosening = runs_loosening(core.signature)
        self.capabilities = Capability.LOOSEN if self.loosening else Capability(0)
        super().__init__(
            {
                "payload": In(stream.Signature(PAYLOAD)),
                "request": In(stream.Signature(request_layout(self.args))),
                "header": Out(stream.Signature(HEADER)),
                "body": Out(stream.Signature(8)),
                "core": Out(core.signature.flip()),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        s = self._registers(m)
        self._payloads(m, s)
        self._run(m, s)
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.payload.ready.eq(1)
                self._load_bytes(m, s)
                self._execute(m, s)
            with m.State("RUN"):
                with m.If(self.core.error):
                    self._respond(m, s, Status.BAD_CONFIG)
                with m.Elif(s.finished):
                    self._respond(m, s, Status.OK, self.layout.stats, Payload.STATS)
            with m.State("STARTED"):
                # The cycle after start: ``error`` shows whether the core took the run.
                error = self.core.error
                self._respond(
                    m,
                    s,
                    Mux(error, Status.BAD_CONFIG, Status.OK),
                    Mux(error, 0, p.TOKEN_BYTES),
                    Mux(error, 0, int(Payload.TOKEN)),
                )
            with m.State("RESPOND"):
                self._send(m, s)
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | self.request.valid | s.running)
        return m

    def _registers(self, m: Module) -> SimpleNamespace:
        """The vector buffer, the board's state, LOAD's assembly, the run's feed and the response's
        registers."""
        dp, lay = self.dp, self.layout
        fmt = dp.fmt
        depth = dp.nmax * dp.dmax

        m.submodules.buf = buf = memory.Memory(shape=fmt.width, depth=depth, init=[])
        wr = buf.write_port()
        rd = buf.read_port()

        # The board's state.
        n, d = Signal(16), Signal(8)
        half_beta, step = Signal(dp.half_beta_fmt.width), Signal(dp.step_fmt.width)
        nd = Signal(range(depth + 1))
        configured, result = Signal(), Signal()
        loosened = Signal()  # the held result is a LOOSEN's (RESULT), not a RUN's (STATS)
        running = Signal()  # a run: the core is fed and drained
        filled = Signal(range(depth + 1))  # the loaded prefix: buffer[0 … filled) came from OK LOADs
        token = Signal(8 * p.TOKEN_BYTES)  # the last CONFIGURE's: LOADs quote it, responses carry it

        # LOAD: index, word assembly, range check as the bytes arrive.
        index, addr = Signal(16), Signal(16)
        word = Signal(8 * lay.coord)
        wpos = Signal(range(lay.coord))  # byte of the coordinate (LOAD and READ)
        range_err = Signal()
        foreign = Signal()  # the LOAD quotes another token than the board's

        # The response.
        status, resp_len = Signal(8), Signal(16)
        kind = Signal(3)  # the payload's source, a Payload
        count = Signal(range(max(lay.identity, lay.stats, lay.status, lay.result)))  # byte of a fixed payload
        # The run's feed is two stages: the buffer's read port (``pend``: its data is a coordinate to feed)
        # and a register (``feed_data``, ``feed_valid``) that drives ``core.i``. The buffer's DP16KD
        # clock-to-output (5.8 ns) across the die into the core's input register was the critical path of
        # both ULX3S-85F builds (16.6–17.0 ns on the loosening board, measured: docs/boards.md). The first
        # read is issued in the cycle of ``start``, so the first coordinate still reaches ``core.i`` two
        # cycles after it, as the cycle formula has it.
        feed_addr, fed = Signal(range(depth + 1)), Signal(range(depth + 1))
        pend, feed_valid = Signal(), Signal()
        feed_data = Signal(fmt.width)
        out_addr = Signal(range(depth + 1))
        done_seen = Signal()
        # READ's coordinate goes through a register (``held``) before its byte select: the buffer's DP16KD
        # clock-to-output (5.8 ns) through the byte select into the writer was the critical path of the
        # ULX3S-25F build (12.8 ns, measured: docs/boards.md). ``stale``: cycles until ``held`` is the word at
        # ``feed_addr`` (2 after the address changes: the read port's cycle, then the register's).
        held = Signal(fmt.width)
        m.d.sync += held.eq(rd.data)
        stale = Signal(2)
        read_end = Signal(17)  # READ: the index after its last coordinate
        names = (
            "wr rd n d half_beta step nd configured result loosened running filled token index addr word wpos "
            "range_err foreign status resp_len kind count feed_addr fed pend feed_valid feed_data out_addr "
            "done_seen held stale read_end"
        )
        scope = locals()
        return SimpleNamespace(**{name: scope[name] for name in names.split()})

    def _arg(self, offset: int, nbytes: int, length: int):
        """A field of the request's fixed-length payload of ``length`` bytes: ``nbytes`` from ``offset``."""
        lo = 8 * (self.args - length + offset)
        return self.request.payload.args[lo : lo + 8 * nbytes]

    def _payloads(self, m: Module, s: SimpleNamespace) -> None:
        """The core's configuration inputs, the response header's fields and the fixed payloads' sources
        (identity, statistics, status report, loosening outcome) as ``s.ident`` … ``s.outcome``."""
        core, req, lay = self.core, self.request.payload, self.layout
        m.d.comb += [
            core.n.eq(s.n),
            core.d.eq(s.d),
            core.half_beta.eq(s.half_beta),
            core.step.eq(s.step),
            core.o.ready.eq(1),
        ]
        state_byte = Cat(s.configured, (s.filled == s.nd) & (s.nd != 0), s.result, s.running)
        pad = lambda value, nbytes: Cat(value, Const(0, 8 * nbytes - len(value)))  # noqa: E731
        s.stats = Cat(
            core.cycles[:32],
            pad(core.move_norm.as_unsigned(), lay.move_norm),
            pad(core.delta_min.as_unsigned(), lay.delta_min),
            s.token,
        )
        s.ident = Const(
            int.from_bytes(p.identity(self.config, self.clock_hz, self.baud, self.capabilities), "little"),
            8 * lay.identity,
        )
        if self.loosening:
            progress = core.progress
            s.outcome = Cat(
                pad(core.cycles[:48], 6),
                pad(core.move_norm.as_unsigned(), lay.move_norm),
                pad(core.delta_min.as_unsigned(), lay.delta_min),
                pad(core.state_n[:16], 2),
                pad(core.state_l[: p.L_BITS], p.L_BYTES),
                s.token,
            )
        else:
            progress, s.outcome = Const(0, 32), Const(0, 8 * lay.result)
        s.report = Cat(progress[:32], s.running, Const(0, 7))
        m.d.comb += [
            self.header.payload.cmd.eq(req.cmd),
            self.header.payload.seq.eq(req.seq),
            self.header.payload.status.eq(s.status),
            self.header.payload.state.eq(state_byte),
            self.header.payload.length.eq(s.resp_len),
        ]

    def _respond(self, m: Module, s: SimpleNamespace, code, nbytes=0, source=Payload.NONE) -> None:
        """Answer with status ``code`` and ``nbytes`` payload bytes from ``source`` (a :class:`Payload`)."""
        m.d.sync += [s.status.eq(code), s.resp_len.eq(nbytes), s.kind.eq(source), s.count.eq(0)]
        m.next = "RESPOND"

    def _start_run(self, m: Module, s: SimpleNamespace) -> None:
        """Pulse the core's ``start`` and begin feeding it from buffer[0]."""
        m.d.comb += [self.core.start.eq(1), s.rd.en.eq(1), s.rd.addr.eq(0)]  # the feed's first read
        first = s.nd != 0
        m.d.sync += [
            s.feed_addr.eq(first),
            s.fed.eq(first),
            s.pend.eq(first),
            s.feed_valid.eq(0),
            s.out_addr.eq(0),
            s.done_seen.eq(0),
            s.filled.eq(0),
            s.result.eq(0),
            s.running.eq(1),
        ]

    def _run(self, m: Module, s: SimpleNamespace) -> None:
        """The run: stream buffer[0 … N·D) into the core at one coordinate per clock while it takes them;
        its new coordinates come back in the same order, after the last has gone in (``s.finished``)."""
        core, rd, wr = self.core, s.rd, s.wr
        s.finished = finished = s.running & s.done_seen & (s.out_addr == s.nd)
        with m.If(s.running):
            take = ~s.feed_valid | core.i.ready  # the register takes the read port's data (or empties)
            read = ~s.pend | take  # the read port reads the next coordinate (else holds its data)
            m.d.comb += [
                rd.en.eq(read),
                rd.addr.eq(s.feed_addr),
                core.i.valid.eq(s.feed_valid),
                core.i.payload.eq(s.feed_data),
            ]
            with m.If(take):
                m.d.sync += [s.feed_data.eq(rd.data), s.feed_valid.eq(s.pend)]
            with m.If(read):
                with m.If(s.fed < s.nd):
                    m.d.sync += [s.feed_addr.eq(s.feed_addr + 1), s.fed.eq(s.fed + 1), s.pend.eq(1)]
                with m.Else():
                    m.d.sync += s.pend.eq(0)
            with m.If(core.o.valid):
                m.d.comb += [wr.en.eq(1), wr.addr.eq(s.out_addr), wr.data.eq(core.o.payload)]
                m.d.sync += s.out_addr.eq(s.out_addr + 1)
            with m.If(core.done):
                m.d.sync += s.done_seen.eq(1)
            with m.If(core.error):
                m.d.sync += s.running.eq(0)
            with m.Elif(finished):
                m.d.sync += [s.running.eq(0), s.result.eq(1)]

    def _load_bytes(self, m: Module, s: SimpleNamespace) -> None:
        """LOAD's payload as it arrives: the token compared, the index, each coordinate written to the buffer
        when its last byte arrives (or the LOAD marked out of range)."""
        byte = self.payload.payload
        with m.If(self.payload.valid & (byte.cmd == Command.LOAD)):
            quoted = byte.data != s.token.word_select(byte.offset[:2], 8)
            with m.If(byte.offset == 0):
                m.d.sync += [s.foreign.eq(quoted), s.wpos.eq(0), s.range_err.eq(0)]
            with m.Elif(byte.offset < p.TOKEN_BYTES):
                m.d.sync += s.foreign.eq(s.foreign | quoted)
            with m.Elif(byte.offset == p.TOKEN_BYTES):
                m.d.sync += s.index[:8].eq(byte.data)
            with m.Elif(byte.offset == p.TOKEN_BYTES + 1):
                m.d.sync += [s.index[8:].eq(byte.data), s.addr.eq(Cat(s.index[:8], byte.data))]
            with m.Else():
                m.d.sync += [s.word.eq(Cat(s.word[8:], byte.data)), s.wpos.eq(s.wpos + 1)]
                with m.If(s.wpos == self.layout.coord - 1):
                    m.d.sync += [s.wpos.eq(0), s.addr.eq(s.addr + 1)]
                    writable = s.configured & ~s.foreign & (s.addr < s.nd) & (s.index <= s.filled) & ~s.running
                    with m.If(writable):
                        m.d.comb += [
                            s.wr.en.eq(1),
                            s.wr.addr.eq(s.addr),
                            s.wr.data.eq(Cat(s.word[8:], byte.data)[: self.dp.fmt.width]),
                        ]
                    with m.Else():
                        m.d.sync += s.range_err.eq(1)

    def _execute(self, m: Module, s: SimpleNamespace) -> None:
        """A request, checked and executed: a damaged one refused, any but IDENTIFY and STATUS ``BUSY``
        during a run, else its command's checks and action."""
        req = self.request.payload
        with m.If(self.request.valid):
            with m.If(req.status != Status.OK):  # BAD_CRC or TIMEOUT: not executed
                with m.If(req.cmd == Command.LOAD):
                    m.d.sync += s.filled.eq(0)
                self._respond(m, s, req.status)
            with m.Elif(s.running & (req.cmd != Command.IDENTIFY) & (req.cmd != Command.STATUS)):
                self._respond(m, s, Status.BUSY)
            with m.Else():
                with m.Switch(req.cmd):
                    with m.Case(Command.IDENTIFY):
                        self._no_payload_then(m, s, Status.OK, self.layout.identity, Payload.IDENTITY)
                    with m.Case(Command.CONFIGURE):
                        self._configure(m, s)
                    with m.Case(Command.LOAD):
                        self._load(m, s)
                    with m.Case(Command.RUN):
                        self._run_command(m, s)
                    with m.Case(Command.READ):
                        self._read(m, s)
                    with m.Case(Command.STATS):
                        with m.If(req.length != 0):
                            self._respond(m, s, Status.BAD_LENGTH)
                        with m.Elif(~s.result | s.loosened):
                            self._respond(m, s, Status.NO_RESULT)
                        with m.Else():
                            self._respond(m, s, Status.OK, self.layout.stats, Payload.STATS)
                    with m.Case(Command.STATUS):
                        self._no_payload_then(m, s, Status.OK, self.layout.status, Payload.STATUS)
                    if self.loosening:
                        with m.Case(Command.LOOSEN):
                            self._loosen(m, s)
                        with m.Case(Command.RESULT):
                            with m.If(req.length != 0):
                                self._respond(m, s, Status.BAD_LENGTH)
                            with m.Elif(~s.result | ~s.loosened):
                                self._respond(m, s, Status.NO_RESULT)
                            with m.Else():
                                self._respond(m, s, Status.OK, self.layout.result, Payload.RESULT)
                    with m.Default():
                        self._respond(m, s, Status.UNKNOWN_COMMAND)

    def _no_payload_then(self, m: Module, s: SimpleNamespace, code, nbytes, source) -> None:
        """``BAD_LENGTH`` for a request with a payload, else the answer."""
        with m.If(self.request.payload.length != 0):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Else():
            self._respond(m, s, code, nbytes, source)

    def _configure(self, m: Module, s: SimpleNamespace) -> None:
        """CONFIGURE: N, D, β/2, 1/(2β) and the token; the loaded prefix and the result forgotten."""
        dp, lay, arg = self.dp, self.layout, self._arg
        new_n = arg(0, 2, lay.configure)
        new_d = arg(2, 1, lay.configure)
        with m.If(self.request.payload.length != lay.configure):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Elif((new_n < 2) | (new_n > dp.nmax) | (new_d < 2) | (new_d > dp.dmax)):
            self._respond(m, s, Status.BAD_CONFIG)
        with m.Else():
            m.d.sync += [
                s.n.eq(new_n),
                s.d.eq(new_d),
                s.half_beta.eq(arg(3, lay.half_beta, lay.configure)),
                s.step.eq(arg(3 + lay.half_beta, lay.step, lay.configure)),
                s.nd.eq(_times(new_n, new_d)),
                s.configured.eq(1),
                s.filled.eq(0),
                s.result.eq(0),
                s.token.eq(arg(lay.configure - p.TOKEN_BYTES, p.TOKEN_BYTES, lay.configure)),
            ]
            self._respond(m, s, Status.OK)

    def _load(self, m: Module, s: SimpleNamespace) -> None:
        """LOAD's verdict, once its bytes are in (:meth:`_load_bytes`): the loaded prefix extended, or reset."""
        m.d.sync += s.filled.eq(0)
        with m.If((self.request.payload.length < p.LOAD_PREFIX) | (s.wpos != 0)):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Elif(~s.configured):
            self._respond(m, s, Status.NOT_CONFIGURED)
        with m.Elif(s.foreign):
            self._respond(m, s, Status.BAD_TOKEN)
        with m.Elif(s.range_err | (s.index > s.filled)):
            self._respond(m, s, Status.BAD_RANGE)
        with m.Else():
            m.d.sync += s.filled.eq(Mux(s.addr > s.filled, s.addr, s.filled))
            self._respond(m, s, Status.OK)

    def _run_command(self, m: Module, s: SimpleNamespace) -> None:
        """RUN: start the core on the loaded coordinates; the answer comes at the run's end (state RUN)."""
        with m.If(self.request.payload.length != 0):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Elif(~s.configured | (s.filled != s.nd)):
            self._respond(m, s, Status.NOT_LOADED)
        with m.Else():
            self._start_run(m, s)
            m.d.sync += s.loosened.eq(0)
            m.next = "RUN"

    def _read(self, m: Module, s: SimpleNamespace) -> None:
        """READ: m coordinates of the held result from index k, then the token."""
        lay = self.layout
        first, many = self._arg(0, 2, 4), self._arg(2, 2, 4)
        with m.If(self.request.payload.length != 4):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Elif(~s.result):
            self._respond(m, s, Status.NO_RESULT)
        with m.Elif((first + many > s.nd) | (many > (0xFFFF // lay.coord))):
            self._respond(m, s, Status.BAD_RANGE)
        with m.Else():
            m.d.sync += [
                s.feed_addr.eq(first),
                s.read_end.eq(first + many),
                s.wpos.eq(0),
                s.stale.eq(2),
            ]
            source = Mux(many == 0, int(Payload.TOKEN), int(Payload.BUFFER))
            self._respond(m, s, Status.OK, _times(many, lay.coord) + p.TOKEN_BYTES, source)

    def _loosen(self, m: Module, s: SimpleNamespace) -> None:
        """LOOSEN: start a whole loosening run on the loaded coordinates; answered the cycle after start."""
        lay, core = self.layout, self.core
        iterations = self._arg(0, 4, lay.loosen)
        n0, l0 = self._arg(4, 2, lay.loosen), self._arg(6, p.L_BYTES, lay.loosen)
        with m.If(self.request.payload.length != lay.loosen):
            self._respond(m, s, Status.BAD_LENGTH)
        with m.Elif(~s.configured | (s.filled != s.nd)):
            self._respond(m, s, Status.NOT_LOADED)
        with m.Elif((iterations == 0) | (n0 == 0)):
            self._respond(m, s, Status.BAD_CONFIG)
        with m.Else():
            self._start_run(m, s)
            m.d.comb += [
                core.loosen.eq(1),
                core.iterations.eq(iterations),
                core.loosen_n.eq(n0),
                core.loosen_l.eq(l0[: p.L_BITS]),
            ]
            m.d.sync += s.loosened.eq(1)
            m.next = "STARTED"

    def _send(self, m: Module, s: SimpleNamespace) -> None:
        """State RESPOND: the header offered, the payload's bytes from its source; READ's coordinates from
        the buffer (each sign-extended to W bytes), then its token."""
        lay, body = self.layout, self.body
        m.d.comb += self.header.valid.eq(1)
        with m.If(s.kind == Payload.BUFFER):
            m.d.comb += [s.rd.en.eq(1), s.rd.addr.eq(s.feed_addr)]
            with m.If(s.stale != 0):
                m.d.sync += s.stale.eq(s.stale - 1)
        with m.Switch(s.kind):
            with m.Case(Payload.IDENTITY):
                m.d.comb += [body.payload.eq(s.ident.word_select(s.count, 8)), body.valid.eq(1)]
            with m.Case(Payload.STATS):
                m.d.comb += [body.payload.eq(s.stats.word_select(s.count, 8)), body.valid.eq(1)]
            with m.Case(Payload.BUFFER):
                data = Cat(s.held, s.held[-1].replicate(8 * lay.coord - self.dp.fmt.width))  # sign-extended
                m.d.comb += [body.payload.eq(data.word_select(s.wpos, 8)), body.valid.eq(s.stale == 0)]
            with m.Case(Payload.STATUS):
                m.d.comb += [body.payload.eq(s.report.word_select(s.count, 8)), body.valid.eq(1)]
            with m.Case(Payload.RESULT):
                m.d.comb += [body.payload.eq(s.outcome.word_select(s.count, 8)), body.valid.eq(1)]
            with m.Case(Payload.TOKEN):
                m.d.comb += [body.payload.eq(s.token.word_select(s.count[:2], 8)), body.valid.eq(1)]
        with m.If(body.valid & body.ready):
            m.d.sync += s.count.eq(s.count + 1)
            with m.If(s.kind == Payload.BUFFER):
                m.d.sync += s.wpos.eq(s.wpos + 1)
                with m.If(s.wpos == lay.coord - 1):
                    m.d.sync += [s.wpos.eq(0), s.feed_addr.eq(s.feed_addr + 1), s.stale.eq(2)]
                    with m.If(s.feed_addr + 1 == s.read_end):  # the coordinates are out: the token
                        m.d.sync += [s.kind.eq(Payload.TOKEN), s.count.eq(0)]
        with m.If(self.header.ready):
            m.d.comb += self.request.ready.eq(1)
            m.next = "IDLE"
