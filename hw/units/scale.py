"""Scaling by a reciprocal square root given as mantissa and exponent (the normalisation multiply)."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q, mul_shift, saturate
from .multiplier import LimbProduct, check_dsp
from ..pipeline import check_parameters, delay

__all__ = ["ScaleParameters", "Scale"]


class ScaleParameters:
    """The parameters of a :class:`Scale`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`Scale`)."""

    latency = 1 + LimbProduct.LATENCY + 2

    def __init__(self, x_fmt: Q, mant_fmt: Q, out_fmt: Q, dsp: str = "infer"):
        self.x_fmt, self.mant_fmt, self.out_fmt = x_fmt, mant_fmt, out_fmt
        self.dsp = check_dsp(dsp)
        self.base_shift = x_fmt.f + mant_fmt.f - out_fmt.f
        layout = data.StructLayout({"x": x_fmt.shape(), "mant": mant_fmt.shape(), "exp": signed(8)})
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(layout, always_ready=True)),
                "o": Out(stream.Signature(out_fmt.shape(), always_ready=True)),
            }
        )

    def compute(self, x, mant, exp) -> np.ndarray:
        """Bit-exact model on int64 arrays of raw x, mant and exp (broadcast together); the shift
        s = ``base_shift`` − exp must be ≥ 1 (it is for every input the updater gives the unit)."""
        x, mant, exp = (np.asarray(v, dtype=np.int64) for v in (x, mant, exp))
        s = self.base_shift - exp
        low = int(s.min()) - 1 if s.size else 0
        partial = mul_shift(x, mant, low, "trunc", self.x_fmt.width + self.mant_fmt.width)  # ⌊p / 2^low⌋
        halves = partial >> np.minimum(s - 1 - low, 63)  # ⌊2p / 2^s⌋
        return saturate((halves + 1) >> 1, self.out_fmt)

    def create(self) -> Scale:
        """A new :class:`Scale` with these parameters."""
        return Scale(self)


class Scale(wiring.Component):
    """``o = saturate(round_half_up(x · mant · 2^exp))`` in ``out_fmt``, for ``x`` in ``x_fmt`` (signed),
    ``mant`` in ``mant_fmt`` (unsigned) and a signed integer ``exp`` (from :class:`~.rsqrt.RSqrt`).

    The shift s = x.f + mant.f − out.f − exp varies per input; half-up rounding is computed as
    ``(floor(2p / 2^s) + 1) >> 1``. Ports: ``i`` — stream of ``{x, mant, exp}``; ``o`` — stream of raw
    ``out_fmt`` values. II = 1; :attr:`latency` = 7. :meth:`ScaleParameters.compute` is the bit-exact model.
    ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    latency = ScaleParameters.latency

    def __init__(self, parameters: ScaleParameters):
        self.parameters = check_parameters(parameters, ScaleParameters)
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        p = self.i.payload
        x, mant, exp = Signal(par.x_fmt.shape()), Signal(par.mant_fmt.shape()), Signal(signed(8))
        m.d.sync += [x.eq(p.x), mant.eq(p.mant), exp.eq(p.exp)]
        m.submodules.mul = mul = LimbProduct(par.x_fmt.shape(), par.mant_fmt.shape(), dsp=par.dsp)
        m.d.comb += [mul.a.eq(x), mul.b.eq(mant)]
        shift = Signal(range(par.base_shift + 130))
        m.d.comb += shift.eq(delay(m, par.base_shift - exp, LimbProduct.LATENCY, "shift"))
        # The barrel shift and the rounding add with saturation in separate cycles: together they were
        # the longest path of the whole board design.
        halves = Signal(signed(len(mul.p) + 1))
        m.d.sync += halves.eq((mul.p << 1) >> shift)
        m.d.sync += self.o.payload.eq(saturate((halves + 1) >> 1, par.out_fmt))
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
