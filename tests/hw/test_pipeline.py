"""The pipeline helpers: ``ram_delay`` gives ``delay``'s values, cycle for cycle, from a memory ring."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from spherecode.hw.pipeline import RAM_DELAY_MIN, delay, ram_delay


@pytest.mark.parametrize("cycles", [0, 1, RAM_DELAY_MIN, 4, 5, 34, 58])
def test_ram_delay_equals_register_delay(cycles):
    """Random words (a struct view, as the updater's vectors are) through both, 200 cycles: equal from the
    start (the ring starts at zero in simulation, as block RAM does after configuration); a ring is built
    only from RAM_DELAY_MIN cycles on."""
    m = Module()
    layout = data.ArrayLayout(signed(13), 3)
    x = Signal(layout)
    ticks = Signal(8)
    m.d.sync += ticks.eq(ticks + 1)  # a sync domain even for 0 cycles
    regs = delay(m, x, cycles, "regs")
    ring = ram_delay(m, x, cycles, "ring")
    assert (f"ring_ring" in m._named_submodules) == (cycles >= RAM_DELAY_MIN)
    words = np.random.default_rng(cycles).integers(-(1 << 12), 1 << 12, (200, 3))
    seen = []

    async def bench(ctx):
        for w in words:
            for k in range(3):
                ctx.set(x[k], int(w[k]))
            await ctx.tick()
            seen.append(([ctx.get(regs[k]) for k in range(3)], [ctx.get(ring[k]) for k in range(3)]))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    got_regs = np.array([s[0] for s in seen])
    got_ring = np.array([s[1] for s in seen])
    np.testing.assert_array_equal(got_ring, got_regs)
    # and that is the delay: a value set before tick t is seen after tick t + cycles − 1 (0: at once)
    lag = max(cycles - 1, 0)
    np.testing.assert_array_equal(got_regs[lag:], words[: len(words) - lag])
