"""Steps 3–5 for one vector, once per row: normalise the force, step, renormalise, and the move S_j.

F̂ = F*·2^s (block normalisation), F = F̂/|F̂|, r* = r + (δ/2β) F, r' = r*/|r*|, S_j = |r' − r|², in the
formats of :class:`~.datapath.Datapath`. Pipelined: one vector per clock could enter (the updater sends
one per row), :attr:`latency` cycles to the result.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import Datapath
from .fixed import saturate
from .pipeline import delay

__all__ = ["VectorStep"]


class VectorStep(wiring.Component):
    """Ports: ``i`` — stream of ``{force, r, delta}`` (F*_j raw in the accumulator format, r_j, δ_j);
    ``step`` — 1/(2β) raw (UQ1.(f + 4)), held during an iteration; ``o`` — stream of ``{r, s}`` (r'_j and
    S_j). Always ready; :attr:`latency` cycles; coordinates beyond the runtime D are zero in and out."""

    def __init__(self, dp: Datapath):
        self.dp = dp
        #: Fewest cycles between two inputs.
        self.interval = 1
        self.normalise_latency = 3
        self.force_latency = self.normalise_latency + dp.force_norm.latency + dp.force_rsqrt.latency + dp.direction.latency
        self.moved_latency = self.force_latency + dp.move.latency + 1
        self.new_latency = self.moved_latency + dp.moved_norm.latency + dp.moved_rsqrt.latency + dp.renormalise.latency
        self.latency = 1 + self.new_latency + dp.move_norm.latency
        vec = lambda fmt: data.ArrayLayout(fmt.shape(), dp.dmax)  # noqa: E731
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "force": vec(dp.acc_fmt), "r": vec(dp.fmt), "delta": dp.d2_fmt.shape()}), always_ready=True)),
            "step": In(dp.step_fmt.shape()),
            "o": Out(stream.Signature(data.StructLayout({"r": vec(dp.fmt), "s": dp.d2_fmt.shape()}),
                                      always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        dp, dmax = self.dp, self.dp.dmax
        vec = lambda fmt: data.ArrayLayout(fmt.shape(), dmax)  # noqa: E731
        force, r, delta = Signal(vec(dp.acc_fmt)), Signal(vec(dp.fmt)), Signal(dp.d2_fmt.shape())
        m.d.sync += [force.eq(self.i.payload.force), r.eq(self.i.payload.r), delta.eq(self.i.payload.delta)]
        t = 1  # the cycle at which the values being built are available

        # Block normalisation: the leading one of max_d |F*_d| moves to bit f − 1.
        w_acc, f = dp.acc_fmt.width, dp.unit_fmt.f
        ored = Signal(unsigned(w_acc))
        m.d.sync += ored.eq(_or_all(abs(force[d]) for d in range(dmax)))
        force2 = delay(m, force, 1, "force")
        length = Signal(range(w_acc + 1))  # bit length of ored
        for bit in range(w_acc):
            with m.If(ored[bit]):
                m.d.comb += length.eq(bit + 1)
        length3 = Signal.like(length)
        m.d.sync += length3.eq(length)
        force3 = delay(m, force2, 1, "force")
        fhat = Signal(vec(dp.unit_fmt))
        left = Signal(range(w_acc + 1))
        m.d.comb += left.eq(w_acc - length3)
        for d in range(dmax):
            m.d.sync += fhat[d].eq((force3[d] << left) >> (w_acc - f))
        t += self.normalise_latency

        # F = F̂ / |F̂|
        direction = _divide_by_norm(m, dp, fhat, ("force_norm", "force_rsqrt", "direction"), "fhat")
        t += dp.force_norm.latency + dp.force_rsqrt.latency + dp.direction.latency
        assert t == 1 + self.force_latency

        # α = δ · 1/(2β), timed to meet F; r* = r + α F
        step = _unit(m, dp.make("step"), "step", {"a": delay(m, delta, t - 1 - dp.step.latency, "delta"),
                                                  "b": self.step})
        r_at = {"t": 1, "r": r}

        def r_until(when):
            r_at["r"] = delay(m, r_at["r"], when - r_at["t"], f"r{when}")
            r_at["t"] = when
            return r_at["r"]

        moved = Signal(vec(dp.fmt))
        mv = [_unit(m, dp.make("move"), f"move{d}", {"a": step.o.payload, "b": direction[d]}) for d in range(dmax)]
        t += dp.move.latency
        r_now = r_until(t)
        for d in range(dmax):
            m.d.sync += moved[d].eq(saturate(r_now[d] + mv[d].o.payload, dp.fmt))
        t += 1
        assert t == 1 + self.moved_latency

        # r' = r* / |r*|
        new = _divide_by_norm(m, dp, moved, ("moved_norm", "moved_rsqrt", "renormalise"), "moved")
        t += dp.moved_norm.latency + dp.moved_rsqrt.latency + dp.renormalise.latency
        new_vec = Signal(vec(dp.fmt))
        m.d.comb += [new_vec[d].eq(new[d]) for d in range(dmax)]

        # S_j = |r' − r|²
        s = _unit(m, dp.make("move_norm"), "move_norm", {"a": new_vec, "b": r_until(t)})
        t += dp.move_norm.latency
        assert t == self.latency
        m.d.comb += [
            self.o.payload.r.eq(delay(m, new_vec, dp.move_norm.latency, "new")),
            self.o.payload.s.eq(s.o.payload),
            self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid")),
        ]
        return m


def _divide_by_norm(m: Module, dp: Datapath, x, units: tuple[str, str, str], name: str) -> list:
    """x / |x| coordinate by coordinate: squared norm, reciprocal square root, one scaling per coordinate
    (the three datapath units named in ``units``); ``latency`` of the three added up."""
    norm_name, rsqrt_name, scale_name = units
    norm = _unit(m, dp.make(norm_name), norm_name, {"a": x, "b": [0] * dp.dmax})
    rsq = _unit(m, dp.make(rsqrt_name), rsqrt_name, norm.o.payload)
    late = delay(m, x, getattr(dp, norm_name).latency + getattr(dp, rsqrt_name).latency, name)
    return [_unit(m, dp.make(scale_name), f"{scale_name}{d}",
                  {"x": late[d], "mant": rsq.o.payload.mant, "exp": rsq.o.payload.exp}).o.payload
            for d in range(dp.dmax)]


def _or_all(values):
    out = 0
    for v in values:
        out = out | v
    return out


def _unit(m: Module, unit, name: str, payload):
    """Add ``unit`` as a submodule fed every cycle with ``payload`` (a value or a dict of fields)."""
    m.submodules[name] = unit
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
    m.d.comb += unit.i.valid.eq(1)
    return unit
