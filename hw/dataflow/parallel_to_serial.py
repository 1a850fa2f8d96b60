"""The P/S converter (paper Figure 2): new vectors arrive D-wide, coordinates leave one per transfer.

New vectors are written into an output buffer as the updater produces them (one per row at most), so the
updater never waits for the link; coordinates leave as soon as their vector is in the buffer and the
consumer is ready."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q

__all__ = ["ParallelToSerial"]


class ParallelToSerial(wiring.Component):
    """Ports: ``i`` — stream of ``dmax``-wide vectors (always ready); ``o`` — stream of raw coordinates,
    ``d`` per vector, in order; ``d`` — runtime dimension; ``clear`` — a pulse that starts a new iteration
    (vector count back to 0)."""

    def __init__(self, fmt: Q, nmax: int, dmax: int):
        self.fmt, self.nmax, self.dmax = fmt, nmax, dmax
        super().__init__(
            {
                "i": In(stream.Signature(data.ArrayLayout(fmt.shape(), dmax), always_ready=True)),
                "o": Out(stream.Signature(fmt.shape())),
                "d": In(range(dmax + 1)),
                "clear": In(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        vec = data.ArrayLayout(self.fmt.shape(), self.dmax)
        m.submodules.buffer = buf = memory.Memory(shape=vec, depth=self.nmax, init=[])
        wp, rp = buf.write_port(), buf.read_port(transparent_for=())
        written = Signal(range(self.nmax + 1))
        m.d.comb += [wp.addr.eq(written), wp.data.eq(self.i.payload), wp.en.eq(self.i.valid)]
        with m.If(self.clear):
            m.d.sync += written.eq(0)
        with m.Elif(self.i.valid):
            m.d.sync += written.eq(written + 1)

        # Read side: fetch vector ``reading`` (one cycle), then send its d coordinates.
        reading, coord = Signal(range(self.nmax + 1)), Signal(range(self.dmax))
        held = Signal(vec)
        m.d.comb += rp.addr.eq(reading)
        with m.FSM():
            with m.State("FETCH"):
                with m.If((reading < written) & ~self.clear):
                    m.next = "LATCH"
            with m.State("LATCH"):
                m.d.sync += [held.eq(rp.data), coord.eq(0)]
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += self.o.valid.eq(1)
                for k in range(self.dmax):
                    with m.If(coord == k):
                        m.d.comb += self.o.payload.eq(held[k])
                with m.If(self.o.ready):
                    with m.If(coord + 1 == self.d):
                        m.d.sync += reading.eq(reading + 1)
                        m.next = "FETCH"
                    with m.Else():
                        m.d.sync += coord.eq(coord + 1)
        with m.If(self.clear):  # a new iteration: only between iterations, when nothing is in flight
            m.d.sync += reading.eq(0)
        return m
