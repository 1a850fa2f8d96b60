"""The backends by name, one module each: ``reference`` (float64, :mod:`.reference`), ``model`` (bit-exact
fixed point, :mod:`.model`), ``sim`` (the RTL under Verilator, :mod:`.sim`) and
``board`` (an FPGA board or its twin over a serial port, :mod:`.board`).

Each is imported only when asked for, by module path, so that the command line starts without the simulator's
machinery. The interface is :class:`.base.Backend`; :mod:`.hardware` holds what the fixed-point backends share.
"""

from __future__ import annotations

import importlib

from .base import Backend, Update

__all__ = ["BACKENDS", "Backend", "Update", "backend_class", "get_backend"]

#: Backend name → "module:class", imported on first use.
BACKENDS = {
    "reference": "spherecode.host.backends.reference:ReferenceBackend",
    "model": "spherecode.host.backends.model:LooseningModelBackend",
    "sim": "spherecode.host.backends.sim:SimBackend",
    "board": "spherecode.host.backends.board:BoardBackend",
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
