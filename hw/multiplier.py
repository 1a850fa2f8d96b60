"""Pipelined exact products and the rounding multiplier.

ECP5's MULT18X18D multiplies 18 × 18 signed bits. A wide product is split into limbs of at most 17 bits
(unsigned, except a signed top limb of a signed operand), so each limb product fits one DSP; every limb
product is registered, then two registered adder stages sum them. Unregistered, a 47 × 47 product ran at
66–70 MHz post-route on an LFE5U-85F-6; split like this it reached 132 MHz.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .fixed import Q, mul_shift, round_shift, rounding_bias, saturate

__all__ = ["LIMB", "LimbProduct", "Multiplier"]

#: Limb width: 17 unsigned bits (or a signed top limb) fit the 18 × 18 signed DSP multiplier.
LIMB = 17


def _limbs(value, width: int, is_signed: bool):
    parts = []
    for pos in range(0, width, LIMB):
        stop = min(width, pos + LIMB)
        part = value[pos:stop]
        parts.append((part.as_signed() if is_signed and stop == width else part, pos))
    return parts


class LimbProduct(wiring.Component):
    """``p = a · b + bias`` exactly, three cycles after ``a`` and ``b`` are presented (II = 1, no valid).

    Ports: ``a`` (``a_shape``), ``b`` (``b_shape``) in; ``p`` out, signed (or unsigned if both operands
    are) and wide enough for any product. Latency :attr:`LATENCY` = 4: limbs registered, limb products,
    row sums, total.
    ``bias`` (a constant, e.g. the rounding half-ulp of a following shift) rides in a row sum for free.
    """

    LATENCY = 4

    def __init__(self, a_shape, b_shape, bias: int = 0):
        self._a_shape, self._b_shape, self._bias = a_shape, b_shape, bias
        both_unsigned = not (a_shape.signed or b_shape.signed)
        width = a_shape.width + b_shape.width
        super().__init__({
            "a": In(a_shape),
            "b": In(b_shape),
            "p": Out(unsigned(width) if both_unsigned else signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        a_limbs = _limbs(self.a, self._a_shape.width, self._a_shape.signed)
        b_limbs = _limbs(self.b, self._b_shape.width, self._b_shape.signed)
        rows = []
        for ai, (a_part, a_pos) in enumerate(a_limbs):
            terms = []
            for bi, (b_part, b_pos) in enumerate(b_limbs):
                # Limbs registered before the DSPs: long routes to them were the critical paths.
                a_reg = Signal(a_part.shape(), name=f"a_{ai}_{bi}")
                b_reg = Signal(b_part.shape(), name=f"b_{ai}_{bi}")
                m.d.sync += [a_reg.eq(a_part), b_reg.eq(b_part)]
                pp = Signal((a_part * b_part).shape(), name=f"pp_{ai}_{bi}")
                m.d.sync += pp.eq(a_reg * b_reg)
                terms.append(pp << (a_pos + b_pos))
            row = Signal(self.p.shape(), name=f"row_{ai}")
            m.d.sync += row.eq(sum(terms) + (self._bias if ai == 0 else 0))
            rows.append(row)
        m.d.sync += self.p.eq(sum(rows))
        return m


class Multiplier(wiring.Component):
    """``o = saturate(round_shift(a · b, a.f + b.f − o.f, rounding), o_fmt)``; with ``square``, ``o = a²``.

    Ports: ``i`` — stream of ``{a, b}`` (or ``{a}`` for a square) raw values in ``a_fmt``/``b_fmt``; ``o``
    — stream of raw ``o_fmt`` values. One result per clock, :attr:`latency` = 6 cycles (input register,
    :class:`LimbProduct`, round and saturate). No backpressure: both streams are always ready.
    :meth:`compute` is the bit-exact model.
    """

    latency = 1 + LimbProduct.LATENCY + 1

    def __init__(self, a_fmt: Q, b_fmt: Q | None = None, o_fmt: Q | None = None, rounding: str = "nearest",
                 square: bool = False):
        self.a_fmt = a_fmt
        self.b_fmt = a_fmt if square or b_fmt is None else b_fmt
        self.o_fmt = o_fmt or a_fmt
        self.rounding = rounding
        self.square = square
        fields = {"a": a_fmt.shape()} if square else {"a": a_fmt.shape(), "b": self.b_fmt.shape()}
        super().__init__({
            "i": In(stream.Signature(data.StructLayout(fields), always_ready=True)),
            "o": Out(stream.Signature(self.o_fmt.shape(), always_ready=True)),
        })

    @property
    def shift(self) -> int:
        return self.a_fmt.f + self.b_fmt.f - self.o_fmt.f

    def compute(self, a, b=None) -> np.ndarray:
        """Bit-exact model: ``o`` for int64 arrays of raw ``a`` and ``b`` (broadcast together; ``b`` is
        ignored for a square)."""
        a = np.asarray(a, dtype=np.int64)
        b = a if self.square or b is None else np.asarray(b, dtype=np.int64)
        return saturate(mul_shift(a, b, self.shift, self.rounding, self.a_fmt.width + self.b_fmt.width), self.o_fmt)

    def elaborate(self, platform):
        m = Module()
        a = Signal(self.a_fmt.shape())
        b = Signal(self.b_fmt.shape())
        m.d.sync += [a.eq(self.i.payload.a), b.eq(self.i.payload.a if self.square else self.i.payload.b)]
        m.submodules.product = product = LimbProduct(self.a_fmt.shape(), self.b_fmt.shape(), rounding_bias(self.shift, self.rounding))
        m.d.comb += [product.a.eq(a), product.b.eq(b)]
        m.d.sync += self.o.payload.eq(saturate(round_shift(product.p, self.shift, "trunc"), self.o_fmt))
        valid = Signal(self.latency)
        m.d.sync += valid.eq((valid << 1) | self.i.valid)
        m.d.comb += self.o.valid.eq(valid[-1])
        return m
