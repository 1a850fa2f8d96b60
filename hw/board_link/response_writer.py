"""ResponseWriter: response frames of the host link (docs/protocol.md, "Frames") as a byte stream — sync
byte, header, payload, CRC — from a header and the payload bytes, honouring the byte sink's ``ready``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import protocol as p

__all__ = ["ResponseWriter", "HEADER"]

#: A response's header fields, in their order on the line: ``cmd`` and ``seq`` (echoed), ``status``
#: (:class:`~.protocol.Status`), ``state`` (:class:`~.protocol.State`), payload ``length`` in bytes.
HEADER = data.StructLayout({"cmd": 8, "seq": 8, "status": 8, "state": 8, "length": 16})


class ResponseWriter(wiring.Component):
    """Response frames as bytes.

    Ports:

    - ``header`` — stream of :data:`HEADER`, one per response. It is held, its fields stable, while the
      frame goes out, and taken in the cycle the frame's last byte enters the output register: the
      producer learns there that the response is on its way.
    - ``body`` — the response's payload bytes: exactly ``header.length`` are taken per frame, after the
      header's bytes; any number of idle cycles between them is fine.
    - ``o`` — the frame: ``0x5A``, the 6 header bytes (``length`` little-endian), the payload, and the
      CRC-16/CCITT-FALSE over the header and payload bytes, most significant byte first (see
      :mod:`.protocol`). ``o.payload`` and ``o.valid`` are registers: nothing combinational reaches the
      UART, and the CRC is updated from the registered byte as it is taken, so that the path from a body
      byte's source (a block RAM's read data) ends in a register.
    - ``busy`` — high while a header is offered or a frame's bytes are not all taken from ``o``.

    Latency and throughput: a header offered in cycle t puts the sync byte on ``o`` in t + 1; a byte taken
    from ``body`` in cycle t is on ``o`` from t + 1 (``body.ready`` is high whenever the output register is
    empty or being emptied). With ``o.ready`` always high, a frame of L payload bytes (9 + L bytes) leaves
    in 10 + L cycles — one idle cycle before the CRC, which must first take in the last payload byte — and
    the next frame's sync byte can follow in the next cycle.
    """

    def __init__(self):
        super().__init__(
            {
                "header": In(stream.Signature(HEADER)),
                "body": In(stream.Signature(8)),
                "o": Out(stream.Signature(8)),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        header, body, o = self.header, self.body, self.o
        m.submodules.crc = crc = p.CRC.create()

        count = Signal(16)  # bytes of the current field (header, body, CRC) put in the register
        byte = Signal(8)  # the byte offered to the output register …
        offer = Signal()  # … if this is high
        counted = Signal()  # the byte in the output register counts towards the CRC
        counts = Signal()
        load = ~o.valid | o.ready  # the output register takes a byte this cycle if one is offered

        with m.If(offer & load):
            m.d.sync += [o.payload.eq(byte), o.valid.eq(1), counted.eq(counts)]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        m.d.comb += [crc.data.eq(o.payload), crc.valid.eq(o.valid & o.ready & counted)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += [byte.eq(p.SYNC_RESPONSE), offer.eq(header.valid)]
                with m.If(header.valid & load):
                    m.d.comb += crc.start.eq(1)
                    m.d.sync += count.eq(0)
                    m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += [byte.eq(header.payload.as_value().word_select(count[:3], 8)), offer.eq(1), counts.eq(1)]
                with m.If(load):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == p.RESPONSE_HEADER - 2):
                        m.d.sync += count.eq(0)
                        m.next = "BODY"
                        with m.If(header.payload.length == 0):
                            m.next = "CRC"

            with m.State("BODY"):
                m.d.comb += [byte.eq(body.payload), offer.eq(body.valid), body.ready.eq(load), counts.eq(1)]
                with m.If(body.valid & load):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == header.payload.length - 1):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"

            with m.State("CRC"):
                # The first CRC byte waits until the last payload byte has left the register (into the CRC).
                m.d.comb += [byte.eq(Mux(count[0], crc.crc[:8], crc.crc[8:])), offer.eq(count[0] | ~o.valid)]
                with m.If(offer & load):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count[0]):
                        m.d.comb += header.ready.eq(1)
                        m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | header.valid | o.valid)
        return m
