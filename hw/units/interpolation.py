"""Quadratic interpolation from a block-RAM table with narrow products: the core of the weight unit's
log2(1 + ρ) and 2^−φ (docs/arithmetic.md, "The repulsion weight").

A function g on [0, 1) is cut into 2^k segments of width h = 2^−k. Its argument z arrives as a raw
integer with ``arg_frac`` = Z fraction bits; the top k bits pick the segment, the low U = Z − k bits give
the offset from the segment's midpoint, u ∈ [−½, ½) in segment widths (exact, U fraction bits). On each
segment g is replaced by its Taylor polynomial about the midpoint, c0 + c1·u + c2·u² with
c_n = g⁽ⁿ⁾(mid)·hⁿ/n!, rounded to ``frac`` = F fraction bits, and evaluated as

    v = c1 + floor(u_s · c2 / 2^(U − s))      u_s = floor(u / 2^s), the top 17 bits of u (one DSP block)
    y = c0 + floor(u · v / 2^U)

all in exact integers. Error: the Taylor remainder bound B = max|g'''|·(h/2)³/6 plus at most 3 ulp of F
(coefficient rounding ½ + ¼ + ⅛, the two floors ½ + 1, the shortened u in c2·u ≤ ½ ulp); the segment
count is the smallest (k ≤ :data:`MAX_INDEX_BITS`) that makes B ≤ the requested error.

:class:`QuadraticTable` holds the coefficients and evaluates them bit-exactly on NumPy arrays
(:meth:`QuadraticTable.compute`); :class:`QuadraticInterpolator` is its gateware, built from the same table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .multiplier import LIMB, LimbProduct, check_dsp
from ..pipeline import delay

__all__ = ["QuadraticTable", "QuadraticInterpolator", "MAX_INDEX_BITS", "gauss_derivative"]

#: At most 2^10 segments: one coefficient column of ≤ 18 bits fills one DP16KD (1024 × 18).
MAX_INDEX_BITS = 10


def gauss_derivative(kernel: Callable[[np.ndarray, float, int], np.ndarray], nodes: int = 40):
    """n-th derivative of ∫₀¹ kernel(t, x, n) dt by Gauss–Legendre quadrature on ``nodes`` points (IEEE
    double, deterministic): for ln(1 + x)/x = ∫₀¹ dt/(1 + xt), whose derivatives have no closed form
    free of cancellation near x = 0."""
    s, wts = np.polynomial.legendre.leggauss(nodes)
    t, wts = (s + 1) / 2, wts / 2

    def derivative(x: float, n: int) -> float:
        return float(np.dot(wts, kernel(t, x, n)))

    return derivative


@dataclass(frozen=True)
class QuadraticTable:
    """Coefficients (raw, ``frac`` fraction bits) of the 2^``index_bits`` segments of a function on [0, 1),
    for an argument with ``arg_frac`` fraction bits. Build it with :meth:`build`."""

    name: str
    arg_frac: int
    index_bits: int
    frac: int
    c0: tuple[int, ...]
    c1: tuple[int, ...]
    c2: tuple[int, ...]
    error_bound: float  #: the Taylor remainder bound B, before the ≤ 3 ulp of rounding

    @classmethod
    def build(
        cls, name: str, derivative: Callable[[float, int], float], arg_frac: int, frac: int, error: float
    ) -> QuadraticTable:
        """The table of the function whose n-th derivative at x is ``derivative(x, n)`` (n = 0: the value),
        with the fewest segments whose remainder bound is ≤ ``error``; |g'''| must be monotone on [0, 1)."""
        if not isinstance(arg_frac, int) or arg_frac < 2:
            raise ValueError(f"arg_frac must be an integer ≥ 2, not {arg_frac!r}")
        if not isinstance(frac, int) or not 1 <= frac <= 40:
            raise ValueError(f"frac must be an integer in 1..40, not {frac!r}")
        if not error > 0:
            raise ValueError(f"error must be positive, not {error!r}")
        for k in range(1, min(MAX_INDEX_BITS, arg_frac - 1) + 1):
            h = 2.0**-k
            bound = max(max(abs(derivative(s * h, 3)), abs(derivative((s + 1) * h, 3))) for s in range(2**k))
            bound *= (h / 2) ** 3 / 6
            if bound <= error:
                break
        else:
            raise ValueError(f"{name}: no table of ≤ 2^{MAX_INDEX_BITS} quadratic segments reaches error {error!r}")
        mids = [(s + 0.5) * h for s in range(2**k)]
        coeffs = [
            tuple(math.floor(derivative(x, n) * h**n / math.factorial(n) * 2.0**frac + 0.5) for x in mids)
            for n in range(3)
        ]
        return cls(name, arg_frac, k, frac, *coeffs, bound)

    @property
    def segments(self) -> int:
        return 1 << self.index_bits

    @property
    def offset_bits(self) -> int:
        """U: fraction bits of the offset u."""
        return self.arg_frac - self.index_bits

    @property
    def short_shift(self) -> int:
        """s: u_s = u >> s keeps 17 bits (sign included), one limb of a DSP block."""
        return max(0, self.offset_bits + 1 - LIMB)

    def width(self, n: int) -> int:
        """Bits of coefficient column n as a signed value."""
        col = (self.c0, self.c1, self.c2)[n]
        return max(max(abs(c) for c in col).bit_length() + 1, 2)

    @property
    def out_width(self) -> int:
        """Bits of the signed result y (|y| < 2^(out_width − 1))."""
        return self.width(0) + 1

    def compute(self, z) -> np.ndarray:
        """y ≈ g(z / 2^arg_frac) · 2^frac for raw arguments 0 ≤ z < 2^arg_frac (int64 array, exact)."""
        z = np.asarray(z, dtype=np.int64)
        u_bits, s = self.offset_bits, self.short_shift
        k = z >> u_bits
        u = (z & ((1 << u_bits) - 1)) - (1 << (u_bits - 1))
        c0, c1, c2 = (np.asarray(c, dtype=np.int64)[k] for c in (self.c0, self.c1, self.c2))
        v = c1 + (((u >> s) * c2) >> (u_bits - s))
        return c0 + ((u * v) >> u_bits)


class QuadraticInterpolator(wiring.Component):
    """Gateware of a :class:`QuadraticTable`: ``y = table.compute(z)``, :attr:`latency` = 12 cycles later.

    Ports: ``z`` (unsigned, ``arg_frac`` bits) in; ``y`` (signed, ``table.out_width`` bits) out. II = 1, no
    valid (the enclosing unit carries it). Products: u_s · c2 (17 × ``width(2)`` bits) and u · v
    ((U + 1) × ``width(1) + 1`` bits), each a :class:`~.multiplier.LimbProduct`; the three coefficient
    columns are block RAMs whose outputs are registered before any logic.
    ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    LATENCY = 2 + LimbProduct.LATENCY + 1 + LimbProduct.LATENCY + 1

    def __init__(self, table: QuadraticTable, dsp: str = "infer"):
        self.table, self.dsp = table, check_dsp(dsp)
        self.latency = self.LATENCY
        super().__init__({"z": In(unsigned(table.arg_frac)), "y": Out(signed(table.out_width))})

    def elaborate(self, platform):
        m = Module()
        t = self.table
        u_bits, s = t.offset_bits, t.short_shift
        k = self.z[u_bits:]
        u = Signal(signed(u_bits + 1))
        m.d.comb += u.eq(self.z[:u_bits] - (1 << (u_bits - 1)))

        def column(n: int, col):
            mem = memory.Memory(shape=signed(t.width(n)), depth=t.segments, init=col)
            m.submodules[f"c{n}"] = mem
            port = mem.read_port(transparent_for=())
            m.d.comb += port.addr.eq(k)
            return delay(m, port.data, 1, f"c{n}")  # registered: t = 2

        c0, c1, c2 = column(0, t.c0), column(1, t.c1), column(2, t.c2)
        u2 = delay(m, u, 2, "u")
        m.submodules.inner = inner = LimbProduct(signed(u_bits + 1 - s), c2.shape(), dsp=self.dsp)
        m.d.comb += [inner.a.eq(u2 >> s), inner.b.eq(c2)]
        when = 2 + LimbProduct.LATENCY
        v = Signal(signed(t.width(1) + 1))
        m.d.sync += v.eq(delay(m, c1, LimbProduct.LATENCY, "c1") + (inner.p >> (u_bits - s)))
        when += 1
        m.submodules.outer = outer = LimbProduct(u.shape(), v.shape(), dsp=self.dsp)
        m.d.comb += [outer.a.eq(delay(m, u2, when - 2, "u_outer")), outer.b.eq(v)]
        when += LimbProduct.LATENCY
        y = Signal(signed(t.out_width))
        m.d.sync += y.eq(delay(m, c0, when - 2, "c0") + (outer.p >> u_bits))
        when += 1
        assert when == self.LATENCY
        m.d.comb += self.y.eq(y)
        return m
