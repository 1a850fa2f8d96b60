"""Pipeline helpers shared by the units."""

from __future__ import annotations

from amaranth.hdl import Module, Signal

__all__ = ["delay"]


def delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers in the sync domain (0: ``value`` itself)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}") if isinstance(value, Signal) else Signal(value.shape(), name=f"{name}_d{k + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def parameters_only(unit):
    """Mark ``unit`` as a holder of parameters (formats, tables, latency) for a model or a parent's
    arithmetic, never placed in a design: Amaranth then does not warn that it went unused."""
    unit._MustUse__silence = True
    return unit
