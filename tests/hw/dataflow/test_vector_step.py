"""The time-multiplexed per-vector step under Verilator against the model, inputs as close as allowed."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.datapath import Datapath
from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.vector_step import VectorStepParameters

from ...benches.streams import stream_through

COUNT = 400


class StepAt(wiring.Component):
    """A :class:`VectorStep` with 1/(2β) fixed (the testbench drives streams only)."""

    def __init__(self, dp: Datapath, step: int, step2: int | None = None):
        self.dp, self.step, self.step2 = dp, step, step2
        unit = VectorStepParameters(dp, 1 if step2 is None else 2)
        self.latency, self.interval = unit.latency, unit.interval
        super().__init__(
            {"i": In(unit.signature.members["i"].signature), "o": Out(unit.signature.members["o"].signature)}
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.step = vs = VectorStepParameters(self.dp, 1 if self.step2 is None else 2).create()
        m.d.comb += [
            vs.i.valid.eq(self.i.valid),
            vs.i.payload.eq(self.i.payload),
            vs.step.eq(self.step),
            self.o.valid.eq(vs.o.valid),
            self.o.payload.eq(vs.o.payload),
        ]
        if self.step2 is not None:
            m.d.comb += vs.step2.eq(self.step2)
        return m


@pytest.mark.parametrize("fmt, dmax", [(Q(2, 20), 3), (Q(3, 44), 2)], ids=["Q2.20-D3", "Q3.44-D2"])
def test_vector_step_is_bit_exact(fmt, dmax):
    rng = np.random.default_rng(dmax)
    dp = Datapath(fmt, 64, dmax)
    _, c = dp.constants(float(rng.uniform(2, 50)))
    unit = StepAt(dp, c)
    # the reciprocal square roots' polynomials share one product each: an input every 1 + 5·degree cycles
    assert unit.interval == max(dmax, 3, *(1 + 5 * u.table.degree for u in (dp.force_rsqrt, dp.moved_rsqrt)))
    r = rng.standard_normal((COUNT, dmax))
    r = fmt.from_float(r / np.linalg.norm(r, axis=1, keepdims=True))
    force = rng.standard_normal((COUNT, dmax)) * 2.0 ** rng.integers(-20, 6, (COUNT, 1))
    acc = np.round(force * 2.0**dp.acc_fmt.f).astype(np.int64)
    acc[:3] = 0  # no force: the vector stays
    delta = rng.integers(1, 4 << fmt.f, COUNT)
    new, s = VectorStepParameters(dp).compute(r, delta, acc, c)
    payloads = [{"force": a.tolist(), "r": x.tolist(), "delta": int(d)} for a, x, d in zip(acc, r, delta)]
    gaps = (unit.interval - 1 + rng.integers(0, 3, COUNT)).tolist()  # as close as the interval allows
    out, cycles = stream_through(unit, payloads, gaps)
    assert [o["r"] for o in out] == new.tolist()
    assert [o["s"] for o in out] == s.tolist()
    clock = np.concatenate([[0], np.cumsum(np.array(gaps) + 1)[:-1]])
    assert cycles == (clock + unit.latency).tolist()


def test_two_candidates_alternate_the_step():
    """``candidates=2``: each input takes 1/(2β) from ``step`` or, with ``second``, from ``step2`` — inputs
    alternating (as the loosening updater sends them) and at random, as close as the interval allows."""
    fmt, dmax = Q(3, 44), 3
    rng = np.random.default_rng(7)
    dp = Datapath(fmt, 64, dmax)
    _, c1 = dp.constants(20.0)
    _, c2 = dp.constants(20.0 * (1 + 1 / 3))
    unit = StepAt(dp, c1, c2)
    count = 200
    r = rng.standard_normal((count, dmax))
    r = fmt.from_float(r / np.linalg.norm(r, axis=1, keepdims=True))
    acc = np.round(
        rng.standard_normal((count, dmax)) * 2.0 ** rng.integers(-20, 6, (count, 1)) * 2.0**dp.acc_fmt.f
    ).astype(np.int64)
    delta = rng.integers(1, 4 << fmt.f, count)
    second = np.concatenate([np.arange(count // 2) % 2, rng.integers(0, 2, count - count // 2)])
    new1, s1 = VectorStepParameters(dp).compute(r, delta, acc, c1)
    new2, s2 = VectorStepParameters(dp).compute(r, delta, acc, c2)
    payloads = [
        {"force": a.tolist(), "r": x.tolist(), "delta": int(d), "second": int(k)}
        for a, x, d, k in zip(acc, r, delta, second)
    ]
    out, _ = stream_through(unit, payloads, [unit.interval - 1] * count)
    want = np.where(second[:, None] == 1, new2, new1)
    assert [o["r"] for o in out] == want.tolist()
    assert [o["s"] for o in out] == np.where(second == 1, s2, s1).tolist()
    assert (new1 != new2).any()  # the two steps differ: the test can tell them apart


def test_candidates_are_checked():
    dp = Datapath(Q(2, 20), 64, 3)
    for bad in (0, 3, True, "2", 2.0):
        with pytest.raises(ValueError, match=f"candidates must be 1 or 2, not {bad!r}"):
            VectorStepParameters(dp, bad)
