"""Pipeline helpers shared by the units."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, unsigned
from amaranth.lib import memory

__all__ = ["delay", "ram_delay"]


def delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers in the sync domain (0: ``value`` itself)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}") if isinstance(value, Signal) else Signal(value.shape(), name=f"{name}_d{k + 1}")
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
    out = Signal.like(value, name=f"{name}_late") if isinstance(value, Signal) else Signal(value.shape(), name=f"{name}_late")
    m.d.comb += Value.cast(out).eq(rp.data)
    return out


def parameters_only(unit):
    """Mark ``unit`` as a holder of parameters (formats, tables, latency) for a model or a parent's
    arithmetic, never placed in a design: Amaranth then does not warn that it went unused."""
    unit._MustUse__silence = True
    return unit
