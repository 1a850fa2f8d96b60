"""Piecewise polynomials from block-RAM tables: the mantissa core of :mod:`.rsqrt` (1/√m) and the two
tables of :mod:`.weight` (log2(1 + z)/z and 2^−φ).

The domain is cut into segments; on each, f is replaced by its Taylor polynomial of degree p about the
segment's midpoint, written in the local variable u ∈ [−½, ½) (the offset from the midpoint in segment
widths), so that every segment uses one fixed-point layout:

    c_n[s] = f⁽ⁿ⁾(mid_s) · w_sⁿ / n!,   rounded to nearest with ``frac`` fraction bits.

The remainder bound max|f⁽ᵖ⁺¹⁾| (w/2)ᵖ⁺¹ / (p+1)! picks the degree (:meth:`PiecewisePolynomial.lowest_degree`)
or the segment count (:meth:`PiecewisePolynomial.fewest_segments`). Derivatives are closed forms or
Gauss–Legendre sums (:func:`gauss_derivative`) evaluated in IEEE double: deterministic.

A segment index k and an offset u (exact integer, ``offset_bits`` = U fraction bits) are evaluated by
Horner's rule in exact integers, step j = 0 … p − 1 forming the sum of coefficient n = p − 1 − j:

    acc := c_p[k];    acc := c_n[k] + R(⌊u / 2^s_j⌋ · acc / 2^(U − s_j))

where R is the table's ``rounding`` (``"nearest"``: half up, ``"trunc"``: floor; :mod:`~spherecode.hw.fixed`)
and s_j (``u_shifts``) narrows u in step j to fewer bits (one DSP limb) where the product allows it.
One :class:`PiecewisePolynomial` holds the coefficients, their fixed-point layout and this rule; its
:meth:`~PiecewisePolynomial.compute` is the bit-exact NumPy model and its :meth:`~PiecewisePolynomial.create`
the gateware (:class:`PolynomialEvaluator`), as ``amaranth.lib.crc.Parameters`` has ``compute()`` and
``create()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import ROUNDINGS, mul_shift, rounding_bias
from ..pipeline import delay
from .multiplier import LIMB, LimbProduct, check_dsp

__all__ = ["PiecewisePolynomial", "PolynomialEvaluator", "MAX_INDEX_BITS", "COEFF_INT", "READS", "gauss_derivative"]

#: At most 2^10 uniform segments: one coefficient column of ≤ 18 bits fills one DP16KD (1024 × 18).
MAX_INDEX_BITS = 10
#: Integer bits (sign included) of :meth:`PiecewisePolynomial.lowest_degree`'s one layout: |c_n|, |acc| < 4
#: for the functions it serves.
COEFF_INT = 3
#: The evaluator's two schedules of the coefficient reads (:class:`PolynomialEvaluator`).
READS = ("staggered", "together")


def gauss_derivative(kernel: Callable[[np.ndarray, float, int], np.ndarray], nodes: int = 40):
    """n-th derivative of ∫₀¹ kernel(t, x, n) dt by Gauss–Legendre quadrature on ``nodes`` points (IEEE
    double, deterministic): for ln(1 + x)/x = ∫₀¹ dt/(1 + xt), whose derivatives have no closed form
    free of cancellation near x = 0."""
    s, wts = np.polynomial.legendre.leggauss(nodes)
    t, wts = (s + 1) / 2, wts / 2

    def derivative(x: float, n: int) -> float:
        return float(np.dot(wts, kernel(t, x, n)))

    return derivative


def _remainder_bound(derivative, starts, widths, degree: int) -> float:
    """max over the segments of max|f⁽ᵖ⁺¹⁾| (w/2)ᵖ⁺¹ / (p+1)!, |f⁽ᵖ⁺¹⁾| monotone on each (its maximum at an end)."""
    return max(
        max(abs(derivative(a, degree + 1)), abs(derivative(a + w, degree + 1)))
        * (w / 2) ** (degree + 1)
        / math.factorial(degree + 1)
        for a, w in zip(starts, widths)
    )


def _signed_width(magnitude: int) -> int:
    """Bits of a signed value of at most this magnitude (2 at least)."""
    return max(magnitude.bit_length() + 1, 2)


def _taylor(derivative, starts, widths, degree: int, frac: int) -> tuple[tuple[int, ...], ...]:
    """c_n[s] for n = 0 … ``degree`` (the module docstring), raw with ``frac`` fraction bits."""
    return tuple(
        tuple(
            math.floor(derivative(a + w / 2, n) * w**n / math.factorial(n) * 2.0**frac + 0.5)
            for a, w in zip(starts, widths)
        )
        for n in range(degree + 1)
    )


@dataclass(frozen=True)
class PiecewisePolynomial:
    """A table of Taylor coefficients, its fixed-point layout and the rule that evaluates it (the module
    docstring).

    ``coeffs[n][s]``: raw coefficient n (``frac`` fraction bits) of segment s, n = 0 … degree;
    ``offset_bits``: U, the fraction bits of u; ``rounding``: R of every Horner product; ``u_shifts``: s_j
    per Horner step (step 0 multiplies the top coefficient); ``column_widths``: bits of each coefficient
    column (signed); ``sum_widths``: bits of Horner's sums c_n + R(…), n = 0 … degree − 1 (sum 0 is the
    result y), each at least the width of its bound (:attr:`sum_bounds`); ``argument``: the segments are the
    2^``index_bits`` equal segments of [0, 1), and the evaluator takes the argument z itself (its top bits
    are k, the others u: :meth:`split`); ``error_bound``: the Taylor remainder bound, before coefficient
    and arithmetic rounding. Build one with :meth:`lowest_degree` or :meth:`fewest_segments`.
    """

    name: str
    coeffs: tuple[tuple[int, ...], ...]
    frac: int
    offset_bits: int
    rounding: str
    u_shifts: tuple[int, ...]
    column_widths: tuple[int, ...]
    sum_widths: tuple[int, ...]
    argument: bool
    error_bound: float

    def __post_init__(self):
        if len(self.coeffs) < 2 or len({len(col) for col in self.coeffs}) != 1 or not self.coeffs[0]:
            raise ValueError(f"coeffs must be 2 or more equally long, non-empty columns, not {self.coeffs!r}")
        if not isinstance(self.frac, int) or not 1 <= self.frac <= 60:
            raise ValueError(f"frac must be an integer in 1..60, not {self.frac!r}")
        if not isinstance(self.offset_bits, int) or not 1 <= self.offset_bits <= 60:
            raise ValueError(f"offset_bits must be an integer in 1..60, not {self.offset_bits!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {ROUNDINGS}, not {self.rounding!r}")
        shifts = self.u_shifts
        if len(shifts) != self.degree or not all(isinstance(s, int) and 0 <= s < self.offset_bits for s in shifts):
            raise ValueError(
                f"u_shifts must be {self.degree} integers in 0..{self.offset_bits - 1} (one per Horner step), "
                f"not {shifts!r}"
            )
        least = tuple(_signed_width(max(abs(c) for c in col)) for col in self.coeffs)
        if len(self.column_widths) != len(least) or any(w < m for w, m in zip(self.column_widths, least)):
            raise ValueError(f"column_widths must hold the columns (at least {least!r}), not {self.column_widths!r}")
        least = tuple(_signed_width(bound) for bound in self.sum_bounds)
        if len(self.sum_widths) != len(least) or any(w < m for w, m in zip(self.sum_widths, least)):
            raise ValueError(f"sum_widths must hold the sums' bounds (at least {least!r}), not {self.sum_widths!r}")
        if self.argument and self.segments != 1 << self.index_bits:
            raise ValueError(f"an argument table has 2^index_bits segments, not {self.segments}")

    # ---- builders ----------------------------------------------------------------------------------------

    @classmethod
    def lowest_degree(
        cls,
        name: str,
        derivative: Callable[[float, int], float],
        starts: Sequence[float],
        widths: Sequence[float],
        frac: int,
        error: float,
        max_degree: int = 8,
    ) -> PiecewisePolynomial:
        """The table of the lowest degree ≤ ``max_degree`` whose remainder bound is ≤ ``error`` on the segments
        ``[starts[s], starts[s] + widths[s])``; ``derivative(x, n)`` is f⁽ⁿ⁾(x) (n = 0: f itself), with
        |f⁽ᵖ⁺¹⁾| monotone on each segment. u has ``frac`` fraction bits, every product is rounded to nearest,
        and every column and sum has one layout, :data:`COEFF_INT`.``frac`` (the caller gives k and u)."""
        if not error > 0:
            raise ValueError(f"error must be positive, not {error!r}")
        for degree in range(1, max_degree + 1):
            bound = _remainder_bound(derivative, starts, widths, degree)
            if bound <= error:
                coeffs, width = _taylor(derivative, starts, widths, degree, frac), COEFF_INT + frac
                layout = ((width,) * (degree + 1), (width,) * degree)
                return cls(name, coeffs, frac, frac, "nearest", (0,) * degree, *layout, False, bound)
        raise ValueError(f"{name}: no degree ≤ {max_degree} reaches error {error!r}")

    @classmethod
    def fewest_segments(
        cls,
        name: str,
        derivative: Callable[[float, int], float],
        arg_frac: int,
        frac: int,
        error: float,
        degree: int = 2,
        u_width: int = LIMB,
    ) -> PiecewisePolynomial:
        """The table of the fewest uniform segments of [0, 1) (2^k, k ≤ :data:`MAX_INDEX_BITS`) whose degree-
        ``degree`` remainder bound is ≤ ``error``, for an argument z with ``arg_frac`` fraction bits: its top k
        bits are the segment index, the other U = ``arg_frac`` − k give u (:meth:`split`, exact). Every product
        is floored, and each but the last takes only u's top ``u_width`` bits (one DSP limb). Each column is as
        narrow as its values, each sum one bit wider than its coefficient's column."""
        if not isinstance(arg_frac, int) or arg_frac < 2:
            raise ValueError(f"arg_frac must be an integer ≥ 2, not {arg_frac!r}")
        if not isinstance(frac, int) or not 1 <= frac <= 40:
            raise ValueError(f"frac must be an integer in 1..40, not {frac!r}")
        if not error > 0:
            raise ValueError(f"error must be positive, not {error!r}")
        for k in range(1, min(MAX_INDEX_BITS, arg_frac - 1) + 1):
            starts, widths = [s * 2.0**-k for s in range(2**k)], [2.0**-k] * 2**k
            bound = _remainder_bound(derivative, starts, widths, degree)
            if bound <= error:
                offset_bits = arg_frac - k
                shifts = (max(0, offset_bits + 1 - u_width),) * (degree - 1) + (0,)
                coeffs = _taylor(derivative, starts, widths, degree, frac)
                columns = tuple(_signed_width(max(abs(c) for c in col)) for col in coeffs)
                sums = tuple(width + 1 for width in columns[:-1])
                return cls(name, coeffs, frac, offset_bits, "trunc", shifts, columns, sums, True, bound)
        raise ValueError(
            f"{name}: no table of ≤ 2^{MAX_INDEX_BITS} segments of degree {degree} reaches error {error!r}"
        )

    # ---- layout ------------------------------------------------------------------------------------------

    @property
    def degree(self) -> int:
        return len(self.coeffs) - 1

    @property
    def segments(self) -> int:
        return len(self.coeffs[0])

    @property
    def index_bits(self) -> int:
        """Bits of the segment index k."""
        return max(1, (self.segments - 1).bit_length())

    @property
    def latency(self) -> int:
        """Cycles of :class:`PolynomialEvaluator`: the table read (2), then per Horner step a product and a sum."""
        return 2 + self.degree * (LimbProduct.LATENCY + 1)

    @property
    def sum_bounds(self) -> tuple[int, ...]:
        """The largest magnitude of each Horner sum, n = 0 … degree − 1: A_n = max|c_n| + ⌈A_(n+1)/2⌉
        (A_p = max|c_p|), since |⌊u/2^s⌋ / 2^(U−s)| ≤ ½ and R moves a product by less than 1."""
        bound, bounds = max(abs(c) for c in self.coeffs[self.degree]), []
        for n in range(self.degree - 1, -1, -1):
            bound = max(abs(c) for c in self.coeffs[n]) + (bound + 1) // 2
            bounds.append(bound)
        return tuple(reversed(bounds))

    # ---- the model and the gateware ------------------------------------------------------------------------

    def compute(self, k, u) -> np.ndarray:
        """Bit-exact model of :class:`PolynomialEvaluator`: y for int64 arrays of segment indices ``k`` and
        offsets ``u`` (U fraction bits, in [−½, ½)), broadcast together."""
        k, u = np.asarray(k, dtype=np.int64), np.asarray(u, dtype=np.int64)
        u_bits = self.offset_bits
        acc = self._columns[self.degree][k]
        for j, n in enumerate(range(self.degree - 1, -1, -1)):
            s = self.u_shifts[j]
            product_bits = u_bits + 1 - s + (self.sum_widths[n + 1] if j else self.column_widths[-1])
            term = mul_shift(u >> s, acc, u_bits - s, self.rounding, bits=product_bits)
            acc = self._columns[n][k] + term
        return acc

    def split(self, z) -> tuple[np.ndarray, np.ndarray]:
        """(k, u) of raw arguments 0 ≤ z < 2^(index_bits + offset_bits) (int64 array) of an ``argument``
        table: k the top ``index_bits`` bits, u the others less half a segment (exact)."""
        z = np.asarray(z, dtype=np.int64)
        return z >> self.offset_bits, (z & ((1 << self.offset_bits) - 1)) - (1 << (self.offset_bits - 1))

    def compute_argument(self, z) -> np.ndarray:
        """:meth:`compute` at raw arguments z of an ``argument`` table (:meth:`split`): y ≈ f(z / 2^(index_bits
        + offset_bits)) · 2^frac."""
        return self.compute(*self.split(z))

    @cached_property
    def _columns(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(col, dtype=np.int64) for col in self.coeffs)

    def create(self, shared: bool = False, dsp: str = "infer", reads: str = "staggered") -> PolynomialEvaluator:
        """The gateware that evaluates this table (:class:`PolynomialEvaluator`)."""
        return PolynomialEvaluator(self, shared, dsp, reads)


class PolynomialEvaluator(wiring.Component):
    """Evaluates a :class:`PiecewisePolynomial`: ``y = table.compute(k, u)``, :attr:`latency` =
    2 + 5·degree cycles later.

    Ports: ``k`` (segment index, ``index_bits``) and ``u`` (signed, U + 1 bits, in [−½, ½)) in, or for an
    ``argument`` table ``z`` (unsigned, ``index_bits`` + U bits: ``y = table.compute_argument(z)``); ``y``
    (signed, ``sum_widths[0]`` bits) out. II = 1, no valid: the enclosing unit carries valid beside it.
    Each Horner step is a :class:`~.multiplier.LimbProduct` of ⌊u/2^s_j⌋ and the previous sum (the rounding
    bias rides in the product's adder), then the sum with the coefficient, in the next cycle. Each
    coefficient column is a block RAM whose output is registered before any logic (its clock-to-out is long
    on ECP5).

    ``reads``: when the columns are read. ``"staggered"``: each column when its step needs it, the index k
    delayed to it (fewer registers where k is narrower than the coefficients). ``"together"``: every column
    at once, from one address, and the coefficients delayed to their steps. Same results, same latency.

    ``shared=True``: one product serves every Horner step, one after the other (Horner's steps depend on
    each other, so the latency is the same); the unit takes its input when the extra input ``start`` is
    high, at most once every :attr:`ii` = 1 + 5·degree cycles, and ``y`` is that input's result from
    :attr:`latency` cycles after it until the next result replaces it. Same arithmetic, bit for bit;
    ``degree`` times fewer multipliers (in Q3.44 the step's 1/|r*| polynomial is degree 4: 36 of the core's
    DSP blocks become 9). Every step then takes the same u (equal ``u_shifts``), and the reads are
    staggered. ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, table: PiecewisePolynomial, shared: bool = False, dsp: str = "infer", reads: str = "staggered"):
        if not isinstance(table, PiecewisePolynomial):
            raise ValueError(f"table must be a PiecewisePolynomial, not {table!r}")
        if not isinstance(shared, bool):
            raise ValueError(f"shared must be a bool, not {shared!r}")
        if reads not in READS:
            raise ValueError(f"reads must be one of {READS}, not {reads!r}")
        if shared and len(set(table.u_shifts)) > 1:
            raise ValueError(f"shared needs the same u in every Horner step, not u_shifts {table.u_shifts!r}")
        if shared and reads != "staggered":
            raise ValueError(f"shared reads the columns staggered, not {reads!r}")
        self.table, self.shared, self.dsp, self.reads = table, shared, check_dsp(dsp), reads
        self.latency = table.latency
        #: Fewest cycles between two inputs.
        self.ii = self.latency - 1 if shared else 1  # shared: the last sum is registered before a restart
        if table.argument:
            inputs = {"z": In(unsigned(table.index_bits + table.offset_bits))}
        else:
            inputs = {"k": In(table.index_bits), "u": In(signed(table.offset_bits + 1))}
        super().__init__({**inputs, **({"start": In(1)} if shared else {}), "y": Out(signed(table.sum_widths[0]))})

    def _inputs(self, m: Module):
        """(k, u): the ports, or an argument's split (:meth:`PiecewisePolynomial.split`)."""
        t = self.table
        if not t.argument:
            return self.k, self.u
        u = Signal(signed(t.offset_bits + 1))
        m.d.comb += u.eq(self.z[: t.offset_bits] - (1 << (t.offset_bits - 1)))
        return self.z[t.offset_bits :], u

    def _coefficient(self, m: Module, n: int, address):
        """c_n[address], two cycles later: the block RAM's output is registered before any logic."""
        t = self.table
        mem = memory.Memory(shape=signed(t.column_widths[n]), depth=t.segments, init=t.coeffs[n])
        m.submodules[f"c{n}"] = mem
        port = mem.read_port(transparent_for=())
        m.d.comb += port.addr.eq(address)
        return delay(m, port.data, 1, f"c{n}")

    def _product(self, m: Module, name: str, s: int, b_width: int) -> LimbProduct:
        """The product ⌊u/2^s⌋ · b with R's bias for the shift by U − s."""
        t = self.table
        bias = rounding_bias(t.offset_bits - s, t.rounding)
        m.submodules[name] = product = LimbProduct(signed(t.offset_bits + 1 - s), signed(b_width), bias, self.dsp)
        return product

    def elaborate(self, platform):
        m = Module()
        k, u = self._inputs(m)
        if self.shared:
            y = self._elaborate_shared(m, k, u)
        elif self.reads == "together":
            y = self._elaborate_together(m, k, u)
        else:
            y = self._elaborate_staggered(m, k, u)
        m.d.comb += self.y.eq(y)
        return m

    def _elaborate_staggered(self, m: Module, k, u):
        """Step j's product takes u (delayed from the input) and the previous sum at 2 + 5j; c_n is read
        two cycles before its sum, from k delayed from the input."""
        t = self.table
        acc = self._coefficient(m, t.degree, k)  # read at t = 0, registered at t = 2
        when = 2
        for j, n in enumerate(range(t.degree - 1, -1, -1)):
            s = t.u_shifts[j]
            product = self._product(m, f"mul{n}", s, len(acc))
            u_n = delay(m, u, when, f"u{n}")
            m.d.comb += [product.a.eq(u_n >> s if s else u_n), product.b.eq(acc)]
            when += LimbProduct.LATENCY
            c = self._coefficient(m, n, delay(m, k, when - 2, f"k{n}"))
            acc_next = Signal(signed(t.sum_widths[n]), name=f"acc{n}")
            m.d.sync += acc_next.eq(c + (product.p >> (t.offset_bits - s)))
            acc = acc_next
            when += 1
        assert when == self.latency
        return acc

    def _elaborate_together(self, m: Module, k, u):
        """Every column read at t = 0 (registered at 2); u is delayed from step to step, each coefficient
        from its read to its sum. Every step but the last takes ⌊u/2^s_j⌋, the last u whole (its shift is 0
        by :meth:`PiecewisePolynomial.fewest_segments`)."""
        t = self.table
        columns = [self._coefficient(m, n, k) for n in range(t.degree + 1)]
        acc, when = columns[t.degree], 2
        u_step, u_when = delay(m, u, 2, "u"), 2
        for j, n in enumerate(range(t.degree - 1, -1, -1)):
            s = t.u_shifts[j]
            product = self._product(m, f"mul{n}", s, len(acc))
            u_step, u_when = delay(m, u_step, when - u_when, f"u{n}"), when
            m.d.comb += [product.a.eq(u_step if n == 0 and s == 0 else u_step >> s), product.b.eq(acc)]
            when += LimbProduct.LATENCY
            acc_next = Signal(signed(t.sum_widths[n]), name=f"acc{n}")
            m.d.sync += acc_next.eq(delay(m, columns[n], when - 2, f"c{n}") + (product.p >> (t.offset_bits - s)))
            acc = acc_next
            when += 1
        assert when == self.latency
        return acc

    def _elaborate_shared(self, m: Module, k, u):
        """One :class:`LimbProduct`; a counter of the cycles since ``start`` schedules Horner's steps at the
        parallel unit's times: step j's product takes its operands at 2 + 5j, its sum is registered at
        6 + 5j (into ``acc``, the last one into ``y``)."""
        t = self.table
        s, shift = t.u_shifts[0], t.offset_bits - t.u_shifts[0]
        step = LimbProduct.LATENCY + 1
        clock = Signal(range(self.latency + 1))  # cycles since start; 0: idle
        with m.If(self.start):
            m.d.sync += clock.eq(1)
        with m.Elif((clock != 0) & (clock != self.latency)):
            m.d.sync += clock.eq(clock + 1)
        with m.Else():
            m.d.sync += clock.eq(0)
        k_held, u_held = Signal.like(k), Signal.like(u)
        with m.If(self.start):
            m.d.sync += [k_held.eq(k), u_held.eq(u)]
        top = self._coefficient(m, t.degree, k)  # read at start, registered at 2
        coeffs = [self._coefficient(m, n, k_held) for n in range(t.degree)]  # steady from 3 on
        acc = Signal(signed(max(t.sum_widths)), name="acc")
        y = Signal(signed(t.sum_widths[0]), name="y_held")
        product = self._product(m, "mul", s, len(acc))
        m.d.comb += [product.a.eq(u_held >> s if s else u_held), product.b.eq(Mux(clock == 2, top, acc))]
        for j in range(t.degree):
            n = t.degree - 1 - j
            with m.If(clock == 2 + step * j + LimbProduct.LATENCY):
                m.d.sync += (y if n == 0 else acc).eq(coeffs[n] + (product.p >> shift))
        assert 2 + step * t.degree == self.latency
        return y
