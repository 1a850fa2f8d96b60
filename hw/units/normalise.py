"""Leading-one detection and normalisation: the front end of :mod:`.rsqrt`, :mod:`.reciprocal` and
:mod:`.weight`.

For an unsigned W-bit ``x > 0`` with leading one at bit ``pos``, the mantissa fraction is the W − 1 bits
below that one, left-aligned: ``x = 2^pos · (1 + frac / 2^(W−1))``. Two register stages: the priority
encoder, then the barrel shift. :func:`normalise` and :func:`segment` build the gateware;
:func:`compute_normalise` and :func:`compute_segment` are their bit-exact models on NumPy int64 arrays.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal

from ..fixed import bit_length

__all__ = ["normalise", "LATENCY", "segment", "compute_normalise", "compute_segment"]

LATENCY = 2


def normalise(m: Module, x, width: int, name: str = "norm"):
    """Add the two stages to ``m``; returns (``pos``, ``frac``, ``zero``), valid 2 cycles after ``x``."""
    pos_c = Signal(range(width), name=f"{name}_pos_c")
    for bit in range(width):  # the highest set bit wins: it is assigned last
        with m.If(x[bit]):
            m.d.comb += pos_c.eq(bit)
    pos1, x1, zero1 = (
        Signal.like(pos_c, name=f"{name}_pos1"),
        Signal(width, name=f"{name}_x1"),
        Signal(name=f"{name}_z1"),
    )
    m.d.sync += [pos1.eq(pos_c), x1.eq(x), zero1.eq(x == 0)]
    pos2, frac2, zero2 = (
        Signal.like(pos1, name=f"{name}_pos2"),
        Signal(width - 1, name=f"{name}_frac"),
        Signal(name=f"{name}_z2"),
    )
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


def compute_normalise(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Model of :func:`normalise`: (``pos``, ``frac``) of raw unsigned ``width``-bit values (int64 array);
    x = 0 gives pos = 0, frac = 0."""
    x = np.asarray(x, dtype=np.int64)
    pos = np.maximum(bit_length(x) - 1, 0)
    return pos, (x << (width - 1 - pos)) & ((1 << (width - 1)) - 1)


def compute_segment(frac: np.ndarray, frac_bits: int, index_bits: int, u_frac: int) -> tuple[np.ndarray, np.ndarray]:
    """Model of :func:`segment` on an int64 array of fractions: (segment index, u)."""
    low_bits = frac_bits - index_bits
    k = frac >> low_bits
    centred = (frac & ((1 << low_bits) - 1)) - (1 << (low_bits - 1))
    shift = u_frac - low_bits
    return k, (centred << shift) if shift >= 0 else (centred >> -shift)
