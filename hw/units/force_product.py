"""The force terms w·(r_j − r_i) of one pair, every coordinate: a short weight times a truncated difference.

The weight w ∈ [0, 1] arrives in UQ1.f; its leading ``w_bits`` bits (a mantissa, truncated) are enough for
the force's direction (docs/arithmetic.md, "The force product": 29 bits in Q3.44, 17 measured too coarse),
so each coordinate's product takes two 17-bit mantissa limbs times the difference truncated to
``diff_fmt`` (two limbs in Q3.31): 4 MULT18X18D per coordinate instead of 3 × 3 for the full UQ1.44 ×
Q4.44 product. The product is exact; it is shifted back
by the mantissa's exponent and rounded half up once, to the accumulator's fraction bits, so the sums of
these terms stay exact and independent of their order.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q, bit_length, saturate
from .multiplier import LIMB, LimbProduct, check_dsp
from ..pipeline import check_parameters, delay

__all__ = ["ForceProductParameters", "ForceProduct", "truncate_difference"]


def truncate_difference(diff, in_fmt: Q, out_fmt: Q):
    """⌊diff · 2^(out.f − in.f)⌋ saturated to ``out_fmt``: the NumPy model of the gateware's truncation
    (``out_fmt.f ≤ in_fmt.f``); int64 arrays in and out."""
    x = np.asarray(diff, dtype=np.int64) >> (in_fmt.f - out_fmt.f)
    return np.clip(x, out_fmt.min_raw, out_fmt.max_raw)


class ForceProductParameters:
    """The parameters of a :class:`ForceProduct`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`ForceProduct`)."""

    def __init__(self, w_fmt: Q, in_fmt: Q, diff_fmt: Q, o_fmt: Q, dim: int, w_bits: int = LIMB, dsp: str = "infer"):
        self.dsp = check_dsp(dsp)
        if not isinstance(w_fmt, Q) or w_fmt.signed:
            raise ValueError(f"ForceProduct takes an unsigned weight format, not {w_fmt!r}")
        if not (isinstance(diff_fmt, Q) and diff_fmt.signed and diff_fmt.f <= in_fmt.f):
            raise ValueError(
                f"the truncated difference needs a signed format with at most {in_fmt.f} fraction "
                f"bits, not {diff_fmt!r}"
            )
        top = min(w_fmt.width, 63 - diff_fmt.width)  # the model forms M·diff in int64
        if not (isinstance(w_bits, int) and 2 <= w_bits <= top):
            raise ValueError(f"w_bits must be an integer in 2..{top}, not {w_bits!r}")
        self.w_fmt, self.in_fmt, self.diff_fmt, self.o_fmt = w_fmt, in_fmt, diff_fmt, o_fmt
        self.dim, self.w_bits = dim, w_bits
        self.k_max = w_fmt.width - w_bits
        self.base_shift = w_fmt.f + diff_fmt.f - o_fmt.f  # s = base_shift − k
        if self.base_shift - self.k_max < 1:
            raise ValueError(
                f"o_fmt must have fewer than {w_fmt.f + diff_fmt.f - self.k_max} fraction bits "
                f"(every product rounds), not {o_fmt}"
            )
        self.latency = 2 + LimbProduct.LATENCY + 2
        self.signature = wiring.Signature(
            {
                "i": In(
                    stream.Signature(
                        data.StructLayout({"w": w_fmt.shape(), "diff": data.ArrayLayout(in_fmt.shape(), dim)}),
                        always_ready=True,
                    )
                ),
                "o": Out(stream.Signature(data.ArrayLayout(o_fmt.shape(), dim), always_ready=True)),
            }
        )

    # ---- the bit-exact model ----------------------------------------------------------------------------

    def mantissa(self, w) -> tuple[np.ndarray, np.ndarray]:
        """(M, k) with M·2^k the weight ``w`` (raw) truncated to ``w_bits`` significant bits."""
        w = np.asarray(w, dtype=np.int64)
        k = np.maximum(bit_length(w) - self.w_bits, 0)
        return w >> k, k

    def compute(self, w, diff) -> np.ndarray:
        """The model on raw int64 arrays: ``w`` (…) and ``diff`` (…, dim) → (…, dim) raw ``o_fmt``."""
        m, k = self.mantissa(w)
        dt = truncate_difference(diff, self.in_fmt, self.diff_fmt)
        p = m[..., None] * dt  # < 2^(w_bits + diff width) ≤ 2^63: exact in int64
        s = (self.base_shift - k)[..., None]
        out = (((p << 1) >> s) + 1) >> 1
        return np.clip(out, self.o_fmt.min_raw, self.o_fmt.max_raw)

    def create(self) -> ForceProduct:
        """A new :class:`ForceProduct` with these parameters."""
        return ForceProduct(self)


class ForceProduct(wiring.Component):
    """``o_d = round_half_up(M · ⌊diff_d⌋ · 2^k)`` in ``o_fmt`` for every coordinate d of one pair.

    w (raw UQ1.f, ``w_fmt``) = M·2^k + e: M the top ``w_bits`` bits below and including w's leading one
    (k = max(0, bit length of w − ``w_bits``), truncated: 0 ≤ e < 2^k raw, relative error < 2^−(w_bits−1));
    ⌊diff_d⌋ each difference (``in_fmt``) floored to ``diff_fmt`` and saturated to its range. The product is
    exact, then shifted right by s = f_w + f_diff − f_o − k ≥ 1 with half-up rounding and saturated to
    ``o_fmt``. w = 0 gives 0.

    Ports: ``i`` — stream of ``{w, diff}`` (``diff`` an array of ``dim`` raw ``in_fmt`` values); ``o`` —
    stream of an array of ``dim`` raw ``o_fmt`` values. II = 1; :attr:`latency` = 2 + 4 + 2 cycles
    (leading one and mantissa, :class:`~.multiplier.LimbProduct`, shift, round and saturate).
    ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, parameters: ForceProductParameters):
        self.parameters = check_parameters(parameters, ForceProductParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    # ---- the gateware -----------------------------------------------------------------------------------

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        width, nb = par.w_fmt.width, par.w_bits
        pay = self.i.payload
        # stage 1: leading one of w; differences truncated and saturated
        w1 = Signal(width)
        length = Signal(range(width + 1))
        for bit in range(width):
            with m.If(pay.w[bit]):
                m.d.comb += length.eq(bit + 1)
        k1 = Signal(range(par.k_max + 1))
        m.d.sync += [w1.eq(pay.w), k1.eq(Mux(length > nb, length - nb, 0))]
        shift = par.in_fmt.f - par.diff_fmt.f
        dts = []
        for d in range(par.dim):
            dt = Signal(par.diff_fmt.shape(), name=f"dt{d}")
            m.d.sync += dt.eq(saturate(pay.diff[d] >> shift, par.diff_fmt))
            dts.append(dt)
        # stage 2: the mantissa
        mant = Signal(unsigned(nb))
        m.d.sync += mant.eq(w1 >> k1)
        k2 = delay(m, k1, 1, "k")
        dts = [delay(m, dt, 1, f"dt{d}") for d, dt in enumerate(dts)]
        # products, then s = base_shift − k and half-up rounding: halves = (2p) >> s, out = (halves + 1) >> 1
        k_p = delay(m, k2, LimbProduct.LATENCY, "kp")
        s = Signal(range(par.base_shift + 1))
        m.d.comb += s.eq(par.base_shift - k_p)
        for d, dt in enumerate(dts):
            prod = LimbProduct(unsigned(nb), par.diff_fmt.shape(), dsp=par.dsp)
            m.submodules[f"product{d}"] = prod
            m.d.comb += [prod.a.eq(mant), prod.b.eq(dt)]
            halves = Signal(signed(prod.p.shape().width + 1), name=f"halves{d}")
            m.d.sync += halves.eq((prod.p << 1) >> s)
            m.d.sync += self.o.payload[d].eq(saturate((halves + 1) >> 1, par.o_fmt))
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
