"""Fixed-point formats and the rounding and saturation rules of the datapath.

Amaranth 0.5 ships no fixed-point library (RFC 41 is not merged), so this is a small one. A format
``Q(i, f)`` is signed with ``i`` integer bits *counting the sign bit* (RFC 41's convention): the paper's
"3 integer bits, 44 fractional bits" is ``Q(3, 44)``, 47 bits wide, range [−4, 4). ``Q(i, f,
signed=False)`` ("UQ3.44") is unsigned with range [0, 2^i).

A value is carried as its raw integer ``x`` meaning ``x · 2^-f``. Two rules turn a wide exact result into
a narrower one:

- ``trunc``: ``x >> s`` — floor, error in [0, 1) ulp;
- ``nearest``: ``(x + 2^(s-1)) >> s`` — round half up, error in [−½, ½] ulp.

Saturation clamps to the format's range. :func:`round_shift` and :func:`saturate` take either an Amaranth
value (the gateware) or a NumPy int64 array (each unit's bit-exact ``compute`` model), so the model of a
unit is written with the same two rules as its gateware. The model's integer primitives are here too:
:func:`mul_shift`, an exact product of int64 arrays rounded back (a product wider than 62 bits is formed
from limbs, the way the gateware's :class:`~.multiplier.LimbProduct` forms it from DSP blocks), and
:func:`bit_length`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Q", "ROUNDINGS", "round_shift", "rounding_bias", "saturate", "mul_shift", "bit_length"]

ROUNDINGS = ("trunc", "nearest")


@dataclass(frozen=True)
class Q:
    """A fixed-point format: ``i`` integer bits (counting the sign bit if signed), ``f`` fraction bits."""

    i: int
    f: int
    signed: bool = True

    def __post_init__(self):
        if self.width < 1 or self.f < 0 or (self.signed and self.i < 1):
            raise ValueError(f"invalid fixed-point format {self}")

    @classmethod
    def parse(cls, text: str) -> Q:
        """``"Q3.44"`` (signed) or ``"UQ3.44"`` (unsigned)."""
        match = re.fullmatch(r"(U?)Q(\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"not a fixed-point format: {text!r} (expected e.g. Q3.44 or UQ3.44)")
        return cls(int(match[2]), int(match[3]), signed=not match[1])

    def __str__(self) -> str:
        return f"{'' if self.signed else 'U'}Q{self.i}.{self.f}"

    @property
    def width(self) -> int:
        return self.i + self.f

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def ulp(self) -> float:
        return 2.0**-self.f

    def shape(self):
        """The Amaranth shape of a raw value."""
        from amaranth.hdl import signed, unsigned

        return signed(self.width) if self.signed else unsigned(self.width)

    def to_bits(self, raw):
        """Raw value(s) → their ``width``-bit two's-complement bit pattern(s), unsigned (int, or int64 array)."""
        if isinstance(raw, (int, np.integer)):
            return int(raw) & ((1 << self.width) - 1)
        return np.asarray(raw, dtype=np.int64) & ((1 << self.width) - 1)

    def from_bits(self, bits):
        """The inverse of :meth:`to_bits`: bit pattern(s) (bits above ``width`` ignored) → raw value(s)."""
        mask, top = (1 << self.width) - 1, 1 << (self.width - 1)
        if isinstance(bits, (int, np.integer)):
            bits = int(bits) & mask
            return bits - (1 << self.width) if self.signed and bits & top else bits
        bits = np.asarray(bits, dtype=np.int64) & mask
        return np.where(bits & top, bits - (1 << self.width), bits) if self.signed else bits

    def to_float(self, raw):
        """Raw integer(s) → value(s) as float64 (exact while the width is ≤ 53 bits)."""
        return np.asarray(raw, dtype=np.float64) * self.ulp

    def from_float(self, value, rounding: str = "nearest"):
        """Value(s) → raw int64 integer(s), rounded as ``rounding`` says, saturated to the range."""
        scaled = np.asarray(value, dtype=np.float64) * (1 << self.f)
        raw = np.floor(scaled + 0.5) if rounding == "nearest" else np.floor(scaled)
        return np.clip(raw, self.min_raw, self.max_raw).astype(np.int64)


def round_shift(value, shift: int, rounding: str):
    """Drop ``shift`` low bits of ``value`` with the rounding rule (see the module docstring); a negative
    ``shift`` shifts left. ``value``: an Amaranth value, or a NumPy int64 array (the result must fit)."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    if shift <= 0:
        return value << -shift
    if rounding == "nearest":
        value = value + (1 << (shift - 1))
    return value >> shift


def rounding_bias(shift: int, rounding: str) -> int:
    """The constant ``round_shift`` adds before shifting: adding it earlier (e.g. inside a product's
    adder tree) and then shifting with ``trunc`` gives the same result one adder sooner."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    return (1 << (shift - 1)) if rounding == "nearest" and shift > 0 else 0


def saturate(value, fmt: Q):
    """``value`` clamped to ``fmt``'s range. On an Amaranth value: a ``Mux`` chain, to assign to a signal
    of ``fmt.shape()``; on a NumPy integer array: an int64 array."""
    if isinstance(value, (np.ndarray, np.integer, int)):
        return np.clip(value, fmt.min_raw, fmt.max_raw).astype(np.int64)
    from amaranth.hdl import Mux

    return Mux(value > fmt.max_raw, fmt.max_raw, Mux(value < fmt.min_raw, fmt.min_raw, value))


# ---- integer primitives of the bit-exact models (NumPy int64) -------------------------------------------

_M32 = np.uint64(0xFFFFFFFF)


def bit_length(x) -> np.ndarray:
    """Bit length of non-negative int64 values (0 for 0), exactly."""
    x = np.asarray(x, dtype=np.int64)
    if x.size == 0 or x.max() < (1 << 53):  # int → float64 is exact: read the exponent
        return np.frexp(x.astype(np.float64))[1].astype(np.int64)
    n = np.zeros(x.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        big = x >= (np.int64(1) << np.int64(step))
        n += np.where(big, step, 0)
        x = np.where(big, x >> np.int64(step), x)
    return n + (x > 0)


def mul_shift(a, b, shift: int, rounding: str, bits: int | None = None) -> np.ndarray:
    """``round_shift(a · b, shift, rounding)`` exactly, for int64 arrays ``a``, ``b`` (broadcast together)
    with |a|, |b| < 2^62; the result must fit int64.

    ``bits`` bounds the bit length of |a·b| when the caller knows it (the sum of the operand widths); when
    it is ≤ 62 the product is formed directly. Otherwise one operand is cut into limbs whose products with
    the other fit int64, summed from the lowest with the low bits shifted out as they are passed (exact:
    ⌊(X·2^k + Y)/2^(k+n)⌋ = ⌊(X + ⌊Y/2^k⌋)/2^n⌋); where no such cut exists within ``shift`` bits, the
    product is formed as a 128-bit pair from 32-bit halves.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {rounding!r}")
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if (bits is not None and bits <= 62) or a.size == 0 or b.size == 0:
        return round_shift(a * b, shift, rounding)
    if shift <= 0:
        return (a * b) << np.int64(-shift)
    wa, wb = _magnitude_bits(a), _magnitude_bits(b)
    if wa + wb <= 62:
        return round_shift(a * b, shift, rounding)
    for x, y, wx, wy in ((a, b, wa, wb), (b, a, wb, wa)):
        k = 62 - wy  # a k-bit limb of x times y stays below 2^62
        if k < 2:
            continue
        m = -(-(wx + wy - 62) // k)  # low limbs, so that the top limb times y stays below 2^62 too
        if m * k < shift or (m * k == shift and shift <= 61):
            return _limb_mul_shift(x, y, k, m, shift, rounding)
    return _wide_mul_shift(a, b, shift, rounding)


def _magnitude_bits(x: np.ndarray) -> int:
    return max(int(x.max()).bit_length(), int(-(x.min())).bit_length())


def _limb_mul_shift(x: np.ndarray, y: np.ndarray, k: int, m: int, shift: int, rounding: str) -> np.ndarray:
    """:func:`mul_shift` with x cut into ``m`` unsigned k-bit limbs and a signed top limb, m·k ≤ shift."""
    mask = np.int64((1 << k) - 1)
    low = m * k  # bits passed out of the sum
    bias = rounding_bias(shift, rounding)
    acc = (x & mask) * y
    if low == shift and bias:  # the rounding bias lies within the limbs: it rides with the lowest
        acc += np.int64(bias)
    for limb in range(1, m):
        acc = ((x >> np.int64(limb * k)) & mask) * y + (acc >> np.int64(k))
    acc = (x >> np.int64(low)) * y + (acc >> np.int64(k))  # ⌊(x·y [+ bias]) / 2^(m·k)⌋
    if low == shift:
        return acc
    return round_shift(acc, shift - low, rounding)  # the bias 2^(shift − 1) is a multiple of 2^low here


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


def _wide_mul_shift(a: np.ndarray, b: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    high, lo = _wide_product(*np.broadcast_arrays(a, b))
    if rounding == "nearest" and shift > 64:
        high = high + np.int64(1 << (shift - 65))
    elif rounding == "nearest":
        new = lo + np.uint64(1 << (shift - 1))
        high = high + (new < lo).astype(np.int64)
        lo = new
    if shift >= 64:
        return high >> np.int64(shift - 64)
    return (high << np.int64(64 - shift)) | (lo >> np.uint64(shift)).view(np.int64)
