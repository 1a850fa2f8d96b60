"""NumPy integer versions of the datapath's rounding, saturation and products (see ``spherecode.hw.fixed``).

Values are raw int64 integers. A product of two operands whose widths add up to more than 62 bits is
formed exactly as a 128-bit two's-complement pair (high int64, low uint64) from 32-bit halves and then
shifted with the rounding rule, so that e.g. a Q3.44 × Q3.44 product rounded back to Q3.44 costs a few
vectorised operations per element and no Python loop.
"""

from __future__ import annotations

import numpy as np

from ...hw.fixed import ROUNDINGS, Q
from ...hw.reciprocal import bit_length  # the one definition, beside the gateware that mirrors it

__all__ = ["shift_round", "mul_shift", "saturate", "bit_length"]

_M32 = np.uint64(0xFFFFFFFF)


def shift_round(x: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """Drop ``shift`` low bits of int64 ``x`` (``trunc``: floor; ``nearest``: round half up)."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    x = np.asarray(x, dtype=np.int64)
    if shift <= 0:
        return x << np.int64(-shift)
    if rounding == "nearest":
        x = x + np.int64(1 << (shift - 1))
    return x >> np.int64(shift)


def saturate(x: np.ndarray, fmt: Q) -> np.ndarray:
    """Clamp int64 ``x`` to ``fmt``'s raw range."""
    return np.clip(x, fmt.min_raw, fmt.max_raw).astype(np.int64)


def _wide_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact a·b for |a|, |b| < 2^62 as a two's-complement (high int64, low uint64) pair."""
    neg = (a < 0) ^ (b < 0)
    ua = np.abs(a).astype(np.uint64)
    ub = np.abs(b).astype(np.uint64)
    ah, al = ua >> np.uint64(32), ua & _M32
    bh, bl = ub >> np.uint64(32), ub & _M32
    low = al * bl
    mid = ah * bl + al * bh  # < 2^63: no overflow
    high = ah * bh + (mid >> np.uint64(32))
    mid_low = (mid & _M32) << np.uint64(32)
    lo = low + mid_low
    high = high + (lo < low).astype(np.uint64)  # carry out of the low word
    # Negate (two's complement over 128 bits) where the product is negative.
    nlo = ~lo + np.uint64(1)
    nhigh = ~high + (nlo == 0).astype(np.uint64)
    lo = np.where(neg, nlo, lo)
    high = np.where(neg, nhigh, high)
    return high.view(np.int64), lo


def mul_shift(a: np.ndarray, b: np.ndarray, shift: int, rounding: str, bits: int | None = None) -> np.ndarray:
    """``round_shift(a · b, shift, rounding)`` exactly, for int64 ``a``, ``b`` with |a|, |b| < 2^62.

    ``bits`` bounds the bit length of |a·b| when the caller knows it (the sum of the operand widths); when
    it is ≤ 62 the product is formed directly in int64. The result must fit in int64.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if bits is not None and bits <= 62:
        return shift_round(a * b, shift, rounding)
    if shift <= 0:
        return (a * b) << np.int64(-shift)
    high, lo = _wide_product(a, b)
    if rounding == "nearest" and shift > 64:
        high = high + np.int64(1 << (shift - 65))
    elif rounding == "nearest":
        new = lo + np.uint64(1 << (shift - 1))
        high = high + (new < lo).astype(np.int64)
        lo = new
    elif rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    if shift >= 64:
        return high >> np.int64(shift - 64)
    return (high << np.int64(64 - shift)) | (lo >> np.uint64(shift)).view(np.int64)
