"""The backends by name: ``reference`` (float64), ``model`` (bit-exact fixed point), ``sim`` (the RTL
under Verilator) and ``board`` (an FPGA board or its twin over a serial port).

Each is imported only when asked for, by module path, so that importing :mod:`spherecode.host` never
imports :mod:`spherecode.sim` (which imports the host's :mod:`.base`: the dependency runs one way). The
interface is :class:`.base.Backend`; :mod:`.hardware` holds what the fixed-point backends share.
"""

from __future__ import annotations

import importlib

from .base import Backend, Update

__all__ = ["BACKENDS", "Backend", "Update", "backend_class", "get_backend"]

#: Backend name → "module:class", imported on first use.
BACKENDS = {
    "reference": "spherecode.host.reference:ReferenceBackend",
    "model": "spherecode.host.model.loosening:LooseningModelBackend",
    "sim": "spherecode.host.backends.sim:SimBackend",
    "board": "spherecode.host.board:BoardBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The class of the backend called ``name``; ``ValueError`` for an unknown name."""
    try:
        module, cls = BACKENDS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown backend {name!r} (available: {', '.join(BACKENDS)})") from None
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, **options) -> Backend:
    """Build the backend called ``name`` from its keyword ``options`` (what its ``options()`` gave)."""
    return backend_class(name)(**options)
