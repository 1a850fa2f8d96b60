"""The δ unit's arithmetic: squared distance d² = |r_j − r_i|² of two D-vectors, and the running minimum
δ_j = min_i d² over a row (paper eq. 9). Each unit's ``compute`` is its bit-exact model."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fixed import Q, mul_shift, round_shift, saturate
from .multiplier import LimbProduct, check_dsp
from ..pipeline import check_parameters, delay

__all__ = [
    "SquaredDistanceParameters",
    "SquaredDistance",
    "SerialSquaredDistanceParameters",
    "SerialSquaredDistance",
    "RunningMinParameters",
    "RunningMin",
    "GUARD_BITS",
    "d2_format",
]

#: Fraction bits kept below the output's when each square is truncated before the sum.
GUARD_BITS = 4


def d2_format(fmt: Q) -> Q:
    """Squared distances of coordinates in ``fmt``: unsigned, 3 integer bits, so d² = 4 (antipodal
    points) fits; sums above 8 − ulp (never reached by unit vectors) saturate."""
    return Q(3, fmt.f, signed=False)


def _compute_squared_distance(fmt: Q, a, b, diff_fmt: Q | None = None) -> np.ndarray:
    """The arithmetic both squared-distance units share, on int64 arrays of raw coordinates (…, dim); with
    ``diff_fmt`` each difference is first floored to its fraction bits and saturated (:class:`SquaredDistance`)."""
    diff = np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)  # exact
    if diff_fmt is None:
        w, d_frac = fmt.width + 1, fmt.f
    else:
        w, d_frac = diff_fmt.width, diff_fmt.f
        diff = np.clip(diff >> (fmt.f - d_frac), diff_fmt.min_raw, diff_fmt.max_raw)
    squares = mul_shift(diff, diff, 2 * d_frac - (fmt.f + GUARD_BITS), "trunc", 2 * w)  # exact, truncated: ≥ 0
    # The sum is exact, so its order (the adder tree's or the accumulator's) does not matter.
    return saturate(round_shift(squares.sum(axis=-1), GUARD_BITS, "nearest"), d2_format(fmt))


class SquaredDistanceParameters:
    """The parameters of a :class:`SquaredDistance`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`SquaredDistance`)."""

    def __init__(self, fmt: Q, dim: int, diff_fmt: Q | None = None, dsp: str = "infer"):
        self.dsp = check_dsp(dsp)
        if diff_fmt is not None and not (
            isinstance(diff_fmt, Q) and diff_fmt.signed and 2 * diff_fmt.f >= fmt.f + GUARD_BITS and diff_fmt.f <= fmt.f
        ):
            raise ValueError(
                f"the truncated difference needs a signed format with {(fmt.f + GUARD_BITS + 1) // 2}"
                f"..{fmt.f} fraction bits, not {diff_fmt!r}"
            )
        self.fmt, self.dim = fmt, dim
        self.diff_fmt = diff_fmt
        self.out_fmt = d2_format(fmt)
        self.levels = max(0, (dim - 1).bit_length())
        self.latency = 1 + 1 + LimbProduct.LATENCY + 1 + self.levels + 1
        vec = data.ArrayLayout(fmt.shape(), dim)
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(data.StructLayout({"a": vec, "b": vec}), always_ready=True)),
                "o": Out(stream.Signature(self.out_fmt.shape(), always_ready=True)),
            }
        )

    def compute(self, a, b) -> np.ndarray:
        """Bit-exact model: d² for int64 arrays of raw coordinates (…, dim), broadcast together."""
        return _compute_squared_distance(self.fmt, a, b, self.diff_fmt)

    def create(self) -> SquaredDistance:
        """A new :class:`SquaredDistance` with these parameters."""
        return SquaredDistance(self)


class SquaredDistance(wiring.Component):
    """``o = d² = Σ_k (a_k − b_k)²`` for two ``dim``-vectors of raw ``fmt`` coordinates.

    Each difference is exact; each square is exact, then truncated to f + ``GUARD_BITS`` fraction bits;
    the sum is exact and rounded to nearest at f bits, then saturated to :func:`d2_format`. Error ≤ ½ +
    dim · 2^−GUARD_BITS ulp. Ports: ``i`` — stream of ``{a, b}`` (arrays of ``dim`` raw values); ``o`` —
    stream of raw d². II = 1; :attr:`latency` = 7 + ⌈log2 dim⌉ cycles.

    With ``diff_fmt`` (signed, g ≤ f fraction bits), each difference is first floored to g fraction bits
    and saturated to ``diff_fmt`` (so the square takes fewer DSP blocks: two 17-bit limbs for Q3.31); the
    square of the truncated difference is exact and truncated to f + ``GUARD_BITS`` fraction bits as above.
    Added error: ≤ 2|a_k − b_k|·2^−g per coordinate (docs/arithmetic.md).
    ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    def __init__(self, parameters: SquaredDistanceParameters):
        self.parameters = check_parameters(parameters, SquaredDistanceParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        f, w = par.fmt.f, par.fmt.width
        a = Signal(data.ArrayLayout(par.fmt.shape(), par.dim))
        b = Signal(data.ArrayLayout(par.fmt.shape(), par.dim))
        m.d.sync += [a.eq(self.i.payload.a), b.eq(self.i.payload.b)]
        dfmt = par.diff_fmt
        d_width, d_frac = (w + 1, f) if dfmt is None else (dfmt.width, dfmt.f)
        drop = 2 * d_frac - (f + GUARD_BITS)  # low bits of the exact square below f + GUARD_BITS
        sq_width = 2 * d_width - drop
        terms = []
        for k in range(par.dim):
            diff = Signal(signed(d_width), name=f"diff{k}")
            if dfmt is None:
                m.d.sync += diff.eq(a[k] - b[k])
            else:
                m.d.sync += diff.eq(saturate((a[k] - b[k]) >> (f - d_frac), dfmt))
            sq = LimbProduct(diff.shape(), diff.shape(), dsp=par.dsp)
            m.submodules[f"sq{k}"] = sq
            m.d.comb += [sq.a.eq(diff), sq.b.eq(diff)]
            trunc = Signal(unsigned(sq_width), name=f"sqt{k}")
            m.d.sync += trunc.eq(sq.p >> drop)  # squares are ≥ 0: floor = truncation
            terms.append(trunc)
        level = 0
        while len(terms) > 1:  # a registered adder tree, pairs in index order
            nxt = []
            for j in range(0, len(terms), 2):
                s = Signal(unsigned(sq_width + level + 1), name=f"sum{level}_{j // 2}")
                m.d.sync += s.eq(terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j])
                nxt.append(s)
            terms, level = nxt, level + 1
        m.d.sync += self.o.payload.eq(saturate(round_shift(terms[0], GUARD_BITS, "nearest"), par.out_fmt))
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m


class SerialSquaredDistanceParameters:
    """The parameters of a :class:`SerialSquaredDistance`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`SerialSquaredDistance`)."""

    latency = 1 + 1 + LimbProduct.LATENCY + 1 + 1 + 1

    def __init__(self, fmt: Q, dim: int, out_frac: int | None = None, dsp: str = "infer"):
        self.dsp = check_dsp(dsp)
        if out_frac is None:
            out_frac = fmt.f
        if not (isinstance(out_frac, int) and fmt.f <= out_frac <= 2 * fmt.f):
            raise ValueError(f"out_frac must be an integer in {fmt.f}..{2 * fmt.f} (f..2f), not {out_frac!r}")
        self.fmt, self.dim, self.out_frac = fmt, dim, out_frac
        self.out_fmt = Q(3, out_frac, signed=False)
        #: fraction bits each square keeps, and the bits the sum's rounding drops
        self.keep = min(2 * fmt.f, out_frac + GUARD_BITS)
        self.drop = self.keep - out_frac
        layout = data.StructLayout({"a": fmt.shape(), "b": fmt.shape(), "first": 1, "last": 1})
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(layout, always_ready=True)),
                "o": Out(stream.Signature(self.out_fmt.shape(), always_ready=True)),
            }
        )

    def compute(self, a, b) -> np.ndarray:
        """Bit-exact model: d² of whole vectors, int64 arrays of raw coordinates (…, n) broadcast together
        (the n coordinates of one vector are what the stream carries from ``first`` to ``last``). With
        ``out_frac`` above f the result is an array of Python ints (it may not fit int64)."""
        if self.out_frac == self.fmt.f:
            return _compute_squared_distance(self.fmt, a, b)
        diff = (np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)).astype(object)  # exact
        total = ((diff * diff) >> (2 * self.fmt.f - self.keep)).sum(axis=-1)  # floor of each square; exact sum
        rounded = round_shift(np.asarray(total, dtype=object), self.drop, "nearest")  # as the RTL's last step
        return np.minimum(rounded, self.out_fmt.max_raw)

    def create(self) -> SerialSquaredDistance:
        """A new :class:`SerialSquaredDistance` with these parameters."""
        return SerialSquaredDistance(self)


class SerialSquaredDistance(wiring.Component):
    """:class:`SquaredDistance` with the coordinates in series: one square, an exact accumulator.

    The same arithmetic (exact difference, exact square truncated to f + ``GUARD_BITS`` fraction bits,
    exact sum, rounding to nearest, saturation to :func:`d2_format`), so the same result bit for bit: the
    sum is exact, its order does not matter. Ports: ``i`` — stream of ``{a, b, first, last}``, one
    coordinate pair per cycle, ``first`` on a vector's first coordinate and ``last`` on its last; ``o`` —
    d², valid for one cycle :attr:`latency` = 5 + 4 cycles after the ``last`` input, held until the next
    result. ``dim`` (the vector length the parameters describe) is for the model; any run of coordinates
    from ``first`` to ``last`` is summed.

    ``out_frac`` (f … 2f, default f): the output's fraction bits, ``out_fmt`` = UQ3.``out_frac``. Each
    square is truncated to ``out_frac`` + ``GUARD_BITS`` fraction bits (none dropped where that reaches
    2f) and the sum rounded to nearest at ``out_frac`` bits; with ``out_frac`` = 2f nothing is dropped and
    the output is the exact sum of squares (error 0 below saturation). The latency is the same.
    ``dsp``: the products' DSP layer (:class:`~.multiplier.LimbProduct`).
    """

    latency = SerialSquaredDistanceParameters.latency

    def __init__(self, parameters: SerialSquaredDistanceParameters):
        self.parameters = check_parameters(parameters, SerialSquaredDistanceParameters)
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        f, w = par.fmt.f, par.fmt.width
        p = self.i.payload
        a, b = Signal(par.fmt.shape()), Signal(par.fmt.shape())
        m.d.sync += [a.eq(p.a), b.eq(p.b)]
        diff = Signal(signed(w + 1))
        m.d.sync += diff.eq(a - b)
        m.submodules.sq = sq = LimbProduct(diff.shape(), diff.shape(), dsp=par.dsp)
        m.d.comb += [sq.a.eq(diff), sq.b.eq(diff)]
        sq_width = 2 * (w + 1) - (2 * f - par.keep)
        trunc = Signal(unsigned(sq_width))
        m.d.sync += trunc.eq(sq.p >> (2 * f - par.keep))
        to_trunc = 1 + 1 + LimbProduct.LATENCY + 1
        valid = delay(m, self.i.valid, to_trunc, "valid")
        first = delay(m, self.i.valid & p.first, to_trunc, "first")
        last = delay(m, self.i.valid & p.last, to_trunc, "last")
        acc = Signal(unsigned(sq_width + 8))  # room for 256 terms
        with m.If(valid):
            m.d.sync += acc.eq(Mux(first, 0, acc) + trunc)
        done = Signal()
        m.d.sync += done.eq(last)
        with m.If(done):
            m.d.sync += self.o.payload.eq(saturate(round_shift(acc, par.drop, "nearest"), par.out_fmt))
        m.d.sync += self.o.valid.eq(done)
        return m


class RunningMinParameters:
    """The parameters of a :class:`RunningMin`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`RunningMin`)."""

    latency = 1

    def __init__(self, d2_fmt: Q):
        self.fmt = d2_fmt
        layout = data.StructLayout({"d2": d2_fmt.shape(), "first": 1, "last": 1, "mask": 1})
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(layout, always_ready=True)),
                "o": Out(stream.Signature(d2_fmt.shape(), always_ready=True)),
            }
        )

    def compute(self, d2, first, last, mask) -> np.ndarray:
        """Bit-exact model on the input stream as 1-d int64 arrays of ``d2`` and the flags (the first value
        must have ``first`` set): one output per ``last``, the minimum of the row it ends, masked values
        left out."""
        d2 = np.where(np.asarray(mask) != 0, self.fmt.max_raw, np.asarray(d2, dtype=np.int64))
        starts = np.flatnonzero(np.asarray(first) != 0)
        mins = np.minimum.reduceat(d2, starts)
        ends = np.flatnonzero(np.asarray(last) != 0)
        return mins[np.searchsorted(starts, ends, side="right") - 1]

    def create(self) -> RunningMin:
        """A new :class:`RunningMin` with these parameters."""
        return RunningMin(self)


class RunningMin(wiring.Component):
    """δ: the minimum of a row of d² values.

    Ports: ``i`` — stream of ``{d2, first, last, mask}``: ``first`` starts a row, ``last`` ends it,
    ``mask`` leaves the value out (the pair i = j is masked, not skipped); ``o`` — the row's minimum, valid
    for one cycle after its ``last`` input (:attr:`latency` = 1). A row whose values are all masked gives
    the format's largest value. :meth:`RunningMinParameters.compute` is the bit-exact model.
    """

    latency = RunningMinParameters.latency

    def __init__(self, parameters: RunningMinParameters):
        self.parameters = check_parameters(parameters, RunningMinParameters)
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        p = self.i.payload
        best = Signal(par.fmt.shape(), init=par.fmt.max_raw)
        start = Mux(p.first, par.fmt.max_raw, best)
        candidate = Mux(p.mask | (p.d2 >= start), start, p.d2)
        with m.If(self.i.valid):
            m.d.sync += best.eq(candidate)
        m.d.sync += self.o.valid.eq(self.i.valid & p.last)
        m.d.comb += self.o.payload.eq(best)
        return m
