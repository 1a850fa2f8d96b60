"""RequestParser: request frames of the host link (docs/protocol.md, "Frames") out of a byte stream — sync
byte, header, payload, CRC — with the CRC check and the timeout of a request that stops arriving.

It knows the framing only, not the commands: whether a payload's length or contents suit its command is
for the consumer (:class:`~.command_executor.CommandExecutor`) to decide.
"""

from __future__ import annotations

import numbers

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as p
from .protocol import Status

__all__ = ["RequestParser", "PAYLOAD", "request_layout"]

#: One payload byte (``data``), its ``offset`` in the payload (0 first) and its request's ``cmd``.
PAYLOAD = data.StructLayout({"data": 8, "offset": 16, "cmd": 8})


def request_layout(args: int) -> data.StructLayout:
    """A parsed request: ``cmd``, ``seq`` and the payload ``length`` as received; ``status`` —
    ``Status.OK``, ``BAD_CRC`` or ``TIMEOUT`` (:class:`~.protocol.Status`); ``args`` — the last ``args``
    payload bytes (see :class:`RequestParser`)."""
    return data.StructLayout({"cmd": 8, "seq": 8, "length": 16, "status": 8, "args": 8 * args})


def _check_positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")
    return int(value)


class RequestParser(wiring.Component):
    """Request frames out of a byte stream, one request at a time.

    Ports:

    - ``i`` — request bytes (from the UART receiver, through a FIFO). Outside a frame, every byte is taken
      and all but a sync byte (``0xA5``) are dropped; a sync byte starts a frame.
    - ``payload`` — stream of :data:`PAYLOAD`: each payload byte of the frame, in order, offered in the
      cycle it is offered on ``i`` (``payload.valid`` and ``.data`` are ``i``'s; ``i.ready`` is
      ``payload.ready``): no latency, no storage. A consumer may act on a byte before the frame's CRC is
      known (LOAD writes coordinates as they arrive); the verdict follows on ``request``.
    - ``request`` — stream of :func:`request_layout` (``args``): one per frame, offered from the cycle after
      its last CRC byte is taken (``status`` ``OK``, or ``BAD_CRC`` if the CRC over everything after the
      sync byte does not end on the residue 0), or from the cycle after the timeout (``TIMEOUT``; ``cmd``,
      ``seq`` and ``length`` hold what arrived, 0 for what did not). It is held, its fields stable, until
      taken, and no byte is taken from ``i`` meanwhile: a consumer that takes it once the response is on
      its way makes the link handle one request at a time (bytes wait in the FIFO before this parser).
    - ``busy`` — high from a frame's sync byte until its request is taken.

    ``args``: the request's last ``args`` payload bytes, each shifted in from the top: payload byte k of an
    L-byte payload (L ≤ ``args``) is byte ``args − L + k`` of the field (little-endian fields of a
    fixed-length payload keep their order). The consumer's fixed-length arguments live here, so it needs
    no copy of them.

    Timeout: a frame in which no byte is taken for ``timeout`` + 1 consecutive cycles ends with
    ``TIMEOUT`` (its request is offered ``timeout`` + 2 cycles after the last byte taken). Cycles in which
    a payload byte is offered but ``payload.ready`` is low do not count: back-pressure is not silence.

    Parameters: ``timeout`` (cycles, ≥ 1), ``args`` (bytes, ≥ 1).
    """

    def __init__(self, timeout: int, args: int):
        self.timeout = _check_positive("timeout", timeout)
        self.args = _check_positive("args", args)
        super().__init__(
            {
                "i": In(stream.Signature(8)),
                "payload": Out(stream.Signature(PAYLOAD)),
                "request": Out(stream.Signature(request_layout(self.args))),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        i, payload, request = self.i, self.payload, self.request
        m.submodules.crc = crc = p.CRC.create()

        cmd, seq, length = Signal(8), Signal(8), Signal(16)
        count = Signal(16)  # bytes taken of the current field (header, payload, CRC)
        args = Signal(8 * self.args)
        timer = Signal(range(self.timeout + 1))
        timed_out = Signal()
        take = i.valid & i.ready

        self._outputs(m, crc, count, cmd, seq, length, args, timed_out)

        def receiving(stalled=0):
            self._receiving(m, crc, take, timer, timed_out, stalled)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += i.ready.eq(1)
                with m.If(i.valid & (i.payload == p.SYNC_REQUEST)):
                    m.d.comb += crc.start.eq(1)
                    m.d.sync += [count.eq(0), timer.eq(0), timed_out.eq(0), cmd.eq(0), seq.eq(0), length.eq(0)]
                    m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += i.ready.eq(1)
                receiving()
                with m.If(take):
                    m.d.sync += count.eq(count + 1)
                    with m.Switch(count):
                        with m.Case(0):
                            m.d.sync += cmd.eq(i.payload)
                        with m.Case(1):
                            m.d.sync += seq.eq(i.payload)
                        with m.Case(2):
                            m.d.sync += length[:8].eq(i.payload)
                        with m.Case(3):
                            m.d.sync += [length[8:].eq(i.payload), count.eq(0)]
                            with m.If(Cat(length[:8], i.payload) == 0):
                                m.next = "CRC"
                            with m.Else():
                                m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                m.d.comb += [payload.valid.eq(i.valid), i.ready.eq(payload.ready)]
                receiving(stalled=i.valid & ~payload.ready)
                with m.If(take):
                    m.d.sync += [count.eq(count + 1), args.eq(Cat(args[8:], i.payload))]
                    with m.If(count == length - 1):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"

            with m.State("CRC"):
                m.d.comb += i.ready.eq(1)
                receiving()
                with m.If(take):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == 1):
                        m.next = "DONE"

            with m.State("DONE"):
                m.d.comb += [request.valid.eq(1), self.busy.eq(1)]
                with m.If(request.ready):
                    m.next = "IDLE"
        return m

    def _outputs(self, m: Module, crc, count, cmd, seq, length, args, timed_out) -> None:
        """The payload stream's fields and the request's: the header, the arguments and the status."""
        i, payload, request = self.i, self.payload, self.request
        m.d.comb += [
            crc.data.eq(i.payload),
            payload.payload.data.eq(i.payload),
            payload.payload.offset.eq(count),
            payload.payload.cmd.eq(cmd),
            request.payload.cmd.eq(cmd),
            request.payload.seq.eq(seq),
            request.payload.length.eq(length),
            request.payload.args.eq(args),
            request.payload.status.eq(
                Mux(timed_out, Status.TIMEOUT, Mux(crc.match_detected, Status.OK, Status.BAD_CRC))
            ),
        ]

    def _receiving(self, m: Module, crc, take, timer, timed_out, stalled) -> None:
        """In a receiving state: take bytes into the CRC and run the timer; ``stalled``: a byte waits on
        back-pressure, which does not count as silence."""
        m.d.comb += [crc.valid.eq(take), self.busy.eq(1)]
        with m.If(take):
            m.d.sync += timer.eq(0)
        with m.Elif(stalled):
            pass
        with m.Elif(timer == self.timeout):
            m.d.sync += timed_out.eq(1)
            m.next = "DONE"
        with m.Else():
            m.d.sync += timer.eq(timer + 1)
