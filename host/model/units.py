"""Bit-exact integer models of the arithmetic units in ``spherecode.hw``.

Each function takes the unit (the ``wiring.Component`` object itself: formats, tables and shifts are read
from it, so there is one definition of each) and NumPy int64 arrays of raw inputs, and returns what the
RTL outputs, computed in the same steps with the same widths and rounding. Vectorised throughout. The
repulsion weight and the reciprocal carry their models themselves (``RepulsionWeight.compute``,
``Reciprocal.compute``, beside their gateware).
"""

from __future__ import annotations

import numpy as np

from ...hw.distance import GUARD_BITS, RunningMin, SquaredDistance
from ...hw.exp2 import Exp2
from ...hw.log2 import SEGMENT_BITS as LOG2_SEGMENT_BITS, Log2
from ...hw.multiplier import Multiplier
from ...hw.polynomial import PolyTable
from ...hw.rsqrt import SEGMENT_BITS as RSQRT_SEGMENT_BITS, RSqrt
from ...hw.scale import Scale
from .fixedpoint import bit_length, mul_shift, saturate, shift_round

__all__ = [
    "multiply", "squared_distance", "running_min", "polynomial", "log2", "exp2", "rsqrt",
    "scale",
]


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def multiply(unit: Multiplier, a, b=None) -> np.ndarray:
    """:class:`~spherecode.hw.multiplier.Multiplier`: saturate(round_shift(a·b))."""
    a = _i64(a)
    b = a if unit.square or b is None else _i64(b)
    bits = unit.a_fmt.width + unit.b_fmt.width
    return saturate(mul_shift(a, b, unit.shift, unit.rounding, bits), unit.o_fmt)


def squared_distance(unit: SquaredDistance, a, b) -> np.ndarray:
    """:class:`~spherecode.hw.distance.SquaredDistance` on (…, dim) arrays of raw coordinates."""
    diff = _i64(a) - _i64(b)
    f, dfmt = unit.fmt.f, getattr(unit, "diff_fmt", None)  # a SerialSquaredDistance has none
    if dfmt is not None:  # the difference floored to diff_fmt.f fraction bits, saturated
        diff = np.clip(diff >> (f - dfmt.f), dfmt.min_raw, dfmt.max_raw)
    w = unit.fmt.width + 1 if dfmt is None else dfmt.width
    squares = mul_shift(diff, diff, 2 * (f if dfmt is None else dfmt.f) - (f + GUARD_BITS), "trunc", 2 * w)
    return saturate(shift_round(_tree_sum(squares), GUARD_BITS, "nearest"), unit.out_fmt)


def _tree_sum(terms: np.ndarray) -> np.ndarray:
    """Sum over the last axis in the RTL's adder-tree order (pairs in index order)."""
    parts = [terms[..., k] for k in range(terms.shape[-1])]
    while len(parts) > 1:
        parts = [parts[j] + parts[j + 1] if j + 1 < len(parts) else parts[j] for j in range(0, len(parts), 2)]
    return parts[0]


def running_min(unit: RunningMin, d2, first, last, mask) -> np.ndarray:
    """:class:`~spherecode.hw.distance.RunningMin`: the minimum of each row (first … last), masked values
    left out; one output per ``last``. Rows must start with ``first``."""
    d2 = np.where(_i64(mask) != 0, unit.fmt.max_raw, _i64(d2))
    starts = np.flatnonzero(_i64(first) != 0)
    mins = np.minimum.reduceat(d2, starts)
    # Only rows whose last element is flagged produce an output, as in the RTL.
    ends = np.flatnonzero(_i64(last) != 0)
    return mins[np.searchsorted(starts, ends, side="right") - 1]


def polynomial(table: PolyTable, k, u) -> np.ndarray:
    """:class:`~spherecode.hw.polynomial.PiecewisePolynomial`: Horner's rule, rounding each product."""
    coeffs = [np.asarray(c, dtype=np.int64) for c in table.coeffs]
    k, u = _i64(k), _i64(u)
    acc = coeffs[table.degree][k]
    for n in range(table.degree - 1, -1, -1):
        acc = coeffs[n][k] + mul_shift(u, acc, table.frac, "nearest")
    return acc


def _normalise(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pos, frac): leading-one position and the W − 1 mantissa bits below it, left-aligned."""
    pos = np.maximum(bit_length(x) - 1, 0)
    frac = (x << (width - 1 - pos)) & ((1 << (width - 1)) - 1)
    return pos, frac


def _segment(frac: np.ndarray, frac_bits: int, index_bits: int, u_frac: int) -> tuple[np.ndarray, np.ndarray]:
    low_bits = frac_bits - index_bits
    k = frac >> low_bits
    centred = (frac & ((1 << low_bits) - 1)) - (1 << (low_bits - 1))
    shift = u_frac - low_bits
    return k, (centred << shift) if shift >= 0 else (centred >> -shift)


def log2(unit: Log2, x) -> np.ndarray:
    """:class:`~spherecode.hw.log2.Log2`."""
    x = _i64(x)
    w, t, fo = unit.in_fmt.width, unit.table, unit.out_fmt.f
    pos, frac = _normalise(x, w)
    k, u = _segment(frac, w - 1, LOG2_SEGMENT_BITS, t.frac)
    y = polynomial(t, k, u)
    out = ((pos - unit.in_fmt.f) << fo) + shift_round(y, t.frac - fo, "nearest")
    return np.where(x == 0, unit.out_fmt.min_raw, out)


def exp2(unit: Exp2, t_raw) -> np.ndarray:
    """:class:`~spherecode.hw.exp2.Exp2`."""
    x = _i64(t_raw)
    t, ft, fo = unit.table, unit.t_fmt.f, unit.out_fmt.f
    k, u = _segment(x & ((1 << ft) - 1), ft, unit.segment_bits, t.frac)
    y = polynomial(t, k, u)
    s = np.minimum((x >> ft) + (t.frac - fo), 63)  # y < 2^62: a shift of 63 already gives 0
    halves = (y << 1) >> s
    w = (halves + 1) >> 1
    return np.minimum(w, 1 << fo)


def rsqrt(unit: RSqrt, x) -> tuple[np.ndarray, np.ndarray]:
    """:class:`~spherecode.hw.rsqrt.RSqrt`: (mant, exp) with 1/√x ≈ mant · 2^−f · 2^exp."""
    x = _i64(x)
    w, t, fo = unit.in_fmt.width, unit.table, unit.mant_fmt.f
    pos, frac = _normalise(x, w)
    q = pos - unit.in_fmt.f
    k, u = _segment(frac, w - 1, RSQRT_SEGMENT_BITS, t.frac)
    y = polynomial(t, ((q & 1) << RSQRT_SEGMENT_BITS) | k, u)
    mant = np.minimum(shift_round(y, t.frac - fo, "nearest"), 1 << fo)
    zero = x == 0
    return np.where(zero, 0, mant), np.where(zero, 0, -(q >> 1))


def scale(unit: Scale, x, mant, exp) -> np.ndarray:
    """:class:`~spherecode.hw.scale.Scale`: x · mant · 2^exp, rounded half up, saturated."""
    x, mant, exp = _i64(x), _i64(mant), _i64(exp)
    s = unit.base_shift - exp  # ≥ 1 for every input the updater gives it
    low = int(s.min()) - 1 if s.size else 0
    partial = mul_shift(x, mant, low, "trunc", unit.x_fmt.width + unit.mant_fmt.width)  # floor(p / 2^low)
    halves = partial >> np.minimum(s - 1 - low, 63)
    return saturate((halves + 1) >> 1, unit.out_fmt)
