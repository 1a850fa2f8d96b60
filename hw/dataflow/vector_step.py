"""Steps 3–5 for one vector, once per row: normalise the force, step, renormalise, and the move S_j.

F̂ = F*·2^s (block normalisation), F = F̂/|F̂|, r* = r + (δ/2β) F, r' = r*/|r*|, S_j = |r' − r|², in the
formats of :class:`~.datapath.Datapath`.

Time-multiplexed over the coordinates: the updater sends one vector per row, so every vector-wide unit
exists once and takes the vector's ``dmax`` coordinates one per cycle — one square-and-accumulate per norm
(:class:`~.distance.SerialSquaredDistance`: |F̂|², |r*|², |r' − r|²), one :class:`~.scale.Scale` per
normalisation, one multiplier for the move, plus one reciprocal square root per normalisation and one
multiplier for α = δ/(2β), each used once per vector (the reciprocal square roots' polynomials with one
product for all their Horner steps, ``RSqrt(shared=True)``). A new vector may enter every :attr:`interval`
= max(``dmax``, 3, the two reciprocal square roots' II) cycles — 21 in Q3.44, 11 in Q2.20; the updater makes a
row wait when it is shorter than that. The arithmetic is that of the
fully parallel step, bit for bit: every sum is exact.

Elaborated for a :class:`~.pipeline.SimulationPlatform`, each unit runs on a clock gated to its window of the
schedule below and the rest of the step on one gated from an input until its result is out
(:func:`~.pipeline.gate_when_idle`): the same results, and Verilator skips the units while they wait.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datapath import Datapath
from ..fixed import bit_length, saturate
from ..pipeline import check_parameters, delay, gate_when_idle, gates_idle_clocks

__all__ = ["VectorStepParameters", "VectorStep"]


class VectorStepParameters:
    """The parameters of a :class:`VectorStep`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`VectorStep`)."""

    def __init__(self, dp: Datapath, candidates: int = 1):
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates not in (1, 2):
            raise ValueError(f"candidates must be 1 or 2, not {candidates!r}")
        self.dp, self.candidates = dp, candidates
        dm = dp.dmax
        #: Fewest cycles between two inputs: one per coordinate, at least 3 (the block normalisation
        #: reads the held input for three cycles) and at least each reciprocal square root's II (their
        #: polynomials share one product: 21 cycles in Q3.44, 11 in Q2.20).
        self.interval = max(dm, 3, dp.force_rsqrt.ii, dp.moved_rsqrt.ii)
        self.fhat_at = 4
        self.direction_at = self.fhat_at + dm - 1 + dp.force_norm.latency + dp.force_rsqrt.latency
        self.move_at = self.direction_at + dp.direction.latency
        self.moved_at = self.move_at + dp.move.latency + 1
        self.renormalise_at = self.moved_at + dm - 1 + dp.moved_norm.latency + dp.moved_rsqrt.latency
        self.new_at = self.renormalise_at + dp.renormalise.latency
        self.latency = self.new_at + dm - 1 + dp.move_norm.latency
        vec = lambda fmt: data.ArrayLayout(fmt.shape(), dp.dmax)  # noqa: E731
        fields = {"force": vec(dp.acc_fmt), "r": vec(dp.fmt), "delta": dp.d2_fmt.shape()}
        members = {"step": In(dp.step_fmt.shape())}
        if candidates == 2:
            fields["second"] = 1
            members["step2"] = In(dp.step_fmt.shape())
        self.signature = wiring.Signature(
            {
                "i": In(stream.Signature(data.StructLayout(fields), always_ready=True)),
                **members,
                "o": Out(
                    stream.Signature(
                        data.StructLayout({"r": vec(dp.fmt), "s": dp.move_norm.out_fmt.shape()}), always_ready=True
                    )
                ),
            }
        )

    def compute(self, r, delta, force, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The bit-exact model: (r', S_j) for rows of raw r (…, D), δ (…) and F* (…, D, accumulator
        format), with raw 1/(2β) ``step``; D ≤ ``dmax`` (the RTL's coordinates past D are zero and stay
        zero). Vectorised over the leading axes; the units' own models, in the RTL's order."""
        dp = self.dp
        r, delta, force = (np.asarray(x, dtype=np.int64) for x in (r, delta, force))
        # Block normalisation: F̂ = F* · 2^(f − P), P the bit length of max_d |F*_d| (floor).
        shift = dp.unit_fmt.f - bit_length(np.max(np.abs(force), axis=-1))[..., None]
        fhat = (force << np.maximum(shift, 0)) >> np.minimum(np.maximum(-shift, 0), 63)
        # F = F̂ / |F̂|
        mant, exp = dp.force_rsqrt.compute(dp.force_norm.compute(fhat, 0))
        direction = dp.direction.compute(fhat, mant[..., None], exp[..., None])
        # α = δ · 1/(2β); r* = r + α F
        alpha = dp.step.compute(delta, step)
        moved = saturate(r + dp.move.compute(alpha[..., None], direction), dp.fmt)
        # r' = r* / |r*|
        mant, exp = dp.moved_rsqrt.compute(dp.moved_norm.compute(moved, 0))
        new = dp.renormalise.compute(moved, mant[..., None], exp[..., None])
        # S_j = |r' − r|²
        return new, dp.move_norm.compute(new, r)

    def create(self) -> VectorStep:
        """A new :class:`VectorStep` with these parameters."""
        return VectorStep(self)


class VectorStep(wiring.Component):
    """Ports: ``i`` — stream of ``{force, r, delta}`` (F*_j raw in the accumulator format, r_j, δ_j), at
    most one valid input every :attr:`interval` cycles; ``step`` — 1/(2β) raw (UQ1.(f + 4)), held during an
    iteration; ``o`` — stream of ``{r, s}`` (r'_j and S_j). Always ready; :attr:`latency` cycles from an
    input to its output; coordinates beyond the runtime D are zero in and out.

    Schedule (cycles after the input; Dm = ``dmax``, each serial stage takes coordinate d at its start + d):
    F̂ at 4 (block normalisation), |F̂|² → 1/|F̂| → F = F̂/|F̂| → r* = r + α F → |r*|² → 1/|r*| →
    r' = r*/|r*| → S_j = |r' − r|²; :attr:`latency` = 4 + 3(Dm − 1 + L_norm) + 2 L_rsqrt + 2 L_scale
    + L_move + 1, the L being the units' latencies.

    ``candidates=2`` (on-chip force loosening: one step serves both candidates of a sweep, one after the
    other): the input also has ``second`` (0 or 1) and there is a port ``step2``; an input with ``second``
    set takes 1/(2β) from ``step2`` instead of ``step``. Same interval, latency and arithmetic; the
    single-candidate step (the default) is unchanged."""

    def __init__(self, parameters: VectorStepParameters):
        self.parameters = check_parameters(parameters, VectorStepParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        dp, dm = par.dp, par.dp.dmax
        vec = lambda fmt: data.ArrayLayout(fmt.shape(), dm)  # noqa: E731
        # The input, held until the next one (at least ``interval`` cycles).
        force, r, delta = Signal(vec(dp.acc_fmt)), Signal(vec(dp.fmt)), Signal(dp.d2_fmt.shape())
        with m.If(self.i.valid):
            m.d.sync += [force.eq(self.i.payload.force), r.eq(self.i.payload.r), delta.eq(self.i.payload.delta)]
        history = Signal(self.latency, name="valid_history")  # bit t − 1: an input came t cycles ago
        m.d.sync += history.eq(Cat(self.i.valid, history[:-1]))

        def at(t):
            """The input's valid pulse, ``t`` cycles later."""
            return self.i.valid if t == 0 else history[t - 1]

        gated = gates_idle_clocks(platform)

        def during(first, last):
            """Simulation only (None otherwise): high in the cycles ``first`` … ``last`` after an input,
            1 ≤ first ≤ last ≤ latency — a unit's gated clock (:func:`.pipeline.gate_when_idle`), from a
            cycle before its first input until a cycle after its output was last read."""
            return history[first - 1 : last].any() if gated else None

        fhat = self._block_normalise(m, force)

        # F = F̂ / |F̂|, coordinate by coordinate
        fhat_s = _serialise(m, fhat, at(par.fhat_at), "fhat")
        direction = _divide_by_norm(m, dp, fhat_s, at, par.fhat_at, ("force_norm", "force_rsqrt", "direction"), during)

        # α = δ · 1/(2β), ready at move_at and steady for dm cycles (δ is held); r* = r + α F
        step_in = self.step
        if par.candidates == 2:  # which 1/(2β): held with the input and delayed with δ, so the two agree
            second = Signal()
            with m.If(self.i.valid):
                m.d.sync += second.eq(self.i.payload.second)
            step_in = Mux(delay(m, second, par.move_at - dp.step.latency - 1, "second"), self.step2, self.step)
        step = _unit(
            m,
            dp.make("step"),
            "step",
            {"a": delay(m, delta, par.move_at - dp.step.latency - 1, "delta"), "b": step_in},
            during(par.move_at - dp.step.latency - 1, par.move_at + dm),
        )
        r_s = _serialise(m, r, at(1), "r")
        mv = _unit(
            m,
            dp.make("move"),
            "move",
            {"a": step.o.payload, "b": direction},
            during(par.move_at - 1, par.move_at + dm + dp.move.latency),
        )
        moved = Signal(dp.fmt.shape())
        m.d.sync += moved.eq(saturate(delay(m, r_s, par.moved_at - 2, "r_moved") + mv.o.payload, dp.fmt))

        # r' = r* / |r*|
        new = _divide_by_norm(m, dp, moved, at, par.moved_at, ("moved_norm", "moved_rsqrt", "renormalise"), during)

        # S_j = |r' − r|², and r' gathered into a vector as S_j completes
        s = _serial_norm(
            m,
            dp.make("move_norm"),
            "move_norm",
            new,
            delay(m, r_s, par.new_at - 1, "r_new"),
            at,
            par.new_at,
            during(par.new_at - 1, self.latency),
        )
        gather_at = self.latency - dm
        out = _gather(m, delay(m, new, gather_at - par.new_at, "new"), dm, "new")
        m.d.comb += [
            self.o.payload.r.eq(out),
            self.o.payload.s.eq(s),
            self.o.valid.eq(at(self.latency)),
        ]
        if gated:  # simulation: clocked only from an input until its result is out
            return gate_when_idle(m, self.i.valid | history.any(), "vector_step")
        return m

    def _block_normalise(self, m: Module, force):
        """Block normalisation: the leading one of max_d |F*_d| moves to bit f − 1 (F̂ ready at 4 cycles
        after the input); returns F̂."""
        par = self.parameters
        dp, dm = par.dp, par.dp.dmax
        w_acc, f = dp.acc_fmt.width, dp.unit_fmt.f
        ored = Signal(unsigned(w_acc))
        m.d.sync += ored.eq(_or_all(abs(force[d]) for d in range(dm)))
        length = Signal(range(w_acc + 1))  # bit length of ored
        for bit in range(w_acc):
            with m.If(ored[bit]):
                m.d.comb += length.eq(bit + 1)
        left = Signal(range(w_acc + 1))
        m.d.sync += left.eq(w_acc - length)
        fhat = Signal(data.ArrayLayout(dp.unit_fmt.shape(), dm))
        for d in range(dm):
            m.d.sync += fhat[d].eq((force[d] << left) >> (w_acc - f))
        return fhat


def _serialise(m: Module, vector, pulse, name: str):
    """The coordinates of ``vector`` one per cycle, coordinate d ``d`` cycles after ``pulse`` (from
    ``vector`` as it is when ``pulse`` is high)."""
    dim = vector.shape().length
    rest = Signal(data.ArrayLayout(vector.shape().elem_shape, max(1, dim - 1)), name=f"{name}_rest")
    coord = Signal(vector.shape().elem_shape, name=f"{name}_coord")
    with m.If(pulse):
        m.d.comb += coord.eq(vector[0])
        m.d.sync += [rest[k].eq(vector[k + 1]) for k in range(dim - 1)]
    with m.Else():
        m.d.comb += coord.eq(rest[0])
        m.d.sync += [rest[k].eq(rest[k + 1]) for k in range(dim - 2)]
    return coord


def _gather(m: Module, coord, dim: int, name: str):
    """A vector of the last ``dim`` values of the coordinate stream ``coord`` (coordinate 0 the oldest)."""
    out = Signal(data.ArrayLayout(coord.shape(), dim), name=f"{name}_vector")
    m.d.sync += [out[k].eq(out[k + 1]) for k in range(dim - 1)] + [out[dim - 1].eq(coord)]
    return out


def _serial_norm(m: Module, unit, name: str, a, b, at, start: int, want=None):
    """|a − b|² of the coordinate streams ``a`` and ``b`` that begin ``start`` cycles after the input;
    the result is valid ``dmax − 1 + unit.latency`` cycles after ``start`` and held until the next.
    ``want``: see :func:`_unit`."""
    dm = unit.parameters.dim
    _place(m, unit, name, want)
    m.d.comb += [
        unit.i.valid.eq(_or_all(at(start + k) for k in range(dm))),
        unit.i.payload.a.eq(a),
        unit.i.payload.b.eq(b),
        unit.i.payload.first.eq(at(start)),
        unit.i.payload.last.eq(at(start + dm - 1)),
    ]
    return unit.o.payload


def _divide_by_norm(m: Module, dp: Datapath, x, at, start: int, units: tuple[str, str, str], during):
    """x / |x| for the coordinate stream ``x`` beginning ``start`` cycles after the input: serial squared
    norm, reciprocal square root (steady for a whole vector: its input is held), one scaling per
    coordinate; the result stream begins ``dmax − 1`` + the three units' latencies after ``start``.
    ``during(first, last)``: each unit's gated clock (or None), from its schedule."""
    norm_name, rsqrt_name, scale_name = units
    dm = dp.dmax
    result = start + dm - 1 + getattr(dp, norm_name).latency  # |x|², held; read by the rsqrt for dm cycles
    scaled = result + getattr(dp, rsqrt_name).latency  # the scaling's inputs: scaled … scaled + dm − 1
    last = scaled + dm - 1 + getattr(dp, scale_name).latency  # its last output
    norm = _serial_norm(m, dp.make(norm_name), norm_name, x, 0, at, start, during(start - 1, result + dm))
    rsq = _unit(m, dp.make(rsqrt_name), rsqrt_name, norm, during(result - 1, scaled + dm), valid=at(result))
    late = delay(m, x, scaled - start, f"{norm_name}_x")
    return _unit(
        m,
        dp.make(scale_name),
        scale_name,
        {"x": late, "mant": rsq.o.payload.mant, "exp": rsq.o.payload.exp},
        during(scaled - 1, last + 1),
    ).o.payload


def _or_all(values):
    out = 0
    for v in values:
        out = out | v
    return out


def _place(m: Module, unit, name: str, want=None):
    """Add ``unit`` as the submodule ``name``; with ``want`` (simulation only), on the clock gated by
    ``want`` (:func:`.pipeline.gate_when_idle`)."""
    if want is None:
        m.submodules[name] = unit
    else:
        body = Module()
        body.submodules.unit = unit
        m.submodules[name] = gate_when_idle(body, want, name)


def _unit(m: Module, unit, name: str, payload, want=None, valid=1):
    """Add ``unit`` as a submodule fed with ``payload`` (a value or a dict of fields), valid every cycle
    unless ``valid`` says when; ``want``: a gated clock for it in simulation (:func:`_place`)."""
    _place(m, unit, name, want)
    if isinstance(payload, dict):
        for field, value in payload.items():
            target = unit.i.payload[field]
            if isinstance(value, list) or (hasattr(value, "shape") and isinstance(value.shape(), data.ArrayLayout)):
                for k in range(len(value) if isinstance(value, list) else value.shape().length):
                    m.d.comb += target[k].eq(value[k])
            else:
                m.d.comb += target.eq(value)
    else:
        m.d.comb += unit.i.payload.eq(payload)
    m.d.comb += unit.i.valid.eq(valid)
    return unit
