"""Table + polynomial evaluation of a smooth function: the mantissa core of :mod:`.rsqrt`.

The domain is cut into segments; on each, f is replaced by its Taylor polynomial about the segment's
midpoint, written in the local variable u ∈ [−½, ½) (the offset from the midpoint in segment widths), so
that every segment uses one fixed-point layout. The degree is the smallest whose Lagrange remainder bound
max|f⁽ᵖ⁺¹⁾| (w/2)ᵖ⁺¹ / (p+1)! is below the requested error. Coefficients come from closed-form derivatives
evaluated in IEEE double (deterministic), rounded to ``frac`` bits: one table, evaluated by the gateware
(:class:`PiecewisePolynomial`) and by the model (:meth:`PolyTable.compute`).

Evaluation is Horner's rule in fixed point with ``frac`` fraction bits everywhere:
``acc := c_p; acc := c_n + round_nearest(u · acc)`` for n = p−1 … 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import mul_shift, round_shift, rounding_bias
from .multiplier import LimbProduct, check_dsp
from ..pipeline import delay

__all__ = ["PolyTable", "make_table", "PiecewisePolynomial"]

#: Integer bits of coefficients and accumulator (sign included): |c_n|, |acc| < 4 for our functions.
COEFF_INT = 3


@dataclass(frozen=True)
class PolyTable:
    """Coefficients ``coeffs[n][s]`` (raw, ``frac`` bits) of segment s's polynomial in u, degree p."""

    name: str
    frac: int
    degree: int
    coeffs: tuple[tuple[int, ...], ...]
    error_bound: float  #: the Taylor remainder bound, before coefficient and arithmetic rounding

    @property
    def segments(self) -> int:
        return len(self.coeffs[0])

    @property
    def index_bits(self) -> int:
        return max(1, (self.segments - 1).bit_length())

    @property
    def latency(self) -> int:
        return 2 + self.degree * (LimbProduct.LATENCY + 1)

    def compute(self, k, u) -> np.ndarray:
        """Bit-exact model of :class:`PiecewisePolynomial`: y for int64 arrays of segment indices ``k``
        and offsets ``u`` (Horner's rule, each product rounded to nearest)."""
        k, u = np.asarray(k, dtype=np.int64), np.asarray(u, dtype=np.int64)
        acc = np.asarray(self.coeffs[self.degree], dtype=np.int64)[k]
        for n in range(self.degree - 1, -1, -1):
            acc = np.asarray(self.coeffs[n], dtype=np.int64)[k] + mul_shift(u, acc, self.frac, "nearest")
        return acc


def make_table(
    name: str,
    derivative: Callable[[float, int], float],
    starts: Sequence[float],
    widths: Sequence[float],
    frac: int,
    error: float,
    max_degree: int = 8,
) -> PolyTable:
    """Build the table for f on segments ``[starts[s], starts[s] + widths[s])``.

    ``derivative(x, n)`` is the n-th derivative of f at x (n = 0 is f itself); |f⁽ⁿ⁺¹⁾| must be monotone
    on each segment (true for log2(1+x), 2^−x and x^−½), so its maximum is at an end.
    """
    for degree in range(1, max_degree + 1):
        bound = max(
            max(abs(derivative(a, degree + 1)), abs(derivative(a + w, degree + 1)))
            * (w / 2) ** (degree + 1)
            / math.factorial(degree + 1)
            for a, w in zip(starts, widths)
        )
        if bound <= error:
            break
    else:
        raise ValueError(f"{name}: no degree ≤ {max_degree} reaches error {error}")
    coeffs = []
    for n in range(degree + 1):
        row = []
        for a, w in zip(starts, widths):
            c = derivative(a + w / 2, n) * w**n / math.factorial(n)
            row.append(math.floor(c * 2.0**frac + 0.5))
        coeffs.append(tuple(row))
    return PolyTable(name, frac, degree, tuple(coeffs), bound)


class PiecewisePolynomial(wiring.Component):
    """Evaluates a :class:`PolyTable`: ``y ≈ f`` on segment ``k`` at local offset ``u``.

    Ports: ``k`` (segment index), ``u`` (signed, ``frac`` fraction bits, in [−½, ½)) in; ``y`` (signed,
    ``COEFF_INT``.``frac``) out, :attr:`latency` = 2 + 5·degree cycles later. II = 1, no valid: the
    enclosing unit carries valid beside it. The model: :meth:`PolyTable.compute`.

    ``shared=True``: one product serves every Horner step, one after the other (Horner's steps depend on
    each other, so the latency is the same); the unit takes ``k`` and ``u`` when the extra input ``start``
    is high, at most once every :attr:`ii` = 1 + 5·degree cycles, and ``y`` is that input's result from
    :attr:`latency` cycles after it until the next result replaces it. Same arithmetic, bit for bit;
    ``degree`` times fewer multipliers (in Q3.44 the step's 1/|r*| polynomial is degree 4: 36 of the core's
    DSP blocks become 9). ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, table: PolyTable, shared: bool = False, dsp: str = "infer"):
        if not isinstance(shared, bool):
            raise ValueError(f"shared must be a bool, not {shared!r}")
        self.table, self.shared, self.dsp = table, shared, check_dsp(dsp)
        self.latency = table.latency
        #: Fewest cycles between two inputs.
        self.ii = self.latency - 1 if shared else 1  # shared: the last sum is registered before a restart
        super().__init__(
            {
                "k": In(table.index_bits),
                "u": In(signed(table.frac + 1)),
                **({"start": In(1)} if shared else {}),
                "y": Out(signed(COEFF_INT + table.frac)),
            }
        )

    def _coefficient(self, m: Module, n: int, address):
        """c_n[address], two cycles later: the block RAM's output is registered before any logic (its
        clock-to-out is long on ECP5)."""
        t = self.table
        mem = memory.Memory(shape=signed(COEFF_INT + t.frac), depth=t.segments, init=t.coeffs[n])
        m.submodules[f"c{n}"] = mem
        port = mem.read_port(transparent_for=())
        m.d.comb += port.addr.eq(address)
        return delay(m, port.data, 1, f"c{n}")

    def _elaborate_shared(self, m: Module):
        """One :class:`LimbProduct`; a counter of the cycles since ``start`` schedules Horner's steps at the
        parallel unit's times: step j's product takes its operands at 2 + 5j, its sum is registered at
        6 + 5j (into ``acc``, the last one into ``y``)."""
        t = self.table
        acc_shape = signed(COEFF_INT + t.frac)
        step = LimbProduct.LATENCY + 1
        clock = Signal(range(self.latency + 1))  # cycles since start; 0: idle
        with m.If(self.start):
            m.d.sync += clock.eq(1)
        with m.Elif((clock != 0) & (clock != self.latency)):
            m.d.sync += clock.eq(clock + 1)
        with m.Else():
            m.d.sync += clock.eq(0)
        k_held, u_held = Signal.like(self.k), Signal.like(self.u)
        with m.If(self.start):
            m.d.sync += [k_held.eq(self.k), u_held.eq(self.u)]
        top = self._coefficient(m, t.degree, self.k)  # read at start, registered at 2
        coeffs = [self._coefficient(m, n, k_held) for n in range(t.degree)]  # steady from 3 on
        acc, y = Signal(acc_shape, name="acc"), Signal(acc_shape, name="y_held")
        m.submodules.mul = product = LimbProduct(
            signed(t.frac + 1), acc_shape, rounding_bias(t.frac, "nearest"), self.dsp
        )
        m.d.comb += [product.a.eq(u_held), product.b.eq(Mux(clock == 2, top, acc))]
        for j in range(t.degree):
            n = t.degree - 1 - j
            with m.If(clock == 2 + step * j + LimbProduct.LATENCY):
                m.d.sync += (y if n == 0 else acc).eq(coeffs[n] + round_shift(product.p, t.frac, "trunc"))
        assert 2 + step * t.degree == self.latency
        m.d.comb += self.y.eq(y)
        return m

    def elaborate(self, platform):
        m = Module()
        if self.shared:
            return self._elaborate_shared(m)
        t = self.table
        acc_shape = signed(COEFF_INT + t.frac)
        acc = self._coefficient(m, t.degree, self.k)  # read at t = 0, registered at t = 2
        when = 2
        for n in range(t.degree - 1, -1, -1):
            product = LimbProduct(signed(t.frac + 1), acc_shape, rounding_bias(t.frac, "nearest"), self.dsp)
            m.submodules[f"mul{n}"] = product
            m.d.comb += [product.a.eq(delay(m, self.u, when, f"u{n}")), product.b.eq(acc)]
            when += LimbProduct.LATENCY
            c = self._coefficient(m, n, delay(m, self.k, when - 2, f"k{n}"))
            acc_next = Signal(acc_shape, name=f"acc{n}")
            m.d.sync += acc_next.eq(c + round_shift(product.p, t.frac, "trunc"))
            acc = acc_next
            when += 1
        assert when == self.latency
        m.d.comb += self.y.eq(acc)
        return m
