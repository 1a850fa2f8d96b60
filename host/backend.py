"""The backend interface that force loosening, multi-start and the CLI are written against.

A backend computes one Jacobi iteration of the variable-repulsion-force method (the paper's steps 1–5,
every new vector from the old set) for a given β. The float64 ``reference`` backend is the quality oracle;
the fixed-point ``model``, the simulated RTL (``sim``) and a ``board`` plug in here without changes to
force loosening.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["Update", "Backend", "BACKENDS", "get_backend"]


@dataclass(frozen=True)
class Update:
    """The result of one iteration.

    Attributes
    ----------
    vectors : ndarray, shape (N, D), float64
        The new vectors r'_j, unit length.
    move_norm : float
        S = Σ_j |r'_j − r_j|² (paper eq. 13).
    delta : ndarray, shape (N,), float64, or None
        δ_j = min_{i≠j} |r_j − r_i|² of the *old* set (paper eq. 9); None where the hardware returns only
        their minimum (``stats["delta_min"]``).
    stats : dict
        Backend-specific figures (for hardware: ``cycles``).
    """

    vectors: np.ndarray
    move_norm: float
    delta: np.ndarray
    stats: dict = field(default_factory=dict)


class Backend(Protocol):
    """What force loosening needs from an execution of the method."""

    name: str

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        """One iteration of steps 1–5 with repulsion exponent ``beta`` (> 0) on ``vectors`` (N, D)."""
        ...


def _reference(**options) -> Backend:
    from .reference import ReferenceBackend

    return ReferenceBackend(**options)


def _model(**options) -> Backend:
    from .model.updater import ModelBackend

    return ModelBackend(**options)


def _sim(**options) -> Backend:
    from ..sim.backend import SimBackend

    return SimBackend(**options)


def _board(**options) -> Backend:
    from .board import BoardBackend

    return BoardBackend(**options)


#: Backend name → factory taking keyword options. Factories are module-level so that start tasks pickle.
BACKENDS = {"reference": _reference, "model": _model, "sim": _sim, "board": _board}


def get_backend(name: str, **options) -> Backend:
    """Build the backend called ``name``; raises ``ValueError`` for an unknown name."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r} (available: {', '.join(BACKENDS)})") from None
    return factory(**options)
