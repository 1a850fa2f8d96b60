"""HostLink: the board's side of the framed command protocol (:mod:`.protocol`, docs/protocol.md) in front
of an :class:`~.core.UpdaterCore`, with the vector buffer that LOAD fills, RUN streams through the core and
back, and READ drains."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .protocol import Command, Status

__all__ = ["HostLink"]


def _times(a, b):
    """a · b as shifts and adds: a multiplier here would take a DSP block that the core needs."""
    if isinstance(b, int):
        return sum((a << k for k in range(b.bit_length()) if b >> k & 1), start=0)
    return sum((Mux(b[k], a << k, 0) for k in range(len(b))), start=0)


class HostLink(wiring.Component):
    """Ports:

    - ``rx`` — request bytes (from the UART receiver, through a FIFO); ``tx`` — response bytes;
    - ``core`` — the flipped signature of the :class:`~.core.UpdaterCore` it drives;
    - ``busy`` — high from a request's first byte until its response is handed to ``tx``.

    One request is handled at a time: received whole (LOAD's coordinates go to the buffer as they
    arrive, only below N·D and never beyond the loaded prefix), checked (CRC, length, state), executed,
    answered. A request that stops arriving for ``timeout`` cycles is answered with ``TIMEOUT``. A LOAD
    that fails in any way forgets the loaded prefix, since its bytes may already sit in the buffer.

    Parameters: ``core`` (the core, for its configuration and signature), ``clock_hz`` and ``baud``
    (reported by IDENTIFY), ``timeout`` (cycles).
    """

    def __init__(self, core, clock_hz: int, baud: int, timeout: int):
        self.config = core.config
        self.dp = dp = core.dp
        self.lanes = core.lanes
        self.layout = p.Layout.of(dp)
        self.clock_hz, self.baud, self.timeout = int(clock_hz), int(baud), int(timeout)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "core": Out(core.signature.flip()),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        dp, lay = self.dp, self.layout
        fmt = dp.fmt
        depth = dp.nmax * dp.dmax
        core = self.core

        m.submodules.crc_rx = crc_rx = p.CRC.create()
        m.submodules.crc_tx = crc_tx = p.CRC.create()
        m.submodules.buf = buf = memory.Memory(shape=fmt.width, depth=depth, init=[])
        wr = buf.write_port()
        rd = buf.read_port()

        # Request fields and the board's state.
        cmd, seq, length = Signal(8), Signal(8), Signal(16)
        count = Signal(16)                      # bytes of the current field (header, payload, CRC)
        args_bytes = max(lay.configure, 4)
        args = Signal(8 * args_bytes)           # the last payload bytes, little-endian at the top
        n, d = Signal(16), Signal(8)
        half_beta, step = Signal(dp.half_beta_fmt.width), Signal(dp.step_fmt.width)
        nd = Signal(range(depth + 1))
        configured, result = Signal(), Signal()
        filled = Signal(range(depth + 1))       # the loaded prefix: buffer[0 … filled) came from OK LOADs
        status = Signal(8)

        def arg(offset, nbytes, length_):       # a field of a fixed-length payload of length_ bytes
            lo = 8 * (args_bytes - length_ + offset)
            return args[lo:lo + 8 * nbytes]

        # LOAD: index, word assembly, range check as the bytes arrive.
        index, addr = Signal(16), Signal(16)
        word = Signal(8 * lay.coord)
        wpos = Signal(range(lay.coord))
        range_err = Signal()

        # Timeout within a request.
        timer = Signal(range(self.timeout + 1))
        m.d.comb += core.o.ready.eq(1)

        m.d.comb += [
            core.n.eq(n), core.d.eq(d), core.half_beta.eq(half_beta), core.step.eq(step),
            crc_rx.data.eq(self.rx.payload), crc_tx.data.eq(self.tx.payload),
        ]
        state_byte = Cat(configured, (filled == nd) & (nd != 0), result)
        stats = Cat(core.cycles, core.move_norm.as_unsigned(),
                    Const(0, 8 * lay.move_norm - len(core.move_norm)),
                    core.delta_min.as_unsigned(), Const(0, 8 * lay.delta_min - len(core.delta_min)))
        ident = Const(int.from_bytes(p.identity(self.config, self.clock_hz, self.baud),
                                     "little"), 8 * lay.identity)
        resp_len = Signal(16)
        kind = Signal(2)                         # payload source: 0 none, 1 identity, 2 stats, 3 buffer
        feed_addr, fed = Signal(range(depth + 1)), Signal(range(depth + 1))
        feed_valid = Signal()
        out_addr = Signal(range(depth + 1))
        done_seen = Signal()
        # Response bytes are chosen combinationally (``sel``) and offered from a register (``out_byte``):
        # the buffer's read data, the byte select and the CRC update then take separate cycles. ``hold``
        # keeps ``valid`` low for the 3 cycles after each byte until the next one has settled (the UART
        # is busy for 10 bit times anyway).
        sel, out_byte = Signal(8), Signal(8)
        m.d.sync += out_byte.eq(sel)
        m.d.comb += self.tx.payload.eq(out_byte)
        hold = Signal(2, init=3)

        def respond(code, nbytes=0, source=0):
            m.d.sync += [status.eq(code), resp_len.eq(nbytes), kind.eq(source), count.eq(0), hold.eq(3)]
            m.next = "RESP_HEADER"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid & (self.rx.payload == p.SYNC_REQUEST)):
                    m.d.comb += crc_rx.start.eq(1)
                    m.d.sync += [count.eq(0), timer.eq(0), cmd.eq(0), seq.eq(0)]
                    m.next = "HEADER"

            def receiving():
                """Take one byte (returns its condition) and run the timeout."""
                take = self.rx.valid
                m.d.comb += [self.rx.ready.eq(1), crc_rx.valid.eq(take), self.busy.eq(1)]
                with m.If(take):
                    m.d.sync += timer.eq(0)
                with m.Elif(timer == self.timeout):
                    with m.If(cmd == Command.LOAD):
                        m.d.sync += filled.eq(0)
                    respond(Status.TIMEOUT)
                with m.Else():
                    m.d.sync += timer.eq(timer + 1)
                return take

            with m.State("HEADER"):
                with m.If(receiving()):
                    m.d.sync += count.eq(count + 1)
                    with m.Switch(count):
                        with m.Case(0):
                            m.d.sync += cmd.eq(self.rx.payload)
                        with m.Case(1):
                            m.d.sync += seq.eq(self.rx.payload)
                        with m.Case(2):
                            m.d.sync += length[:8].eq(self.rx.payload)
                        with m.Case(3):
                            m.d.sync += [length[8:].eq(self.rx.payload), count.eq(0), wpos.eq(0),
                                         range_err.eq(0)]
                            with m.If(Cat(length[:8], self.rx.payload) == 0):
                                m.next = "CRC"
                            with m.Else():
                                m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                byte = self.rx.payload
                with m.If(receiving()):
                    m.d.sync += [count.eq(count + 1), args.eq(Cat(args[8:], byte))]
                    with m.If(count == length - 1):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"
                    with m.If(cmd == Command.LOAD):
                        with m.If(count == 0):
                            m.d.sync += index[:8].eq(byte)
                        with m.Elif(count == 1):
                            m.d.sync += [index[8:].eq(byte), addr.eq(Cat(index[:8], byte))]
                        with m.Else():
                            m.d.sync += [word.eq(Cat(word[8:], byte)), wpos.eq(wpos + 1)]
                            with m.If(wpos == lay.coord - 1):
                                m.d.sync += [wpos.eq(0), addr.eq(addr + 1)]
                                ok = configured & (addr < nd) & (index <= filled)
                                with m.If(ok):
                                    m.d.comb += [wr.en.eq(1), wr.addr.eq(addr),
                                                 wr.data.eq(Cat(word[8:], byte)[:fmt.width])]
                                with m.Else():
                                    m.d.sync += range_err.eq(1)

            with m.State("CRC"):
                with m.If(receiving()):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == 1):
                        m.next = "CHECK"

            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(~crc_rx.match_detected):
                    with m.If(cmd == Command.LOAD):
                        m.d.sync += filled.eq(0)
                    respond(Status.BAD_CRC)
                with m.Else():
                    with m.Switch(cmd):
                        with m.Case(Command.IDENTIFY):
                            with m.If(length != 0):
                                respond(Status.BAD_LENGTH)
                            with m.Else():
                                respond(Status.OK, lay.identity, 1)
                        with m.Case(Command.CONFIGURE):
                            new_n = arg(0, 2, lay.configure)
                            new_d = arg(2, 1, lay.configure)
                            with m.If(length != lay.configure):
                                respond(Status.BAD_LENGTH)
                            with m.Elif((new_n < 2) | (new_n > dp.nmax) | (new_d < 2) | (new_d > dp.dmax)):
                                respond(Status.BAD_CONFIG)
                            with m.Else():
                                m.d.sync += [
                                    n.eq(new_n), d.eq(new_d),
                                    half_beta.eq(arg(3, lay.half_beta, lay.configure)),
                                    step.eq(arg(3 + lay.half_beta, lay.step, lay.configure)),
                                    nd.eq(_times(new_n, new_d)), configured.eq(1), filled.eq(0), result.eq(0),
                                ]
                                respond(Status.OK)
                        with m.Case(Command.LOAD):
                            m.d.sync += filled.eq(0)
                            with m.If((length < 2) | (wpos != 0)):
                                respond(Status.BAD_LENGTH)
                            with m.Elif(~configured):
                                respond(Status.NOT_CONFIGURED)
                            with m.Elif(range_err | (index > filled)):
                                respond(Status.BAD_RANGE)
                            with m.Else():
                                m.d.sync += filled.eq(Mux(addr > filled, addr, filled))
                                respond(Status.OK)
                        with m.Case(Command.RUN):
                            with m.If(length != 0):
                                respond(Status.BAD_LENGTH)
                            with m.Elif(~configured | (filled != nd)):
                                respond(Status.NOT_LOADED)
                            with m.Else():
                                m.d.comb += core.start.eq(1)
                                m.d.sync += [feed_addr.eq(0), fed.eq(0), feed_valid.eq(0), out_addr.eq(0),
                                             done_seen.eq(0), filled.eq(0), result.eq(0)]
                                m.next = "RUN"
                        with m.Case(Command.READ):
                            first, many = arg(0, 2, 4), arg(2, 2, 4)
                            with m.If(length != 4):
                                respond(Status.BAD_LENGTH)
                            with m.Elif(~result):
                                respond(Status.NO_RESULT)
                            with m.Elif((first + many > nd) | (many > (0xFFFF // lay.coord))):
                                respond(Status.BAD_RANGE)
                            with m.Else():
                                m.d.sync += [feed_addr.eq(first), wpos.eq(0)]
                                respond(Status.OK, _times(many, lay.coord), 3)
                        with m.Case(Command.STATS):
                            with m.If(length != 0):
                                respond(Status.BAD_LENGTH)
                            with m.Elif(~result):
                                respond(Status.NO_RESULT)
                            with m.Else():
                                respond(Status.OK, lay.stats, 2)
                        with m.Default():
                            respond(Status.UNKNOWN_COMMAND)

            with m.State("RUN"):
                # Stream buffer[0 … N·D) into the core at one coordinate per clock while it takes them;
                # its new coordinates come back in the same order. None leaves before the last arrives
                # (δ of the first vector needs them all), so one buffer serves both directions.
                m.d.comb += self.busy.eq(1)
                advance = ~feed_valid | core.i.ready
                m.d.comb += [rd.en.eq(advance), rd.addr.eq(feed_addr),
                             core.i.valid.eq(feed_valid), core.i.payload.eq(rd.data)]
                with m.If(advance):
                    with m.If(fed < nd):
                        m.d.sync += [feed_addr.eq(feed_addr + 1), fed.eq(fed + 1), feed_valid.eq(1)]
                    with m.Else():
                        m.d.sync += feed_valid.eq(0)
                with m.If(core.o.valid):
                    m.d.comb += [wr.en.eq(1), wr.addr.eq(out_addr), wr.data.eq(core.o.payload)]
                    m.d.sync += out_addr.eq(out_addr + 1)
                with m.If(core.done):
                    m.d.sync += done_seen.eq(1)
                with m.If(core.error):
                    respond(Status.BAD_CONFIG)
                with m.Elif(done_seen & (out_addr == nd)):
                    m.d.sync += result.eq(1)
                    respond(Status.OK, lay.stats, 2)

            with m.State("RESP_HEADER"):
                m.d.comb += self.busy.eq(1)
                header = Cat(Const(p.SYNC_RESPONSE, 8), cmd, seq, status, state_byte.as_unsigned(),
                             Const(0, 5), resp_len)
                m.d.comb += sel.eq(header.word_select(count, 8))
                m.d.comb += [self.tx.valid.eq(hold == 0), crc_tx.start.eq(count == 0),
                             crc_tx.valid.eq(self.tx.ready & (hold == 0) & (count != 0))]
                with m.If(hold != 0):
                    m.d.sync += hold.eq(hold - 1)
                with m.Elif(self.tx.ready):
                    m.d.sync += [count.eq(count + 1), hold.eq(3)]
                    with m.If(count == p.RESPONSE_HEADER - 1):
                        m.d.sync += count.eq(0)
                        m.next = "RESP_PAYLOAD"
                        with m.If(resp_len == 0):
                            m.next = "RESP_CRC"

            with m.State("RESP_PAYLOAD"):
                m.d.comb += self.busy.eq(1)
                m.d.comb += [rd.en.eq(1), rd.addr.eq(feed_addr)]
                with m.Switch(kind):
                    with m.Case(1):
                        m.d.comb += sel.eq(ident.word_select(count[:5], 8))
                    with m.Case(2):
                        m.d.comb += sel.eq(stats.word_select(count[:5], 8))
                    with m.Default():
                        data = Cat(rd.data, rd.data[-1].replicate(8 * lay.coord - fmt.width))  # sign-extended
                        m.d.comb += sel.eq(data.word_select(wpos, 8))
                m.d.comb += [self.tx.valid.eq(hold == 0), crc_tx.valid.eq(self.tx.ready & (hold == 0))]
                with m.If(hold != 0):
                    m.d.sync += hold.eq(hold - 1)
                with m.Elif(self.tx.ready):
                    m.d.sync += [count.eq(count + 1), hold.eq(3), wpos.eq(wpos + 1)]
                    with m.If(wpos == lay.coord - 1):
                        m.d.sync += [wpos.eq(0), feed_addr.eq(feed_addr + 1)]
                    with m.If(count == resp_len - 1):
                        m.d.sync += count.eq(0)
                        m.next = "RESP_CRC"

            with m.State("RESP_CRC"):
                m.d.comb += self.busy.eq(1)
                m.d.comb += [sel.eq(Mux(count == 0, crc_tx.crc[8:], crc_tx.crc[:8])),
                             self.tx.valid.eq(hold == 0)]
                with m.If(hold != 0):
                    m.d.sync += hold.eq(hold - 1)
                with m.Elif(self.tx.ready):
                    m.d.sync += [count.eq(count + 1), hold.eq(3)]
                    with m.If(count == 1):
                        m.next = "IDLE"
        return m
