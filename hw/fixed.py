"""Fixed-point formats and the rounding and saturation rules of the datapath.

Amaranth 0.5 ships no fixed-point library (RFC 41 is not merged), so this is a small one. A format
``Q(i, f)`` is signed with ``i`` integer bits *counting the sign bit* (RFC 41's convention): the paper's
"3 integer bits, 44 fractional bits" is ``Q(3, 44)``, 47 bits wide, range [−4, 4). ``Q(i, f,
signed=False)`` ("UQ3.44") is unsigned with range [0, 2^i).

A value is carried as its raw integer ``x`` meaning ``x · 2^-f``. Two rules turn a wide exact result into
a narrower one, and both the gateware (:func:`round_shift`, :func:`saturate` on Amaranth values) and the
bit-exact model (:mod:`spherecode.host.model.fixedpoint`, on NumPy integers) implement exactly these:

- ``trunc``: ``x >> s`` — floor, error in [0, 1) ulp;
- ``nearest``: ``(x + 2^(s-1)) >> s`` — round half up, error in [−½, ½] ulp.

Saturation clamps to the format's range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Q", "ROUNDINGS", "round_shift", "rounding_bias", "saturate"]

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

    def to_float(self, raw):
        """Raw integer(s) → value(s) as float64 (exact while the width is ≤ 53 bits)."""
        import numpy as np

        return np.asarray(raw, dtype=np.float64) * self.ulp

    def from_float(self, value, rounding: str = "nearest"):
        """Value(s) → raw int64 integer(s), rounded as ``rounding`` says, saturated to the range."""
        import numpy as np

        scaled = np.asarray(value, dtype=np.float64) * (1 << self.f)
        raw = np.floor(scaled + 0.5) if rounding == "nearest" else np.floor(scaled)
        return np.clip(raw, self.min_raw, self.max_raw).astype(np.int64)


def round_shift(value, shift: int, rounding: str):
    """Amaranth: drop ``shift`` low bits of ``value`` with the rounding rule (see module docstring)."""
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
    """Amaranth: ``value`` clamped to ``fmt``'s range; assign it to a signal of ``fmt.shape()``."""
    from amaranth.hdl import Mux

    return Mux(value > fmt.max_raw, fmt.max_raw, Mux(value < fmt.min_raw, fmt.min_raw, value))
