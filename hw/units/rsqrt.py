"""Pipelined reciprocal square root for the two normalisations (|F*| and |r*|).

x = 4^e · m with m ∈ [1, 4) (normalise, then pair the exponent); 1/√m ∈ (½, 1] from a table +
polynomial over the two octaves [1, 2) and [2, 4); the result is returned as mantissa and exponent,
1/√x = mant · 2^−f_out · 2^−e, so that the multiply that follows keeps all its bits.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import normalise as norm
from ..fixed import Q, round_shift
from .multiplier import check_dsp
from ..pipeline import check_parameters, delay
from .piecewise import PiecewisePolynomial

__all__ = ["RSqrtParameters", "RSqrt", "SEGMENT_BITS"]

SEGMENT_BITS = 8


def _rsqrt_derivative(x: float, n: int) -> float:
    c = 1.0
    for j in range(n):
        c *= -0.5 - j
    return c * x ** (-0.5 - n)


class RSqrtParameters:
    """The parameters of a :class:`RSqrt`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`RSqrt`)."""

    def __init__(self, in_fmt: Q, out_frac: int | None = None, shared: bool = False, dsp: str = "infer"):
        if not isinstance(in_fmt, Q) or in_fmt.signed:
            raise ValueError(f"RSqrt takes an unsigned format, not {in_fmt!r}")
        if not isinstance(shared, bool):
            raise ValueError(f"shared must be a bool, not {shared!r}")
        self.shared, self.dsp = shared, check_dsp(dsp)
        self.in_fmt = in_fmt
        self.mant_fmt = Q(1, in_fmt.f if out_frac is None else out_frac, signed=False)
        k = SEGMENT_BITS
        starts = [1 + s / 2**k for s in range(2**k)] + [2 + 2 * s / 2**k for s in range(2**k)]
        widths = [2.0**-k] * 2**k + [2.0 ** (1 - k)] * 2**k
        fo = self.mant_fmt.f
        self.table = PiecewisePolynomial.lowest_degree(
            "1/sqrt(m)", _rsqrt_derivative, starts, widths, frac=fo + 4, error=2.0 ** -(fo + 3)
        )
        self.latency = 1 + norm.LATENCY + self.table.latency + 2
        #: Fewest cycles between two inputs.
        self.ii = self.table.latency - 1 if shared else 1
        layout = data.StructLayout({"mant": self.mant_fmt.shape(), "exp": signed(8)})
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(in_fmt.shape(), always_ready=True)),
                "o": Out(stream.Signature(layout, always_ready=True)),
            }
        )

    def compute(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Bit-exact model: (mant, exp) for an int64 array of raw x."""
        x = np.asarray(x, dtype=np.int64)
        w, t, fo = self.in_fmt.width, self.table, self.mant_fmt.f
        pos, frac = norm.compute_normalise(x, w)
        q = pos - self.in_fmt.f
        k, u = norm.compute_segment(frac, w - 1, SEGMENT_BITS, t.frac)
        y = t.compute(((q & 1) << SEGMENT_BITS) | k, u)
        mant = np.minimum(round_shift(y, t.frac - fo, "nearest"), 1 << fo)
        zero = x == 0
        return np.where(zero, 0, mant), np.where(zero, 0, -(q >> 1))

    def create(self) -> RSqrt:
        """A new :class:`RSqrt` with these parameters."""
        return RSqrt(self)


class RSqrt(wiring.Component):
    """``1/√x ≈ mant · 2^−out_frac · 2^exp`` for ``x`` > 0 in ``in_fmt`` (unsigned).

    Ports: ``i`` — stream of raw ``in_fmt`` values; ``o`` — stream of ``{mant, exp}``: ``mant`` raw
    UQ1.``out_frac`` in (½, 1], ``exp`` a signed integer. ``x = 0`` gives ``mant = 0, exp = 0`` (the
    zero force has no direction). II = 1; :attr:`latency` cycles. :meth:`RSqrtParameters.compute` is the
    bit-exact model.

    ``shared=True``: the polynomial's Horner steps share one product
    (:class:`~.piecewise.PolynomialEvaluator`), so an input may come at most every :attr:`ii` cycles
    (1 + 5·degree; 21 in Q3.44); the output is valid :attr:`latency` cycles after its input and held until
    the next. Same latency and arithmetic. ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, parameters: RSqrtParameters):
        self.parameters = check_parameters(parameters, RSqrtParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        w, t, fo = par.in_fmt.width, par.table, par.mant_fmt.f
        x = Signal(w)
        m.d.sync += x.eq(self.i.payload)
        pos, frac, zero = norm.normalise(m, x, w)
        q = Signal(signed(8))  # x ∈ [2^q, 2^(q+1))
        m.d.comb += q.eq(pos - par.in_fmt.f)
        k, u = norm.segment(frac, w - 1, SEGMENT_BITS, t.frac)
        m.submodules.poly = poly = t.create(par.shared, par.dsp)
        m.d.comb += [poly.k.eq(q[0] << SEGMENT_BITS | k), poly.u.eq(u)]
        if par.shared:
            m.d.comb += poly.start.eq(delay(m, self.i.valid, 1 + norm.LATENCY, "start"))
        exp = delay(m, -(q >> 1), t.latency + 1, "exp")
        zero = delay(m, zero, t.latency + 1, "zero")
        one = 1 << fo
        mant = Signal(signed(fo + 4))  # the rounding add and the clamp in separate cycles
        m.d.sync += mant.eq(round_shift(poly.y, t.frac - fo, "nearest"))
        out = [
            self.o.payload.mant.eq(Mux(zero, 0, Mux(mant > one, one, mant))),
            self.o.payload.exp.eq(Mux(zero, 0, exp)),
        ]
        if not par.shared:
            m.d.sync += out
            m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
            return m
        last = delay(m, self.i.valid, self.latency - 1, "valid")  # the output register holds the result
        with m.If(last):
            m.d.sync += out
        m.d.comb += self.o.valid.eq(delay(m, last, 1, "valid_out"))
        return m
