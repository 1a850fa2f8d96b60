"""Pipeline helpers shared by the units, and the simulation platform that makes the core cheap for
Verilator to evaluate: idle units on gated clocks (:func:`gate_when_idle`) and long delays as ring buffers
(:func:`delay`), each equivalent to the board's design for every result the core gives."""

from __future__ import annotations

import contextvars

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, Mux, ResetSignal, Signal, Value, unsigned
from amaranth.lib import memory

__all__ = [
    "delay",
    "ram_delay",
    "RAM_DELAY_MIN",
    "check_parameters",
    "keep_locals",
    "SimulationPlatform",
    "gates_idle_clocks",
    "gate_when_idle",
    "RING_MIN",
]


#: The platform being elaborated for inside ``with SimulationPlatform():`` (else None): :func:`delay` has no
#: ``platform`` argument of its own.
_ELABORATING_FOR = contextvars.ContextVar("spherecode_elaborating_for", default=None)
#: Fewest cycles :func:`delay` makes a ring buffer of in simulation (measured: a threshold of 2 was no faster).
RING_MIN = 4


def delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers in the sync domain (0: ``value`` itself).

    Inside ``with SimulationPlatform():`` a delay of :data:`RING_MIN` or more cycles (of a value at least
    one bit wide) is instead a ring buffer (a memory of ``cycles`` words, written and read at one rotating
    address, asynchronous read): Verilator then moves one word per clock instead of shifting ``cycles``
    registers. The output is the
    same in every cycle (``value`` of ``cycles`` cycles ago, 0 before), except after a reset in the
    middle of a run: the ring's words are not cleared (the sim backend resets its core only at start)."""
    if cycles >= RING_MIN and _ELABORATING_FOR.get() is not None and len(Value.cast(value)) > 0:
        ring = memory.Memory(shape=value.shape(), depth=cycles, init=[])
        m.submodules[f"{name}_ring"] = ring
        write, read = ring.write_port(), ring.read_port(domain="comb")
        at = Signal(range(cycles), name=f"{name}_at")
        m.d.sync += at.eq(Mux(at == cycles - 1, 0, at + 1))
        m.d.comb += [write.addr.eq(at), write.data.eq(value), write.en.eq(1), read.addr.eq(at)]
        return read.data  # the word written ``cycles`` edges ago, overwritten at the coming edge
    for k in range(cycles):
        reg = (
            Signal.like(value, name=f"{name}_d{k + 1}")
            if isinstance(value, Signal)
            else Signal(value.shape(), name=f"{name}_d{k + 1}")
        )
        m.d.sync += reg.eq(value)
        value = reg
    return value


#: Fewest cycles :func:`ram_delay` builds in memory; shorter delays are registers.
RAM_DELAY_MIN = 3


def ram_delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` cycles through a memory ring (one write and one read port, the read
    registered; a power-of-two depth ≥ ``cycles``; yosys maps it to block or distributed RAM) instead of
    ``cycles`` × width flip-flops. The output equals :func:`delay`'s on every cycle at least ``cycles``
    after configuration or simulation start; the ring is not reset, so after a reset it gives stale data for
    ``cycles`` cycles: only data qualified by a registered (reset) valid or tag may go through it, never a
    valid or a tag itself. Fewer than :data:`RAM_DELAY_MIN` cycles: :func:`delay`.

    Latency: written at cycle s to address s mod depth, read at cycle t − 1 from (t − cycles) mod depth,
    out at t; the address is rewritten at cycle t − cycles + depth ≥ t, after the read."""
    if cycles < RAM_DELAY_MIN:
        return delay(m, value, cycles, name)
    bits = Value.cast(value)
    depth = 1 << (cycles - 1).bit_length()
    ring = memory.Memory(shape=unsigned(len(bits)), depth=depth, init=[])
    m.submodules[f"{name}_ring"] = ring
    wp, rp = ring.write_port(), ring.read_port(transparent_for=())
    ptr = Signal(range(depth), name=f"{name}_ptr")
    m.d.sync += ptr.eq(ptr + 1)
    m.d.comb += [wp.addr.eq(ptr), wp.data.eq(bits), wp.en.eq(1), rp.addr.eq(ptr - (cycles - 1))]
    out = (
        Signal.like(value, name=f"{name}_late")
        if isinstance(value, Signal)
        else Signal(value.shape(), name=f"{name}_late")
    )
    m.d.comb += Value.cast(out).eq(rp.data)
    return out


def keep_locals(s, scope: dict, names: str) -> None:
    """Put a stage's signals ``names`` (space-separated, from its ``locals()``) into the namespace ``s`` for the
    later stages of an ``elaborate`` split into named stages (None where the configuration has no such
    signal). The signals keep the names of the stage's variables."""
    s.__dict__.update({name: scope.get(name) for name in names.split()})


def check_parameters(parameters, kind: type):
    """``parameters`` if it is a ``kind`` (a unit's parameter object, whose ``create()`` builds the unit);
    else a ``TypeError`` naming both."""
    if not isinstance(parameters, kind):
        raise TypeError(f"expected {kind.__name__}, not {parameters!r}")
    return parameters


class SimulationPlatform:
    """The ``platform`` that :mod:`spherecode.sim.core_server` elaborates the core for: units that work in
    short windows (the per-vector step's units, the reciprocal) run on gated copies of the clock
    (:func:`gate_when_idle`), so that Verilator, which evaluates a clock domain's logic only on that
    domain's edges, skips them while they are idle; and, elaborated inside ``with`` this platform, long
    delays are ring buffers (:func:`delay`). Not for synthesis: a board keeps one clock::

        with SimulationPlatform() as platform:
            text = rtlil.convert(core, platform=platform, ...)
    """

    gate_idle_clocks = True

    def __enter__(self) -> SimulationPlatform:
        self._token = _ELABORATING_FOR.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _ELABORATING_FOR.reset(self._token)


def gates_idle_clocks(platform) -> bool:
    """Whether ``platform`` asks for :func:`gate_when_idle`'s gated clocks (only a
    :class:`SimulationPlatform` does)."""
    return bool(getattr(platform, "gate_idle_clocks", False))


def gate_when_idle(body: Module, want, name: str) -> Module:
    """``body`` (a module whose logic is in the sync domain) on the sync clock gated by ``want``: its
    registers take the sync clock's rising edge that ends a cycle only where ``want`` is high in that cycle
    (sampled at the falling edge in the middle of the cycle, the glitch-free gate of an integrated
    clock-gating cell). Equivalent to a clock
    enable ``want`` on every register of ``body``, so a unit whose results depend only on registers
    clocked while it works (``want`` high from the cycle its input is taken until its last result is
    out) gives the same results as without the gate. Its reset is sync's as sampled at the falling
    edge: a reset that is high in the middle of a cycle resets ``body`` at the rising edge that ends it
    (the gate is open then). Returns the module that holds ``body``: use it in
    ``body``'s place."""
    outer = Module()
    gate, gated = f"{name}_gate", f"{name}_gated"
    outer.domains += [ClockDomain(gate, clk_edge="neg", reset_less=True, local=True), ClockDomain(gated, local=True)]
    # Both sampled at the falling edge: the gated logic then depends on no top-level input (Verilator
    # re-evaluates logic that depends on an input at every eval(), however many per clock).
    enable = Signal(name=f"{name}_clock_enable", init=1)
    reset = Signal(name=f"{name}_reset")
    outer.d[gate] += [enable.eq(want | ResetSignal("sync")), reset.eq(ResetSignal("sync"))]
    outer.d.comb += [
        ClockSignal(gate).eq(ClockSignal("sync")),
        ClockSignal(gated).eq(ClockSignal("sync") & enable),
        ResetSignal(gated).eq(reset),
    ]
    outer.submodules[name] = DomainRenamer({"sync": gated})(body)
    return outer
