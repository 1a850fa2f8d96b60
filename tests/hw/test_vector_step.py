"""The time-multiplexed per-vector step under Verilator against the model, inputs as close as allowed."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.datapath import Datapath
from spherecode.hw.fixed import Q
from spherecode.hw.vector_step import VectorStep
from spherecode.sim.pipeline import stream_through

COUNT = 400


class StepAt(wiring.Component):
    """A :class:`VectorStep` with 1/(2β) fixed (the testbench drives streams only)."""

    def __init__(self, dp: Datapath, step: int):
        self.dp, self.step = dp, step
        unit = VectorStep(dp)
        self.latency, self.interval = unit.latency, unit.interval
        super().__init__({"i": In(unit.signature.members["i"].signature),
                          "o": Out(unit.signature.members["o"].signature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.step = vs = VectorStep(self.dp)
        m.d.comb += [vs.i.valid.eq(self.i.valid), vs.i.payload.eq(self.i.payload), vs.step.eq(self.step),
                     self.o.valid.eq(vs.o.valid), self.o.payload.eq(vs.o.payload)]
        return m


@pytest.mark.parametrize("fmt, dmax", [(Q(2, 20), 3), (Q(3, 44), 2)], ids=["Q2.20-D3", "Q3.44-D2"])
def test_vector_step_is_bit_exact(fmt, dmax):
    rng = np.random.default_rng(dmax)
    dp = Datapath(fmt, 64, dmax)
    _, c = dp.constants(float(rng.uniform(2, 50)))
    unit = StepAt(dp, c)
    assert unit.interval == max(dmax, 3)
    r = rng.standard_normal((COUNT, dmax))
    r = fmt.from_float(r / np.linalg.norm(r, axis=1, keepdims=True))
    force = rng.standard_normal((COUNT, dmax)) * 2.0 ** rng.integers(-20, 6, (COUNT, 1))
    acc = np.round(force * 2.0 ** dp.acc_fmt.f).astype(np.int64)
    acc[:3] = 0  # no force: the vector stays
    delta = rng.integers(1, 4 << fmt.f, COUNT)
    new, s = VectorStep(dp).compute(r, delta, acc, c)
    payloads = [{"force": a.tolist(), "r": x.tolist(), "delta": int(d)} for a, x, d in zip(acc, r, delta)]
    gaps = (unit.interval - 1 + rng.integers(0, 3, COUNT)).tolist()  # as close as the interval allows
    out, cycles = stream_through(unit, payloads, gaps)
    assert [o["r"] for o in out] == new.tolist()
    assert [o["s"] for o in out] == s.tolist()
    clock = np.concatenate([[0], np.cumsum(np.array(gaps) + 1)[:-1]])
    assert cycles == (clock + unit.latency).tolist()
