"""CommandExecutor: the commands of the host link (docs/protocol.md, "Commands") against the vector
buffer and an :class:`~.core.UpdaterCore` — the board's state (configuration, loaded prefix, result), the
checks behind every status, and each response's header and payload bytes.

It sits between a :class:`~.request_parser.RequestParser` (parsed requests and their payload bytes) and a
:class:`~.response_writer.ResponseWriter` (response headers and payload bytes);
:class:`~.host_link.HostLink` is the three together.
"""

from __future__ import annotations

import numbers

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
        dp, lay = self.dp, self.layout
        fmt = dp.fmt
        depth = dp.nmax * dp.dmax
        core, req, byte = self.core, self.request.payload, self.payload.payload

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

        def arg(offset, nbytes, length):  # a field of a fixed-length payload of ``length`` bytes
            lo = 8 * (self.args - length + offset)
            return req.args[lo : lo + 8 * nbytes]

        # LOAD: index, word assembly, range check as the bytes arrive.
        index, addr = Signal(16), Signal(16)
        word = Signal(8 * lay.coord)
        wpos = Signal(range(lay.coord))  # byte of the coordinate (LOAD and READ)
        range_err = Signal()
        foreign = Signal()  # the LOAD quotes another token than the board's

        # The response.
        status, resp_len = Signal(8), Signal(16)
        kind = Signal(3)  # payload: 0 none, 1 identity, 2 stats, 3 buffer, 4 status, 5 result, 6 token
        count = Signal(range(max(lay.identity, lay.stats, lay.status, lay.result)))  # byte of 1, 2, 4, 5
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

        m.d.comb += [
            core.n.eq(n),
            core.d.eq(d),
            core.half_beta.eq(half_beta),
            core.step.eq(step),
            core.o.ready.eq(1),
        ]
        state_byte = Cat(configured, (filled == nd) & (nd != 0), result, running)
        pad = lambda value, nbytes: Cat(value, Const(0, 8 * nbytes - len(value)))  # noqa: E731
        stats = Cat(
            core.cycles[:32],
            pad(core.move_norm.as_unsigned(), lay.move_norm),
            pad(core.delta_min.as_unsigned(), lay.delta_min),
            token,
        )
        ident = Const(
            int.from_bytes(p.identity(self.config, self.clock_hz, self.baud, self.capabilities), "little"),
            8 * lay.identity,
        )
        if self.loosening:
            progress = core.progress
            outcome = Cat(
                pad(core.cycles[:48], 6),
                pad(core.move_norm.as_unsigned(), lay.move_norm),
                pad(core.delta_min.as_unsigned(), lay.delta_min),
                pad(core.state_n[:16], 2),
                pad(core.state_l[: p.L_BITS], p.L_BYTES),
                token,
            )
        else:
            progress, outcome = Const(0, 32), Const(0, 8 * lay.result)
        report = Cat(progress[:32], running, Const(0, 7))
        m.d.comb += [
            self.header.payload.cmd.eq(req.cmd),
            self.header.payload.seq.eq(req.seq),
            self.header.payload.status.eq(status),
            self.header.payload.state.eq(state_byte),
            self.header.payload.length.eq(resp_len),
        ]

        def respond(code, nbytes=0, source=0):
            m.d.sync += [status.eq(code), resp_len.eq(nbytes), kind.eq(source), count.eq(0)]
            m.next = "RESPOND"

        def start_run():
            m.d.comb += [core.start.eq(1), rd.en.eq(1), rd.addr.eq(0)]  # the feed's first read
            first = nd != 0
            m.d.sync += [
                feed_addr.eq(first),
                fed.eq(first),
                pend.eq(first),
                feed_valid.eq(0),
                out_addr.eq(0),
                done_seen.eq(0),
                filled.eq(0),
                result.eq(0),
                running.eq(1),
            ]

        # The run: stream buffer[0 … N·D) into the core at one coordinate per clock while it takes them;
        # its new coordinates come back in the same order, after the last has gone in.
        finished = running & done_seen & (out_addr == nd)
        with m.If(running):
            take = ~feed_valid | core.i.ready  # the register takes the read port's data (or empties)
            read = ~pend | take  # the read port reads the next coordinate (else holds its data)
            m.d.comb += [
                rd.en.eq(read),
                rd.addr.eq(feed_addr),
                core.i.valid.eq(feed_valid),
                core.i.payload.eq(feed_data),
            ]
            with m.If(take):
                m.d.sync += [feed_data.eq(rd.data), feed_valid.eq(pend)]
            with m.If(read):
                with m.If(fed < nd):
                    m.d.sync += [feed_addr.eq(feed_addr + 1), fed.eq(fed + 1), pend.eq(1)]
                with m.Else():
                    m.d.sync += pend.eq(0)
            with m.If(core.o.valid):
                m.d.comb += [wr.en.eq(1), wr.addr.eq(out_addr), wr.data.eq(core.o.payload)]
                m.d.sync += out_addr.eq(out_addr + 1)
            with m.If(core.done):
                m.d.sync += done_seen.eq(1)
            with m.If(core.error):
                m.d.sync += running.eq(0)
            with m.Elif(finished):
                m.d.sync += [running.eq(0), result.eq(1)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.payload.ready.eq(1)
                with m.If(self.payload.valid & (byte.cmd == Command.LOAD)):
                    quoted = byte.data != token.word_select(byte.offset[:2], 8)
                    with m.If(byte.offset == 0):
                        m.d.sync += [foreign.eq(quoted), wpos.eq(0), range_err.eq(0)]
                    with m.Elif(byte.offset < p.TOKEN_BYTES):
                        m.d.sync += foreign.eq(foreign | quoted)
                    with m.Elif(byte.offset == p.TOKEN_BYTES):
                        m.d.sync += index[:8].eq(byte.data)
                    with m.Elif(byte.offset == p.TOKEN_BYTES + 1):
                        m.d.sync += [index[8:].eq(byte.data), addr.eq(Cat(index[:8], byte.data))]
                    with m.Else():
                        m.d.sync += [word.eq(Cat(word[8:], byte.data)), wpos.eq(wpos + 1)]
                        with m.If(wpos == lay.coord - 1):
                            m.d.sync += [wpos.eq(0), addr.eq(addr + 1)]
                            with m.If(configured & ~foreign & (addr < nd) & (index <= filled) & ~running):
                                m.d.comb += [
                                    wr.en.eq(1),
                                    wr.addr.eq(addr),
                                    wr.data.eq(Cat(word[8:], byte.data)[: fmt.width]),
                                ]
                            with m.Else():
                                m.d.sync += range_err.eq(1)

                with m.If(self.request.valid):
                    with m.If(req.status != Status.OK):  # BAD_CRC or TIMEOUT: not executed
                        with m.If(req.cmd == Command.LOAD):
                            m.d.sync += filled.eq(0)
                        respond(req.status)
                    with m.Elif(running & (req.cmd != Command.IDENTIFY) & (req.cmd != Command.STATUS)):
                        respond(Status.BUSY)
                    with m.Else():
                        with m.Switch(req.cmd):
                            with m.Case(Command.IDENTIFY):
                                with m.If(req.length != 0):
                                    respond(Status.BAD_LENGTH)
                                with m.Else():
                                    respond(Status.OK, lay.identity, 1)
                            with m.Case(Command.CONFIGURE):
                                new_n = arg(0, 2, lay.configure)
                                new_d = arg(2, 1, lay.configure)
                                with m.If(req.length != lay.configure):
                                    respond(Status.BAD_LENGTH)
                                with m.Elif((new_n < 2) | (new_n > dp.nmax) | (new_d < 2) | (new_d > dp.dmax)):
                                    respond(Status.BAD_CONFIG)
                                with m.Else():
                                    m.d.sync += [
                                        n.eq(new_n),
                                        d.eq(new_d),
                                        half_beta.eq(arg(3, lay.half_beta, lay.configure)),
                                        step.eq(arg(3 + lay.half_beta, lay.step, lay.configure)),
                                        nd.eq(_times(new_n, new_d)),
                                        configured.eq(1),
                                        filled.eq(0),
                                        result.eq(0),
                                        token.eq(arg(lay.configure - p.TOKEN_BYTES, p.TOKEN_BYTES, lay.configure)),
                                    ]
                                    respond(Status.OK)
                            with m.Case(Command.LOAD):
                                m.d.sync += filled.eq(0)
                                with m.If((req.length < p.LOAD_PREFIX) | (wpos != 0)):
                                    respond(Status.BAD_LENGTH)
                                with m.Elif(~configured):
                                    respond(Status.NOT_CONFIGURED)
                                with m.Elif(foreign):
                                    respond(Status.BAD_TOKEN)
                                with m.Elif(range_err | (index > filled)):
                                    respond(Status.BAD_RANGE)
                                with m.Else():
                                    m.d.sync += filled.eq(Mux(addr > filled, addr, filled))
                                    respond(Status.OK)
                            with m.Case(Command.RUN):
                                with m.If(req.length != 0):
                                    respond(Status.BAD_LENGTH)
                                with m.Elif(~configured | (filled != nd)):
                                    respond(Status.NOT_LOADED)
                                with m.Else():
                                    start_run()
                                    m.d.sync += loosened.eq(0)
                                    m.next = "RUN"
                            with m.Case(Command.READ):
                                first, many = arg(0, 2, 4), arg(2, 2, 4)
                                with m.If(req.length != 4):
                                    respond(Status.BAD_LENGTH)
                                with m.Elif(~result):
                                    respond(Status.NO_RESULT)
                                with m.Elif((first + many > nd) | (many > (0xFFFF // lay.coord))):
                                    respond(Status.BAD_RANGE)
                                with m.Else():
                                    m.d.sync += [
                                        feed_addr.eq(first),
                                        read_end.eq(first + many),
                                        wpos.eq(0),
                                        stale.eq(2),
                                    ]
                                    respond(Status.OK, _times(many, lay.coord) + p.TOKEN_BYTES, Mux(many == 0, 6, 3))
                            with m.Case(Command.STATS):
                                with m.If(req.length != 0):
                                    respond(Status.BAD_LENGTH)
                                with m.Elif(~result | loosened):
                                    respond(Status.NO_RESULT)
                                with m.Else():
                                    respond(Status.OK, lay.stats, 2)
                            with m.Case(Command.STATUS):
                                with m.If(req.length != 0):
                                    respond(Status.BAD_LENGTH)
                                with m.Else():
                                    respond(Status.OK, lay.status, 4)
                            if self.loosening:
                                with m.Case(Command.LOOSEN):
                                    iterations = arg(0, 4, lay.loosen)
                                    n0, l0 = arg(4, 2, lay.loosen), arg(6, p.L_BYTES, lay.loosen)
                                    with m.If(req.length != lay.loosen):
                                        respond(Status.BAD_LENGTH)
                                    with m.Elif(~configured | (filled != nd)):
                                        respond(Status.NOT_LOADED)
                                    with m.Elif((iterations == 0) | (n0 == 0)):
                                        respond(Status.BAD_CONFIG)
                                    with m.Else():
                                        start_run()
                                        m.d.comb += [
                                            core.loosen.eq(1),
                                            core.iterations.eq(iterations),
                                            core.loosen_n.eq(n0),
                                            core.loosen_l.eq(l0[: p.L_BITS]),
                                        ]
                                        m.d.sync += loosened.eq(1)
                                        m.next = "STARTED"
                                with m.Case(Command.RESULT):
                                    with m.If(req.length != 0):
                                        respond(Status.BAD_LENGTH)
                                    with m.Elif(~result | ~loosened):
                                        respond(Status.NO_RESULT)
                                    with m.Else():
                                        respond(Status.OK, lay.result, 5)
                            with m.Default():
                                respond(Status.UNKNOWN_COMMAND)

            with m.State("RUN"):
                with m.If(core.error):
                    respond(Status.BAD_CONFIG)
                with m.Elif(finished):
                    respond(Status.OK, lay.stats, 2)

            with m.State("STARTED"):
                # The cycle after start: ``error`` shows whether the core took the run.
                respond(
                    Mux(core.error, Status.BAD_CONFIG, Status.OK),
                    Mux(core.error, 0, p.TOKEN_BYTES),
                    Mux(core.error, 0, 6),
                )

            with m.State("RESPOND"):
                m.d.comb += self.header.valid.eq(1)
                with m.If(kind == 3):
                    m.d.comb += [rd.en.eq(1), rd.addr.eq(feed_addr)]
                    with m.If(stale != 0):
                        m.d.sync += stale.eq(stale - 1)
                with m.Switch(kind):
                    with m.Case(1):
                        m.d.comb += [self.body.payload.eq(ident.word_select(count, 8)), self.body.valid.eq(1)]
                    with m.Case(2):
                        m.d.comb += [self.body.payload.eq(stats.word_select(count, 8)), self.body.valid.eq(1)]
                    with m.Case(3):
                        data = Cat(held, held[-1].replicate(8 * lay.coord - fmt.width))  # sign-extended
                        m.d.comb += [self.body.payload.eq(data.word_select(wpos, 8)), self.body.valid.eq(stale == 0)]
                    with m.Case(4):
                        m.d.comb += [self.body.payload.eq(report.word_select(count, 8)), self.body.valid.eq(1)]
                    with m.Case(5):
                        m.d.comb += [self.body.payload.eq(outcome.word_select(count, 8)), self.body.valid.eq(1)]
                    with m.Case(6):
                        m.d.comb += [self.body.payload.eq(token.word_select(count[:2], 8)), self.body.valid.eq(1)]
                with m.If(self.body.valid & self.body.ready):
                    m.d.sync += count.eq(count + 1)
                    with m.If(kind == 3):
                        m.d.sync += wpos.eq(wpos + 1)
                        with m.If(wpos == lay.coord - 1):
                            m.d.sync += [wpos.eq(0), feed_addr.eq(feed_addr + 1), stale.eq(2)]
                            with m.If(feed_addr + 1 == read_end):  # the coordinates are out: the token
                                m.d.sync += [kind.eq(6), count.eq(0)]
                with m.If(self.header.ready):
                    m.d.comb += self.request.ready.eq(1)
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | self.request.valid | running)
        return m
