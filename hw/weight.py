"""The repulsion weight w = (δ / d²)^(β/2) = 2^−t, t = (β/2)(log2 d² − log2 δ) ≥ 0 (paper eq. 8).

Two :class:`~.log2.Log2` units, a subtraction, a multiply by the runtime β/2, and :class:`~.exp2.Exp2`.
Large β drives most weights to 0: that is correct (design notes §4).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .exp2 import Exp2
from .fixed import Q, round_shift, rounding_bias, saturate
from .log2 import Log2
from .multiplier import LimbProduct
from .pipeline import delay, parameters_only

__all__ = ["RepulsionWeight", "half_beta_format"]


def half_beta_format() -> Q:
    """β/2 as the host supplies it: UQ17.16, so 1 ≤ β/2 ≤ 65536 with 2^−16 resolution."""
    return Q(17, 16, signed=False)


class RepulsionWeight(wiring.Component):
    """``o = w = (δ / d²)^(β/2)`` as raw UQ1.f, for 0 < δ ≤ d² in ``d2_fmt`` (unsigned) and β/2 in UQ17.16.

    Ports: ``i`` — stream of ``{delta, d2, half_beta}``; ``o`` — stream of raw ``w_fmt`` values in [0, 1].
    Degenerate inputs, defined as the float64 reference defines them: d² = 0 → w = 1 (a coincident pair);
    δ = 0 < d² → w = 0. II = 1; :attr:`latency` cycles.

    Internal formats (from the input's fraction bits f): log2 in Q8.(f − 4), t = (β/2)·Δlog2 in
    UQ6.(f − 8) (saturated: t ≥ 64 means w = 0 at any f ≤ 62).
    """

    def __init__(self, d2_fmt: Q):
        f = d2_fmt.f
        self.d2_fmt = d2_fmt
        self.hb_fmt = half_beta_format()
        self.w_fmt = Q(1, f, signed=False)
        self.t_fmt = Q(6, f - 8, signed=False)
        self.log2 = parameters_only(Log2(d2_fmt))
        self.exp2 = parameters_only(Exp2(self.t_fmt, self.w_fmt))
        self.diff_fmt = Q(9, self.log2.out_fmt.f)
        self.t_shift = self.diff_fmt.f + self.hb_fmt.f - self.t_fmt.f
        self.latency = self.log2.latency + 1 + LimbProduct.LATENCY + 1 + self.exp2.latency + 1
        layout = data.StructLayout({"delta": d2_fmt.shape(), "d2": d2_fmt.shape(), "half_beta": self.hb_fmt.shape()})
        super().__init__({
            "i": In(stream.Signature(layout, always_ready=True)),
            "o": Out(stream.Signature(self.w_fmt.shape(), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.i.payload
        m.submodules.log_delta = log_delta = Log2(self.d2_fmt)
        m.submodules.log_d2 = log_d2 = Log2(self.d2_fmt)
        m.d.comb += [log_delta.i.payload.eq(p.delta), log_delta.i.valid.eq(self.i.valid),
                     log_d2.i.payload.eq(p.d2), log_d2.i.valid.eq(self.i.valid)]
        lat = self.log2.latency
        # Δ = log2 d² − log2 δ ≥ 0; a table's rounding can make it −1 ulp when δ = d²: clamp.
        diff = Signal(self.diff_fmt.shape())
        raw = log_d2.o.payload - log_delta.o.payload
        m.d.sync += diff.eq(Mux(raw < 0, 0, raw))
        m.submodules.mul = mul = LimbProduct(self.diff_fmt.shape(), self.hb_fmt.shape(),
                                             rounding_bias(self.t_shift, "nearest"))
        m.d.comb += [mul.a.eq(diff), mul.b.eq(delay(m, p.half_beta, lat + 1, "hb"))]
        t = Signal(self.t_fmt.shape())
        m.d.sync += t.eq(saturate(round_shift(mul.p, self.t_shift, "trunc"), self.t_fmt))
        m.submodules.exp2 = exp2 = Exp2(self.t_fmt, self.w_fmt)
        m.d.comb += [exp2.i.payload.eq(t), exp2.i.valid.eq(1)]
        before_exp = lat + 1 + LimbProduct.LATENCY + 1 + self.exp2.latency
        coincident = delay(m, p.d2 == 0, before_exp, "coincident")
        zero_delta = delay(m, p.delta == 0, before_exp, "zero_delta")
        with m.If(coincident):
            m.d.sync += self.o.payload.eq(1 << self.w_fmt.f)
        with m.Elif(zero_delta):
            m.d.sync += self.o.payload.eq(0)
        with m.Else():
            m.d.sync += self.o.payload.eq(exp2.o.payload)
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
