"""The pipeline helpers: ``delay`` (a chain of registers, or a ring buffer in simulation), ``ram_delay`` (delay's
values, cycle for cycle, from a memory ring) and the gated clock of ``gate_when_idle``, under Amaranth's simulator."""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module, Signal, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from spherecode.hw.pipeline import (
    RAM_DELAY_MIN,
    RING_MIN,
    SimulationPlatform,
    delay,
    gate_when_idle,
    gates_idle_clocks,
    ram_delay,
)
from spherecode.hw.fixed import Q
from spherecode.hw.units.reciprocal import Reciprocal, ReciprocalParameters


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
    assert run(m, [[(x, v)] for v in range(1, 9)], y) == [
        0,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
    ]  # x set before edge k is out after edge k + 2
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
    assert outputs[0] == outputs[1] == [0] * (cycles - 1) + values[: len(values) - cycles + 1]


def test_a_zero_width_delay_stays_a_chain_in_simulation():
    m = Module()
    with SimulationPlatform():
        delay(m, Signal(0), 5, "empty")
    assert not m._named_submodules
    Fragment.get(m, None)


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
    assert ("ring_ring" in m._named_submodules) == (cycles >= RAM_DELAY_MIN)
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


def test_a_unit_takes_its_parameter_object():
    with pytest.raises(TypeError, match=r"^expected ReciprocalParameters, not Q\(i=3, f=44, signed=False\)$"):
        Reciprocal(Q(3, 44, signed=False))
    parameters = ReciprocalParameters(Q(3, 44, signed=False), 30)
    unit = parameters.create()
    assert unit.parameters is parameters and unit.latency == parameters.latency
    assert unit.signature == parameters.signature
    Fragment.get(unit, None)  # placed, so not reported unused
