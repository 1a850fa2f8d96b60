"""Pipelined base-2 logarithm of an unsigned fixed-point value.

log2 x = pos − f_in + log2(1 + m): leading-one position (normalise), then a table + polynomial for the
mantissa term on [0, 1) (:mod:`.polynomial`), rounded to the output format.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import normalise as norm
from .fixed import Q, round_shift
from .pipeline import delay
from .polynomial import PiecewisePolynomial, make_table

__all__ = ["Log2", "SEGMENT_BITS"]

SEGMENT_BITS = 8


class Log2(wiring.Component):
    """``o = round(log2(x) · 2^f_out)`` as signed Q8.f_out, for ``x`` > 0 in ``in_fmt`` (unsigned).

    Ports: ``i`` — stream of raw ``in_fmt`` values; ``o`` — stream of raw Q8.``out_frac`` values.
    ``x = 0`` gives the most negative output (−128), standing for −∞. Error (measured, docs/arithmetic.md):
    the table's remainder bound is 2^−(out_frac + 3), plus rounding. II = 1; :attr:`latency` cycles.
    """

    def __init__(self, in_fmt: Q, out_frac: int | None = None):
        if in_fmt.signed:
            raise ValueError("Log2 takes an unsigned format")
        self.in_fmt = in_fmt
        self.out_fmt = Q(8, in_fmt.f - 4 if out_frac is None else out_frac)
        fo = self.out_fmt.f
        k = SEGMENT_BITS
        self.table = make_table(
            "log2(1+m)",
            lambda x, n: math.log2(1 + x) if n == 0 else (-1) ** (n + 1) * math.factorial(n - 1) / ((1 + x) ** n * math.log(2)),
            [s / 2**k for s in range(2**k)], [2.0**-k] * 2**k, frac=fo + 6, error=2.0 ** -(fo + 3),
        )
        self.latency = 1 + norm.LATENCY + self.table.latency + 2
        super().__init__({
            "i": In(stream.Signature(in_fmt.shape(), always_ready=True)),
            "o": Out(stream.Signature(self.out_fmt.shape(), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        w, t = self.in_fmt.width, self.table
        x = Signal(w)
        m.d.sync += x.eq(self.i.payload)
        pos, frac, zero = norm.normalise(m, x, w)
        m.submodules.poly = poly = PiecewisePolynomial(t)
        k, u = norm.segment(frac, w - 1, SEGMENT_BITS, t.frac)
        m.d.comb += [poly.k.eq(k), poly.u.eq(u)]
        exponent = Signal(signed(8))
        m.d.comb += exponent.eq(pos - self.in_fmt.f)
        exponent = delay(m, exponent, t.latency + 1, "exp")
        zero = delay(m, zero, t.latency + 1, "zero")
        fo = self.out_fmt.f
        mantissa = Signal(signed(fo + 4))  # the rounding add and the exponent add in separate cycles
        m.d.sync += mantissa.eq(round_shift(poly.y, t.frac - fo, "nearest"))
        with m.If(zero):
            m.d.sync += self.o.payload.eq(self.out_fmt.min_raw)
        with m.Else():
            m.d.sync += self.o.payload.eq((exponent << fo) + mantissa)
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m

