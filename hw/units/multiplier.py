"""Pipelined exact products and the rounding multiplier.

ECP5's MULT18X18D multiplies 18 × 18 signed bits. A wide product is split into limbs of at most 17 bits
(unsigned, except a signed top limb of a signed operand), so each limb product fits one DSP; every limb
product is registered, then two registered adder stages sum them. Unregistered, a 47 × 47 product ran at
66–70 MHz post-route on an LFE5U-85F-6; split like this it reached 132 MHz.

The DSP layer (``dsp``) says how the limb products are built:

- ``"infer"``: as ``*`` products, which yosys maps to MULT18X18D blocks on ECP5 (or to LUTs).
- ``"gw5a"``: yosys infers no DSP block for Gowin GW5A, so each limb product is a hand-instantiated
  ``MULTALU27X18`` (27 × 18 signed, 48-bit result; yosys' Gowin cell library, ``cells_xtra_gw5a.v``):
  limbs of 26 unsigned bits (or a signed top limb) on its A side, 17 on its B side, so a 47 × 47 product
  takes 2 × 3 = 6 blocks (:func:`dsp_blocks`). The block registers its operands (AREG, BREG: the limb
  registers, next to the multiplier) and its product (PREG), so the latency is the same as inferred. (Not
  the output register, OREG: Apycula 0.32, the packer the nextpnr-himbaechel-gowin wheel pins, does not
  set it on the GW5AST-138C, while it does set AREG, BREG and PREG.) A
  limb product whose narrower limb has fewer than :data:`GW5A_LUT_BELOW` bits stays a ``*`` product, which
  yosys builds from LUTs. Under Verilator the instances run against ``sim/gowin_dsp.v``, a model of the
  block in the configuration used here.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q, mul_shift, round_shift, rounding_bias, saturate
from ..pipeline import check_parameters

__all__ = [
    "LIMB",
    "DSP_KINDS",
    "GW5A_LIMBS",
    "GW5A_LUT_BELOW",
    "check_dsp",
    "dsp_blocks",
    "LimbProduct",
    "MultiplierParameters",
    "Multiplier",
]

#: Limb width: 17 unsigned bits (or a signed top limb) fit the 18 × 18 signed DSP multiplier.
LIMB = 17
#: The DSP layers a product can be built for (the module docstring).
DSP_KINDS = ("infer", "gw5a")
#: GW5A limb widths on the MULTALU27X18's A (27-bit signed) and B (18-bit signed) sides.
GW5A_LIMBS = (26, 17)
#: GW5A: a limb product whose narrower limb has fewer bits than this is built from LUTs, not a block.
GW5A_LUT_BELOW = 8
#: The MULTALU27X18's A, B and DOUT widths.
_A_BITS, _B_BITS, _DOUT_BITS = 27, 18, 48


def check_dsp(dsp) -> str:
    """``dsp`` if it names a DSP layer (:data:`DSP_KINDS`); else ``ValueError``."""
    if not isinstance(dsp, str) or dsp not in DSP_KINDS:
        raise ValueError(f"dsp must be 'infer' or 'gw5a', not {dsp!r}")
    return dsp


def _widths(width: int, limb: int) -> list[int]:
    """Limb widths of a ``width``-bit operand split into ``limb``-bit limbs, least significant first."""
    return [min(limb, width - pos) for pos in range(0, width, limb)]


def _limbs(value, width: int, is_signed: bool, limb: int = LIMB):
    parts = []
    for pos in range(0, width, limb):
        stop = min(width, pos + limb)
        part = value[pos:stop]
        parts.append((part.as_signed() if is_signed and stop == width else part, pos))
    return parts


def _gw5a_swapped(a_width: int, b_width: int) -> bool:
    """Whether ``b`` goes on the blocks' 27-bit side: when that takes fewer blocks (ties: ``a`` does)."""
    return _gw5a_blocks(b_width, a_width) < _gw5a_blocks(a_width, b_width)


def _gw5a_blocks(a_width: int, b_width: int) -> int:
    a_limb, b_limb = GW5A_LIMBS
    return sum(min(wa, wb) >= GW5A_LUT_BELOW for wa in _widths(a_width, a_limb) for wb in _widths(b_width, b_limb))


def dsp_blocks(a_shape, b_shape, dsp: str) -> int:
    """DSP blocks a :class:`LimbProduct` of these operand shapes instantiates: MULTALU27X18 for
    ``"gw5a"``; 0 for ``"infer"`` (yosys decides)."""
    if check_dsp(dsp) == "infer":
        return 0
    wa, wb = a_shape.width, b_shape.width
    return _gw5a_blocks(*((wb, wa) if _gw5a_swapped(wa, wb) else (wa, wb)))


class LimbProduct(wiring.Component):
    """``p = a · b + bias`` exactly, three cycles after ``a`` and ``b`` are presented (II = 1, no valid).

    Ports: ``a`` (``a_shape``), ``b`` (``b_shape``) in; ``p`` out, signed (or unsigned if both operands
    are) and wide enough for any product. Latency :attr:`LATENCY` = 4: limbs registered, limb products,
    row sums, total.
    ``bias`` (a constant, e.g. the rounding half-ulp of a following shift) rides in a row sum for free.
    ``dsp``: the DSP layer, ``"infer"`` or ``"gw5a"`` (the module docstring); the same latency and result
    either way.
    """

    LATENCY = 4

    def __init__(self, a_shape, b_shape, bias: int = 0, dsp: str = "infer"):
        self._a_shape, self._b_shape, self._bias = a_shape, b_shape, bias
        self.dsp = check_dsp(dsp)
        both_unsigned = not (a_shape.signed or b_shape.signed)
        width = a_shape.width + b_shape.width
        super().__init__(
            {
                "a": In(a_shape),
                "b": In(b_shape),
                "p": Out(unsigned(width) if both_unsigned else signed(width)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        a, a_shape, b, b_shape = self.a, self._a_shape, self.b, self._b_shape
        a_limb, b_limb = LIMB, LIMB
        if self.dsp == "gw5a":
            if _gw5a_swapped(a_shape.width, b_shape.width):
                a, a_shape, b, b_shape = b, b_shape, a, a_shape
            a_limb, b_limb = GW5A_LIMBS
        a_limbs = _limbs(a, a_shape.width, a_shape.signed, a_limb)
        b_limbs = _limbs(b, b_shape.width, b_shape.signed, b_limb)
        rows = []
        for ai, (a_part, a_pos) in enumerate(a_limbs):
            terms = []
            for bi, (b_part, b_pos) in enumerate(b_limbs):
                if self.dsp == "gw5a" and min(len(a_part), len(b_part)) >= GW5A_LUT_BELOW:
                    pp = _multalu27x18(m, a_part, b_part, f"{ai}_{bi}")
                else:
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


def _multalu27x18(m: Module, a_part, b_part, suffix: str):
    """One MULTALU27X18 computing ``a_part · b_part`` (at most 27 and 18 bits as signed values), its
    operands and product registered in the block (AREG, BREG, PREG on CLK0, CE0 high, synchronous RESET0
    from the domain's reset; the ALU adds nothing): the product appears two cycles after the operands, as
    with the inferred path's limb and product registers. Returns it in ``a_part * b_part``'s shape."""
    shape = (a_part * b_part).shape()
    a_in = Signal(signed(_A_BITS), name=f"dsp_a_{suffix}")
    b_in = Signal(signed(_B_BITS), name=f"dsp_b_{suffix}")
    dout = Signal(_DOUT_BITS, name=f"dsp_p_{suffix}")
    m.d.comb += [a_in.eq(a_part), b_in.eq(b_part)]  # sign- or zero-extended by the limb's signedness
    zero = Const(0, 1)
    m.submodules[f"dsp_{suffix}"] = Instance(
        "MULTALU27X18",
        p_AREG_CLK="CLK0",
        p_BREG_CLK="CLK0",
        p_PREG_CLK="CLK0",
        p_OREG_CLK="BYPASS",
        p_MULT_RESET_MODE="SYNC",
        p_A_SEL=zero,
        p_P_SEL=zero,
        p_C_SEL=zero,
        p_CASI_SEL=zero,
        p_ACC_SEL=zero,
        i_A=a_in,
        i_B=b_in,
        i_C=Const(0, 48),
        i_D=Const(0, 26),
        i_SIA=Const(0, _A_BITS),
        i_CASI=Const(0, 48),
        i_ACCSEL=zero,
        i_PSEL=zero,
        i_ASEL=zero,
        i_PADDSUB=zero,
        i_CSEL=zero,
        i_CASISEL=zero,
        i_ADDSUB=Const(0, 2),
        i_CLK=Cat(ClockSignal(), zero),
        i_CE=Cat(Const(1, 1), zero),
        i_RESET=Cat(ResetSignal(), zero),
        o_DOUT=dout,
    )
    pp = Signal(shape, name=f"pp_{suffix}")
    m.d.comb += pp.eq(dout[: shape.width])  # the exact product fits its shape: the rest is its extension
    return pp


class MultiplierParameters:
    """The parameters of a :class:`Multiplier`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`Multiplier`)."""

    latency = 1 + LimbProduct.LATENCY + 1

    def __init__(
        self,
        a_fmt: Q,
        b_fmt: Q | None = None,
        o_fmt: Q | None = None,
        rounding: str = "nearest",
        square: bool = False,
        dsp: str = "infer",
    ):
        self.dsp = check_dsp(dsp)
        self.a_fmt = a_fmt
        self.b_fmt = a_fmt if square or b_fmt is None else b_fmt
        self.o_fmt = o_fmt or a_fmt
        self.rounding = rounding
        self.square = square
        fields = {"a": a_fmt.shape()} if square else {"a": a_fmt.shape(), "b": self.b_fmt.shape()}
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(data.StructLayout(fields), always_ready=True)),
                "o": Out(stream.Signature(self.o_fmt.shape(), always_ready=True)),
            }
        )

    @property
    def shift(self) -> int:
        return self.a_fmt.f + self.b_fmt.f - self.o_fmt.f

    def compute(self, a, b=None) -> np.ndarray:
        """Bit-exact model: ``o`` for int64 arrays of raw ``a`` and ``b`` (broadcast together; ``b`` is
        ignored for a square)."""
        a = np.asarray(a, dtype=np.int64)
        b = a if self.square or b is None else np.asarray(b, dtype=np.int64)
        return saturate(mul_shift(a, b, self.shift, self.rounding, self.a_fmt.width + self.b_fmt.width), self.o_fmt)

    def create(self) -> Multiplier:
        """A new :class:`Multiplier` with these parameters."""
        return Multiplier(self)


class Multiplier(wiring.Component):
    """``o = saturate(round_shift(a · b, a.f + b.f − o.f, rounding), o_fmt)``; with ``square``, ``o = a²``.

    Ports: ``i`` — stream of ``{a, b}`` (or ``{a}`` for a square) raw values in ``a_fmt``/``b_fmt``; ``o``
    — stream of raw ``o_fmt`` values. One result per clock, :attr:`latency` = 6 cycles (input register,
    :class:`LimbProduct`, round and saturate). No backpressure: both streams are always ready.
    :meth:`MultiplierParameters.compute` is the bit-exact model. ``dsp``: the product's DSP layer
    (:class:`LimbProduct`).
    """

    latency = MultiplierParameters.latency

    def __init__(self, parameters: MultiplierParameters):
        self.parameters = check_parameters(parameters, MultiplierParameters)
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        a = Signal(par.a_fmt.shape())
        b = Signal(par.b_fmt.shape())
        m.d.sync += [a.eq(self.i.payload.a), b.eq(self.i.payload.a if par.square else self.i.payload.b)]
        m.submodules.product = product = LimbProduct(
            par.a_fmt.shape(), par.b_fmt.shape(), rounding_bias(par.shift, par.rounding), par.dsp
        )
        m.d.comb += [product.a.eq(a), product.b.eq(b)]
        m.d.sync += self.o.payload.eq(saturate(round_shift(product.p, par.shift, "trunc"), par.o_fmt))
        valid = Signal(self.latency)
        m.d.sync += valid.eq((valid << 1) | self.i.valid)
        m.d.comb += self.o.valid.eq(valid[-1])
        return m
