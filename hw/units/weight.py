"""The repulsion weight w = (δ / d²)^(β/2) = 2^−t, t = (β/2)·log2(1 + ρ), ρ = (d² − δ)·(1/δ) (paper eq. 8).

1/δ comes once per row from :class:`~.reciprocal.Reciprocal`; per pair the unit forms ρ as a mantissa
and an exponent (near-contact pairs have tiny ρ, which keeps every bit), L = log2(1 + ρ) as a mantissa and
an exponent from one interpolated table of g(z) = log2(1 + z)/z on [0, 1), t = (β/2)·L in fixed point,
and 2^−t from a second table (:mod:`.piecewise`). The relative error of L enters t multiplied by t
itself, not by β/2, and w matters only while t ≲ f + 2: the weight's relative error is bounded
independently of β (docs/arithmetic.md, "The repulsion weight", derives every width).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import normalise as norm
from ..fixed import Q, bit_length
from .piecewise import PiecewisePolynomial, gauss_derivative
from .multiplier import LimbProduct, check_dsp
from ..pipeline import check_parameters, delay, keep_locals
from .reciprocal import ReciprocalParameters, mantissa

__all__ = ["RepulsionWeightParameters", "RepulsionWeight", "half_beta_format", "weight_precision"]

_LN2 = math.log(2)


def half_beta_format() -> Q:
    """β/2 as the host supplies it: UQ17.16, so 1 ≤ β/2 ≤ 65536 with 2^−16 resolution."""
    return Q(17, 16, signed=False)


def weight_precision(f: int) -> int:
    """P, the mantissa fraction bits of ρ, 1/δ, g and L for squared distances with f fraction bits:
    f − 4, at most 30 (every product but one then fits int64 in the model, and two 17-bit limbs in the
    gateware); docs/arithmetic.md derives it."""
    return min(f - 4, 30)


def _g_derivative():
    """n-th derivative of g(z) = log2(1 + z)/z = (1/ln 2)∫₀¹ dt/(1 + zt)."""
    return gauss_derivative(lambda t, x, n: (-1) ** n * math.factorial(n) * t**n / (1 + x * t) ** (n + 1) / _LN2)


def _exp_derivative(x: float, n: int) -> float:
    """n-th derivative of 2^−x."""
    return (-_LN2) ** n * 2.0**-x


class RepulsionWeightParameters:
    """The parameters of a :class:`RepulsionWeight`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`RepulsionWeight`)."""

    def __init__(self, d2_fmt: Q, precision: int | None = None, candidates: int = 1, dsp: str = "infer"):
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates not in (1, 2):
            raise ValueError(f"candidates must be 1 or 2, not {candidates!r}")
        if not isinstance(d2_fmt, Q) or d2_fmt.signed:
            raise ValueError(f"RepulsionWeight takes an unsigned squared-distance format, not {d2_fmt!r}")
        if d2_fmt.f < 12 or d2_fmt.width > 62:
            raise ValueError(f"RepulsionWeight needs 12 ≤ f and a width ≤ 62, not {d2_fmt}")
        p = weight_precision(d2_fmt.f) if precision is None else precision
        if not isinstance(p, int) or not 8 <= p <= min(30, d2_fmt.f - 4):
            raise ValueError(f"precision must be an integer in 8..{min(30, d2_fmt.f - 4)}, not {p!r}")
        f = d2_fmt.f
        self.d2_fmt, self.precision, self.candidates = d2_fmt, p, candidates
        self.dsp = check_dsp(dsp)
        self.hb_fmt = half_beta_format()
        self.w_fmt = Q(1, f, signed=False)
        self.t_fmt = Q(6, p, signed=False)
        self.reciprocal = ReciprocalParameters(d2_fmt, p)
        self.log_table = PiecewisePolynomial.fewest_segments("log2(1+z)/z", _g_derivative(), p, p + 2, 2.0 ** -(p + 2))
        self.exp_table = PiecewisePolynomial.fewest_segments("2^-phi", _exp_derivative, p, p + 2, 2.0 ** -(p + 3))
        self.latency = (
            self._LATENCY_BEFORE_TABLES + self.log_table.latency + self.exp_table.latency + self._LATENCY_AFTER_TABLES
        )
        fields = {
            "delta": d2_fmt.shape(),
            "d2": d2_fmt.shape(),
            "recip": self.reciprocal.o_layout,
            "half_beta": self.hb_fmt.shape(),
        }
        if candidates == 2:
            fields["half_beta2"] = self.hb_fmt.shape()
        out = self.w_fmt.shape() if candidates == 1 else data.ArrayLayout(self.w_fmt.shape(), 2)
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(data.StructLayout(fields), always_ready=True)),
                "o": Out(stream.Signature(out, always_ready=True)),
            }
        )

    # Stages outside the two tables (see :meth:`elaborate`): X, normalise (2), ρ product, ρ normalise,
    # branch (2) | G | L product, L (2), t product, shift, round | shift, round, flags.
    _LATENCY_BEFORE_TABLES = 1 + norm.LATENCY + LimbProduct.LATENCY + 1 + 2
    _LATENCY_AFTER_TABLES = 1 + LimbProduct.LATENCY + 2 + LimbProduct.LATENCY + 2 + 2

    @property
    def _halves_shift(self) -> int:
        """t·2^P = (β/2)·L·2^P = HB·ML·2^(eL − 16): the floor of HB·ML / 2^(s − 1), s = 16 − eL, halves."""
        return 15 + self.precision - self.t_fmt.f

    # ---- the bit-exact model ----------------------------------------------------------------------------

    def compute(self, delta, d2, half_beta, recip=None) -> np.ndarray:
        """Bit-exact model of the unit on int64 arrays of raw δ, d², β/2 (broadcast together); ``recip`` is
        (R, p) as :meth:`.ReciprocalParameters.compute` gives it, computed from δ when omitted."""
        f = self.d2_fmt.f
        delta, d2, hb = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (delta, d2, half_beta)))
        r_mant, r_exp = (
            self.reciprocal.compute(delta)
            if recip is None
            else np.broadcast_arrays(np.asarray(recip[0], dtype=np.int64), np.asarray(recip[1], dtype=np.int64), delta)[
                :2
            ]
        )
        one = 1 << f
        w = np.zeros(delta.shape, dtype=np.int64)
        # Pairs whose t exceeds f + 3 in float64 (error ≪ 1) have t ≥ f + 2 in the unit too, so w = 0 there:
        # only the others are evaluated (with large β that is most pairs' time saved).
        with np.errstate(divide="ignore", invalid="ignore"):
            t_float = hb * 2.0**-16 * np.log2(d2 / delta.astype(np.float64))
        work = ~(t_float >= f + 3) & (delta > 0)
        w[work] = self._weight(delta[work], d2[work], hb[work], r_mant[work], r_exp[work])
        w[(d2 <= delta) & (delta > 0)] = one
        w[d2 == 0] = one
        return w

    def _weight(self, delta, d2, hb, r_mant, r_exp) -> np.ndarray:
        """:meth:`compute` for 0 < δ (1-d arrays)."""
        p_bits, width, f = self.precision, self.d2_fmt.width, self.d2_fmt.f
        x = np.maximum(d2 - delta, 0)
        mx, px = mantissa(x, width, p_bits)
        # ρ = MX·R·2^(pX − pD − 2P − 1) = (Mρ/2^P)·2^eρ, Mρ ∈ [2^P, 2^(P+1)) truncated
        pi = mx * r_mant + (1 << (p_bits - 1))  # half an ulp of the shift by P: centres the truncation
        top = pi >> (2 * p_bits + 1)
        m_rho = pi >> (p_bits + top)
        e_rho = px - r_exp - 1 + top
        small = e_rho < 0
        # ρ < 1: z = ρ·2^P, L = ρ·g(ρ). ρ ≥ 1: 1 + ρ = 2^ey·(1 + z/2^P), L = ey + (z/2^P)·g(z/2^P).
        z_small = m_rho >> np.minimum(np.maximum(-e_rho, 0), 63)
        e = np.maximum(e_rho, 0)
        y = m_rho + np.where(e > p_bits, 0, (1 << p_bits) >> np.minimum(e, p_bits))
        carry = y >> (p_bits + 1)
        z_big = (y >> carry) - (1 << p_bits)
        ey = e + carry
        z = np.where(small, z_small, z_big)
        g = (self.log_table.compute_argument(z) + 2) >> 2  # P fraction bits
        pi2 = np.where(small, m_rho, z) * g + (1 << (p_bits - 1))
        top2 = pi2 >> (2 * p_bits + 1)
        ml_small, el_small = pi2 >> (p_bits + top2), e_rho + top2
        l_fix = (ey << p_bits) + (pi2 >> p_bits)
        el_big = bit_length(l_fix) - 1 - p_bits
        ml_big = l_fix >> np.maximum(el_big, 0)
        ml, el = np.where(small, ml_small, ml_big), np.where(small, el_small, el_big)
        # t = round_half_up(HB·ML / 2^s), formed exactly from ML's two 17-bit limbs
        halves = _floor_product_shift(hb, ml, self._halves_shift - el)
        t = np.minimum((halves + 1) >> 1, self.t_fmt.max_raw)
        # w = 2^−n · 2^−φ, evaluated only where n < f + 2 (elsewhere the shift leaves 0, in the RTL too)
        one = 1 << f
        n = t >> self.t_fmt.f
        w = np.zeros(t.shape, dtype=np.int64)
        live = n < f + 2
        ex = self.exp_table.compute_argument(t[live] & ((1 << self.t_fmt.f) - 1)) << (f + 1 - self.exp_table.frac)
        w[live] = np.minimum(((ex >> n[live]) + 1) >> 1, one)
        return w

    def create(self) -> RepulsionWeight:
        """A new :class:`RepulsionWeight` with these parameters."""
        return RepulsionWeight(self)


class RepulsionWeight(wiring.Component):
    """``o = w = (δ / d²)^(β/2)`` as raw UQ1.f, for δ ≤ d² in ``d2_fmt`` (unsigned) and β/2 in UQ17.16.

    Ports: ``i`` — stream of ``{delta, d2, recip, half_beta}`` where ``recip = {mant, exp}`` is
    :class:`~.reciprocal.Reciprocal`'s output for ``delta`` (the updater computes it once per row);
    ``o`` — stream of raw ``w_fmt`` values in [0, 1]. Degenerate inputs, as the float64 reference defines
    them: d² = 0 → w = 1 (a coincident pair); δ = 0 < d² → w = 0; d² ≤ δ → w = 1. II = 1;
    :attr:`latency` cycles.

    Range and error (docs/arithmetic.md): any 1 ≤ β/2 ≤ 65536; t = (β/2)·L is UQ6.P, saturating (t ≥ 64
    gives w = 0, as does t ≥ f + 2 after rounding); |w − w_exact| ≤ w·(ln 2·t·ε_L + 2.1·2^−P) + ½ ulp with
    ε_L < 6·2^−P, P = :func:`weight_precision` (30 for Q3.44, 16 for Q2.20).

    ``candidates=2`` (on-chip force loosening: the two β candidates of a sweep): the input also has
    ``half_beta2`` and ``o`` is an array of two weights, ``o[0]`` for ``half_beta`` and ``o[1]`` for
    ``half_beta2``. The two share everything up to L = log2(1 + ρ) (X, ρ, the log table, L); each has its own
    t product and exp2 table. Same latency, and each weight is bit for bit the one-candidate unit's
    (:meth:`compute` with that β/2). ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, parameters: RepulsionWeightParameters):
        self.parameters = check_parameters(parameters, RepulsionWeightParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    # ---- the gateware -------------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        s = SimpleNamespace(when=0)
        self._difference(m, s)
        self._rho(m, s)
        self._branch(m, s)
        self._logarithm(m, s)
        self._weights(m, s)
        return m

    def _difference(self, m: Module, s: SimpleNamespace) -> None:
        """X = d² − δ (clamped at 0), the degenerate cases (w = 1, w = 0) and X normalised."""
        par = self.parameters
        pb, width = par.precision, par.d2_fmt.width
        pay = self.i.payload
        when = s.when
        x = Signal(width)
        one_in, zero_in = Signal(), Signal()
        m.d.sync += [
            x.eq(Mux(pay.d2 > pay.delta, pay.d2 - pay.delta, 0)),
            one_in.eq((pay.d2 == 0) | ((pay.delta != 0) & (pay.d2 <= pay.delta))),
            zero_in.eq((pay.d2 != 0) & (pay.delta == 0)),
        ]
        when += 1
        px, frac, _ = norm.normalise(m, x, width, "xnorm")
        when += norm.LATENCY
        m_x = Signal(pb + 1)
        m.d.comb += m_x.eq((1 << pb) | (frac >> (width - 1 - pb)))
        s.when = when
        keep_locals(s, locals(), "one_in zero_in px m_x")

    def _rho(self, m: Module, s: SimpleNamespace) -> None:
        """ρ = X/δ: the product of the mantissas and its normalisation."""
        par = self.parameters
        pb, width = par.precision, par.d2_fmt.width
        pay = self.i.payload
        px, m_x = s.px, s.m_x
        when = s.when
        m.submodules.rho = rho = LimbProduct(unsigned(pb + 1), unsigned(pb + 1), 1 << (pb - 1), par.dsp)
        m.d.comb += [rho.a.eq(m_x), rho.b.eq(delay(m, pay.recip.mant, when, "rmant"))]
        when += LimbProduct.LATENCY
        e_shape = signed(max(width, 64).bit_length() + 2)
        m_rho, e_rho = Signal(pb + 1), Signal(e_shape)
        top = rho.p[2 * pb + 1]
        m.d.sync += [
            m_rho.eq(Mux(top, rho.p >> (pb + 1), rho.p >> pb)),
            e_rho.eq(delay(m, px, LimbProduct.LATENCY, "px") - delay(m, pay.recip.exp, when, "rexp") - 1 + top),
        ]
        when += 1
        s.when = when
        keep_locals(s, locals(), "e_shape m_rho e_rho")

    def _branch(self, m: Module, s: SimpleNamespace) -> None:
        """The branch: z (the table's argument) and A (the multiplicand of g)."""
        par = self.parameters
        pb = par.precision
        e_shape, m_rho, e_rho = s.e_shape, s.m_rho, s.e_rho
        when = s.when
        small, z_small, y_big, m_rho2, e_rho2 = (Signal(), Signal(pb), Signal(pb + 2), Signal(pb + 1), Signal(e_shape))
        neg = Signal(e_shape.width)
        pos = Signal(e_shape.width)
        m.d.comb += [neg.eq(Mux(e_rho < 0, -e_rho, 0)), pos.eq(Mux(e_rho < 0, 0, e_rho))]
        m.d.sync += [
            small.eq(e_rho < 0),
            z_small.eq(m_rho >> neg),
            y_big.eq(m_rho + Mux(pos > pb, 0, Const(1 << pb, pb + 1) >> pos)),
            m_rho2.eq(m_rho),
            e_rho2.eq(pos),
        ]
        when += 1
        z, a, ey, small2 = Signal(pb), Signal(pb + 1), Signal(e_shape.width), Signal()
        carry = y_big[pb + 1]
        m.d.sync += [
            z.eq(Mux(small, z_small, Mux(carry, y_big >> 1, y_big)[:pb])),
            a.eq(Mux(small, m_rho2, Mux(carry, y_big >> 1, y_big)[:pb])),
            ey.eq(e_rho2 + carry),
            small2.eq(small),
        ]
        when += 1
        e_rho_keep = delay(m, e_rho, 2, "erho")  # e_rho at the branch's output
        assert when == par._LATENCY_BEFORE_TABLES
        s.when = when
        keep_locals(s, locals(), "z a ey small2 e_rho_keep")

    def _logarithm(self, m: Module, s: SimpleNamespace) -> None:
        """g(z) from the table, and L = A·g normalised (mantissa ml, exponent el)."""
        par = self.parameters
        pb = par.precision
        e_shape, z, a, ey, small2, e_rho_keep = s.e_shape, s.z, s.a, s.ey, s.small2, s.e_rho_keep
        when = s.when
        m.submodules.log = log = par.log_table.create(dsp=par.dsp, reads="together")
        m.d.comb += log.z.eq(z)
        when += log.latency
        g = Signal(pb + 1)
        m.d.sync += g.eq((log.y + 2) >> 2)
        when += 1
        lat_g = log.latency + 1
        m.submodules.lmul = lmul = LimbProduct(unsigned(pb + 1), unsigned(pb + 1), 1 << (pb - 1), par.dsp)
        m.d.comb += [lmul.a.eq(delay(m, a, lat_g, "a")), lmul.b.eq(g)]
        when += LimbProduct.LATENCY
        lat_p2 = lat_g + LimbProduct.LATENCY
        small_p2 = delay(m, small2, lat_p2, "small")
        top2 = lmul.p[2 * pb + 1]
        ml_s, el_s, l_fix, small3 = Signal(pb + 1), Signal(e_shape), Signal(pb + 7), Signal()
        m.d.sync += [
            ml_s.eq(Mux(top2, lmul.p >> (pb + 1), lmul.p >> pb)),
            el_s.eq(delay(m, e_rho_keep, lat_p2, "erho_p") + top2),
            l_fix.eq((delay(m, ey, lat_p2, "ey") << pb) + (lmul.p >> pb)),
            small3.eq(small_p2),
        ]
        when += 1
        el_b = Signal(range(8))
        for bit in range(6):  # leading one of l_fix ∈ [2^P, 2^(P+6))
            with m.If(l_fix[pb + bit]):
                m.d.comb += el_b.eq(bit)
        ml, el = Signal(pb + 1), Signal(e_shape, name="el")  # the name the tracer gave it: the RTLIL stays as it was
        m.d.sync += [ml.eq(Mux(small3, ml_s, l_fix >> el_b)), el.eq(Mux(small3, el_s, el_b))]
        when += 1
        s.when = when
        keep_locals(s, locals(), "ml el")

    def _weights(self, m: Module, s: SimpleNamespace) -> None:
        """Per candidate (they share everything above): t = (β/2)·L, rounded half up, saturated; w = 2^−n · 2^−φ;
        the degenerate cases; the output register and valid."""
        par = self.parameters
        f = par.d2_fmt.f
        pay = self.i.payload
        ml, el, one_in, zero_in = s.ml, s.el, s.one_in, s.zero_in
        when = s.when
        half_betas = [pay.half_beta] + ([pay.half_beta2] if par.candidates == 2 else [])
        before_out = when + LimbProduct.LATENCY + 2 + par.exp_table.latency + 1
        ws = [self._exp_part(m, hb, ml, el, when, "" if c == 0 else str(c + 1)) for c, hb in enumerate(half_betas)]
        one = 1 << f
        one_late, zero_late = delay(m, one_in, before_out - 1, "one"), delay(m, zero_in, before_out - 1, "zero")
        for c, w_c in enumerate(ws):
            target = self.o.payload if par.candidates == 1 else self.o.payload[c]
            m.d.sync += target.eq(Mux(one_late, one, Mux(zero_late, 0, w_c)))
        when = before_out + 1
        assert when == self.latency, (when, self.latency)
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        s.when = when

    def _exp_part(self, m, half_beta, ml, el, when, sfx):
        """t = (β/2)·L and 2^−t for one candidate, from L = (ml, el) valid at ``when``; returns w (clamped,
        combinational) one cycle before the output register."""
        par = self.parameters
        f = par.d2_fmt.f
        tmul = LimbProduct(par.hb_fmt.shape(), unsigned(par.precision + 1), dsp=par.dsp)
        m.submodules["tmul" + sfx] = tmul
        m.d.comb += [tmul.a.eq(delay(m, half_beta, when, "hb" + sfx)), tmul.b.eq(ml)]
        shift = Signal(el.shape().width, name="shift" + sfx)
        m.d.comb += shift.eq(par._halves_shift - delay(m, el, LimbProduct.LATENCY, "el" + sfx))
        halves = Signal(tmul.p.shape(), name="halves" + sfx)
        m.d.sync += halves.eq(tmul.p >> shift)
        t = Signal(par.t_fmt.shape(), name="t" + sfx)
        rounded = (halves + 1) >> 1
        m.d.sync += t.eq(Mux(rounded > par.t_fmt.max_raw, par.t_fmt.max_raw, rounded))
        exp = par.exp_table.create(dsp=par.dsp, reads="together")
        m.submodules["exp" + sfx] = exp
        m.d.comb += exp.z.eq(t[: par.t_fmt.f])
        n = delay(m, t[par.t_fmt.f :], exp.latency, "n" + sfx)
        halves_w = Signal(f + 3, name="halves_w" + sfx)
        m.d.sync += halves_w.eq((exp.y << (f + 1 - par.exp_table.frac)) >> n)
        w = (halves_w + 1) >> 1
        w_clamped = Signal(par.w_fmt.shape(), name="w_clamped" + sfx)
        m.d.comb += w_clamped.eq(Mux(w > (1 << f), 1 << f, w))
        return w_clamped


def _floor_product_shift(a: np.ndarray, b: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """⌊a·b / 2^shift⌋ exactly for 0 ≤ a < 2^34, 0 ≤ b < 2^31 and a per-element shift ≥ 0, as long as the
    shift is ≥ 10: b in two 17-bit limbs, as the gateware's product."""
    a, b, shift = (np.asarray(v, dtype=np.int64) for v in (a, b, shift))
    hi, lo = a * (b >> 17), a * (b & ((1 << 17) - 1))  # < 2^48, < 2^51
    long_shift = (hi + (lo >> 17)) >> np.minimum(np.maximum(shift - 17, 0), 63)
    up = np.maximum(17 - shift, 0)
    short_shift = (hi << up) + (lo >> np.minimum(shift, 63))
    return np.where(shift >= 17, long_shift, short_shift)
