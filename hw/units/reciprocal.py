"""1/δ once per row, for the repulsion weight's ρ = (d² − δ)·(1/δ) (docs/arithmetic.md, "The repulsion
weight").

For a raw x > 0 with leading one at bit p, the mantissa M is the top P + 1 bits of x (truncated), so that
x ≈ M·2^(p − P) with 2^P ≤ M < 2^(P+1); the unit returns R = ⌊(2^(2P+1) − 1) / M⌋, 2^P ≤ R < 2^(P+1), and
p, so that 1/x ≈ R·2^−(P + 1 + p) with a relative error below 2^−P in magnitude (the mantissa's
truncation raises it, the floor lowers it). The division is a restoring long division, one quotient bit per
pipeline stage: no DSP block, exact, one result per clock. Elaborated for a
:class:`~.pipeline.SimulationPlatform` it runs on a clock gated from an input until its result is out
(:func:`~.pipeline.gate_when_idle`; it takes one input per row).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from . import normalise as norm
from ..fixed import Q
from ..pipeline import check_parameters, delay, gate_when_idle, gates_idle_clocks

__all__ = ["ReciprocalParameters", "Reciprocal", "mantissa"]


def mantissa(x: np.ndarray, width: int, precision: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, p) of raw ``width``-bit values: p the leading one's position (0 for x = 0), M the top
    ``precision`` + 1 bits from it (truncated; 2^precision for x = 0) — what :func:`.normalise.normalise`
    and a right shift give in the gateware. Needs ``width − 1 ≥ precision``."""
    p, frac = norm.compute_normalise(x, width)
    return (1 << precision) | (frac >> (width - 1 - precision)), p


class ReciprocalParameters:
    """The parameters of a :class:`Reciprocal`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`Reciprocal`)."""

    def __init__(self, in_fmt: Q, precision: int):
        if not isinstance(in_fmt, Q) or in_fmt.signed:
            raise ValueError(f"Reciprocal takes an unsigned format, not {in_fmt!r}")
        if not isinstance(precision, int) or not 2 <= precision <= min(in_fmt.width - 1, 40):
            raise ValueError(f"precision must be an integer in 2..{min(in_fmt.width - 1, 40)}, not {precision!r}")
        self.in_fmt, self.precision = in_fmt, precision
        self.latency = 1 + norm.LATENCY + precision + 1
        self.o_layout = data.StructLayout({"mant": unsigned(precision + 1), "exp": range(in_fmt.width)})
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(in_fmt.shape(), always_ready=True)),
                "o": Out(stream.Signature(self.o_layout, always_ready=True)),
            }
        )

    def compute(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Bit-exact model: (R, p) for an int64 array of raw x (vectorised; the division in chunks of ≤ 28
        quotient bits so every intermediate fits int64)."""
        p_bits = self.precision
        m, p = mantissa(x, self.in_fmt.width, p_bits)
        # ⌊(2^(2P+1) − 1) / M⌋: the numerator's top P bits (2^P − 1 < M) are the first remainder; the
        # other P + 1 bits, all ones, come down in chunks.
        r = np.full(m.shape, (1 << p_bits) - 1, dtype=np.int64)
        q = np.zeros(m.shape, dtype=np.int64)
        left = p_bits + 1
        while left:
            c = min(left, 28)
            r = (r << c) | ((1 << c) - 1)
            q = (q << c) | (r // m)
            r = r % m
            left -= c
        return q, p

    def create(self) -> Reciprocal:
        """A new :class:`Reciprocal` with these parameters."""
        return Reciprocal(self)


class Reciprocal(wiring.Component):
    """``o = {mant: R, exp: p}`` with 1/x ≈ R·2^−(P + 1 + p), for raw x in ``in_fmt`` (unsigned).

    Parameters: ``in_fmt`` — the input format (only its width matters: R and p do not depend on the binary
    point); ``precision`` — P, 2 ≤ P ≤ width − 1. Ports: ``i`` — stream of raw x; ``o`` — stream of
    ``{mant, exp}``, mant in [2^P, 2^(P+1)) (P + 1 bits), exp in [0, width). x = 0 gives R = 2^(P+1) − 1,
    p = 0 (a caller treats δ = 0 itself). II = 1; :attr:`latency` = P + 4 cycles. Relative error of
    R·2^−(P+1+p) against 1/x: below 2^−P in magnitude.
    """

    def __init__(self, parameters: ReciprocalParameters):
        self.parameters = check_parameters(parameters, ReciprocalParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        w, pb = par.in_fmt.width, par.precision
        x = Signal(w)
        m.d.sync += x.eq(self.i.payload)
        pos, frac, _ = norm.normalise(m, x, w, "rnorm")
        divisor = Signal(pb + 1)
        m.d.comb += divisor.eq((1 << pb) | (frac >> (w - 1 - pb)))
        rem = Signal(pb + 1)
        m.d.comb += rem.eq((1 << pb) - 1)
        quot = Signal(pb + 1)
        m.d.comb += quot.eq(0)
        for stage in range(pb + 1):  # one quotient bit per stage: r := 2r + 1; subtract M if it fits
            trial = Signal(pb + 2, name=f"trial{stage}")
            m.d.comb += trial.eq((rem << 1) | 1)
            fits = trial >= divisor
            rem_n, quot_n, div_n = (
                Signal(pb + 1, name=f"rem{stage}"),
                Signal(pb + 1, name=f"quot{stage}"),
                Signal(pb + 1, name=f"div{stage}"),
            )
            m.d.sync += [rem_n.eq(Mux(fits, trial - divisor, trial)), quot_n.eq((quot << 1) | fits), div_n.eq(divisor)]
            rem, quot, divisor = rem_n, quot_n, div_n
        history = Signal(self.latency, name="valid_history")  # bit t − 1: an input came t cycles ago
        m.d.sync += history.eq(Cat(self.i.valid, history[:-1]))
        m.d.comb += [
            self.o.payload.mant.eq(quot),
            self.o.payload.exp.eq(delay(m, pos, pb + 1, "rexp")),
            self.o.valid.eq(history[-1]),
        ]
        if gates_idle_clocks(platform):  # simulation: clocked only from an input until its result is out
            return gate_when_idle(m, self.i.valid | history.any(), "reciprocal")
        return m
