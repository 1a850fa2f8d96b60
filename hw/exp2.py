"""Pipelined 2^−t for t ≥ 0: the integer part of t becomes a right shift, the fraction a table +
polynomial for 2^−φ on [0, 1) (:mod:`.polynomial`)."""

from __future__ import annotations

import math

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from . import normalise as norm
from .fixed import Q
from .pipeline import delay
from .polynomial import PiecewisePolynomial, make_table

__all__ = ["Exp2"]


class Exp2(wiring.Component):
    """``o = round_half_up(2^−t · 2^f_out)``, clamped to 1.0, for ``t`` ≥ 0 in ``t_fmt`` (unsigned).

    Ports: ``i`` — stream of raw ``t_fmt`` values; ``o`` — stream of raw ``out_fmt`` (UQ1.f) values in
    [0, 1]; large t underflows to 0, which is correct. II = 1; :attr:`latency` cycles.
    """

    def __init__(self, t_fmt: Q, out_fmt: Q):
        if t_fmt.signed or out_fmt.signed:
            raise ValueError("Exp2 takes unsigned formats")
        self.t_fmt, self.out_fmt = t_fmt, out_fmt
        self.segment_bits = k = min(8, t_fmt.f)
        ln2 = math.log(2)
        self.table = make_table(
            "2^-phi",
            lambda x, n: (-ln2) ** n * 2.0**-x,
            [s / 2**k for s in range(2**k)], [2.0**-k] * 2**k, frac=out_fmt.f + 4, error=2.0 ** -(out_fmt.f + 3),
        )
        self.latency = 1 + self.table.latency + 2
        super().__init__({
            "i": In(stream.Signature(t_fmt.shape(), always_ready=True)),
            "o": Out(stream.Signature(out_fmt.shape(), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        t, ft = self.table, self.t_fmt.f
        x = Signal(self.t_fmt.width)
        m.d.sync += x.eq(self.i.payload)
        m.submodules.poly = poly = PiecewisePolynomial(t)
        k, u = norm.segment(x[:ft], ft, self.segment_bits, t.frac)
        m.d.comb += [poly.k.eq(k), poly.u.eq(u)]
        n = delay(m, x[ft:], t.latency, "n")
        # Round half up of y / 2^s as (floor(2y / 2^s) + 1) >> 1, so the shift may vary per input.
        s = n + (t.frac - self.out_fmt.f)
        halves = Signal(t.frac + 4)  # registered: the barrel shift and the rounding add in separate cycles
        m.d.sync += halves.eq((poly.y << 1) >> s)
        one = 1 << self.out_fmt.f
        w = (halves + 1) >> 1
        m.d.sync += self.o.payload.eq(Mux(w > one, one, w))
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
