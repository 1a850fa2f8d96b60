"""The pipeline helpers: ``delay`` (a chain of registers, or a ring buffer in simulation) and the gated clock of
``gate_when_idle``, under Amaranth's simulator."""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.sim import Simulator

from spherecode.hw.pipeline import RING_MIN, SimulationPlatform, delay, gate_when_idle, gates_idle_clocks


def run(m: Module, drive: list[list], probe) -> list[int]:
    """Clock ``m`` once per entry of ``drive`` ((signal, value) pairs, set before the edge); the values
    of ``probe`` after each edge."""
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        for values in drive:
            for signal, value in values:
                ctx.set(signal, value)
            await ctx.tick()
            seen.append(ctx.get(probe))

    sim.add_testbench(bench)
    sim.run()
    return seen


def counter_behind_gate():
    """A counter on the sync clock gated by ``want``: it counts the edges it is given."""
    want, count = Signal(), Signal(8)
    body = Module()
    body.d.sync += count.eq(count + 1)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.gated = gate_when_idle(body, want, "unit")
    return top, want, count, sync


def test_gated_registers_take_only_the_edges_that_end_cycles_where_want_is_high():
    top, want, count, _ = counter_behind_gate()
    pattern = [1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1]
    seen = run(top, [[(want, w)] for w in pattern], count)
    expected, c = [], 0
    for w in pattern:
        c += w
        expected.append(c)
    assert seen == expected


def test_gate_opens_for_the_reset_of_the_sync_domain():
    top, want, count, sync = counter_behind_gate()
    drive = [[(want, 1)]] * 3 + [[(want, 0), (sync.rst, 1)], [(want, 0), (sync.rst, 0)], [(want, 1)]]
    assert run(top, drive, count) == [1, 2, 3, 0, 0, 1]


def test_delay_is_a_chain_of_registers():
    x, m = Signal(8), Module()
    m.domains.sync = ClockDomain()
    y = delay(m, x, 3, "x")
    assert run(m, [[(x, v)] for v in range(1, 9)], y) == [0, 0, 1, 2, 3, 4, 5, 6]  # x set before edge k is out after edge k + 2
    assert delay(m, x, 0, "none") is x


@pytest.mark.parametrize("platform, gated", [(None, False), (SimulationPlatform(), True), (object(), False)])
def test_only_the_simulation_platform_gates_idle_clocks(platform, gated):
    assert gates_idle_clocks(platform) is gated


@pytest.mark.parametrize("cycles", [1, 3, 4, 7])
def test_delay_in_simulation_is_the_same_as_the_chain(cycles):
    rng = np.random.default_rng(cycles)
    values = [int(v) for v in rng.integers(0, 256, 20)]
    outputs = []
    for platform in (None, SimulationPlatform()):
        x, m = Signal(8), Module()
        m.domains.sync = ClockDomain()
        if platform is None:
            y = delay(m, x, cycles, "x")
        else:
            with platform:
                y = delay(m, x, cycles, "x")
        rings = [name for name in m._named_submodules if name.endswith("_ring")]
        assert len(rings) == (platform is not None and cycles >= RING_MIN)
        outputs.append(run(m, [[(x, v)] for v in values], y))
    assert outputs[0] == outputs[1] == [0] * (cycles - 1) + values[:len(values) - cycles + 1]


def test_a_zero_width_delay_stays_a_chain_in_simulation():
    m = Module()
    with SimulationPlatform():
        delay(m, Signal(0), 5, "empty")
    assert not m._named_submodules
