"""Leading-one detection and normalisation: the front end shared by :mod:`.log2` and :mod:`.rsqrt`.

For an unsigned W-bit ``x > 0`` with leading one at bit ``pos``, the mantissa fraction is the W − 1 bits
below that one, left-aligned: ``x = 2^pos · (1 + frac / 2^(W−1))``. Two register stages: the priority
encoder, then the barrel shift.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal

__all__ = ["normalise", "LATENCY", "segment"]

LATENCY = 2


def normalise(m: Module, x, width: int, name: str = "norm"):
    """Add the two stages to ``m``; returns (``pos``, ``frac``, ``zero``), valid 2 cycles after ``x``."""
    pos_c = Signal(range(width), name=f"{name}_pos_c")
    for bit in range(width):  # the highest set bit wins: it is assigned last
        with m.If(x[bit]):
            m.d.comb += pos_c.eq(bit)
    pos1, x1, zero1 = Signal.like(pos_c, name=f"{name}_pos1"), Signal(width, name=f"{name}_x1"), Signal(name=f"{name}_z1")
    m.d.sync += [pos1.eq(pos_c), x1.eq(x), zero1.eq(x == 0)]
    pos2, frac2, zero2 = Signal.like(pos1, name=f"{name}_pos2"), Signal(width - 1, name=f"{name}_frac"), Signal(name=f"{name}_z2")
    shift = Signal(range(width), name=f"{name}_shift")
    m.d.comb += shift.eq(width - 1 - pos1)
    m.d.sync += [pos2.eq(pos1), frac2.eq((x1 << shift)[: width - 1]), zero2.eq(zero1)]
    return pos2, frac2, zero2


def segment(frac, frac_bits: int, index_bits: int, u_frac: int):
    """Split a fraction of ``frac_bits`` bits into a segment index (top ``index_bits``) and the local
    offset u ∈ [−½, ½) from the segment's midpoint with ``u_frac`` fraction bits (exact when
    ``u_frac ≥ frac_bits − index_bits``, otherwise truncated). Works on Amaranth values."""
    low_bits = frac_bits - index_bits
    k = frac[low_bits:frac_bits]
    centred = (frac[:low_bits] - (1 << (low_bits - 1))).as_signed()  # low_bits + 1 bits: exact
    shift = u_frac - low_bits
    return k, (centred << shift) if shift >= 0 else (centred >> -shift)
