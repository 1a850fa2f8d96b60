"""The S/P converter (paper Figure 2): coordinates arrive one per transfer, vectors leave D-wide."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q

__all__ = ["SerialToParallel"]


class SerialToParallel(wiring.Component):
    """Ports: ``i`` — stream of raw coordinates, vector after vector, ``d`` per vector; ``o`` — stream of
    ``dmax``-wide vectors (coordinates d … dmax − 1 are 0); ``d`` — the runtime dimension (2 ≤ d ≤ dmax).
    A vector leaves one cycle after its last coordinate arrives; ``i`` waits while ``o`` is not taken."""

    def __init__(self, fmt: Q, dmax: int):
        self.fmt, self.dmax = fmt, dmax
        super().__init__(
            {
                "i": In(stream.Signature(fmt.shape())),
                "o": Out(stream.Signature(data.ArrayLayout(fmt.shape(), dmax))),
                "d": In(range(dmax + 1)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.dmax + 1))
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            for k in range(self.dmax):
                with m.If(count == k):
                    m.d.sync += self.o.payload[k].eq(self.i.payload)
                with m.Elif((count == 0) & (k > 0)):
                    m.d.sync += self.o.payload[k].eq(0)  # a new vector clears the unused coordinates
            with m.If(count + 1 == self.d):
                m.d.sync += [count.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m
