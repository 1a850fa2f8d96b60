"""Force loosening (paper §II.C): raise β as fast as the move norm allows.

1. n := 1, l := 2.
2. From r, with β = 2l, compute r' and S'.
3. From r, with β = 2l(1 + 1/n), compute r'' and S''.
4. If S' > S'', r := r'; otherwise r := r'' and l := l(1 + 1/n).
5. n := n + 1; repeat.

Written against :class:`~spherecode.host.backends.base.Backend` only, so every execution plugs in unchanged;
a backend whose ``loosening`` is ``"chip"`` runs the whole run itself (its ``loosen``: the choice and β in
fixed point, :mod:`spherecode.host.model.chip_loosening`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backends.base import Backend, Update

__all__ = ["LooseningIteration", "LooseningResult", "force_loosening", "max_beta"]


@dataclass(frozen=True)
class LooseningIteration:
    """One loosening iteration: the two candidates and which one was kept."""

    n: int
    beta_keep: float  #: β = 2l
    beta_raise: float  #: β = 2l(1 + 1/n)
    s_keep: float  #: S'
    s_raise: float  #: S''
    raised: bool  #: True when r'' was kept and l raised


@dataclass
class LooseningResult:
    vectors: np.ndarray  #: (N, D) the vectors after the last iteration
    l: float  #: final l (the last kept β is 2l or 2l/(1 + 1/n))
    trace: list[LooseningIteration] = field(default_factory=list)
    #: ``updates`` made, the seconds spent in them and, from hardware, their ``cycles``
    stats: dict = field(default_factory=dict)


def max_beta(iterations: int) -> float:
    """The largest β that ``iterations`` loosening iterations can ask a backend for: l ≤ 2n after n − 1
    iterations (every raise multiplies l by 1 + 1/m, a telescoping product), so iteration n asks for
    β = 2l(1 + 1/n) ≤ 4(n + 1)."""
    return 4.0 * (iterations + 1)


def force_loosening(
    backend: Backend,
    vectors: np.ndarray,
    iterations: int,
    on_iteration: Callable[[LooseningIteration], None] | None = None,
    keep_trace: bool = False,
) -> LooseningResult:
    """Run ``iterations`` loosening iterations (each computes two updates) from ``vectors`` (N, D)."""
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    if getattr(backend, "loosening", "host") == "chip":  # the backend runs the whole run itself (on chip)
        return backend.loosen(vectors, iterations, on_iteration=on_iteration, keep_trace=keep_trace)
    r = vectors
    l = 2.0
    trace: list[LooseningIteration] = []
    stats: dict = {}
    for n in range(1, iterations + 1):
        grow = 1.0 + 1.0 / n
        t0 = time.perf_counter()
        first: Update = backend.update(r, 2.0 * l)
        second: Update = backend.update(r, 2.0 * l * grow)
        stats["update_seconds"] = stats.get("update_seconds", 0.0) + time.perf_counter() - t0
        raised = not first.move_norm > second.move_norm
        record = LooseningIteration(n, 2.0 * l, 2.0 * l * grow, first.move_norm, second.move_norm, raised)
        if raised:
            r = second.vectors
            l *= grow
        else:
            r = first.vectors
        for update in (first, second):
            stats["updates"] = stats.get("updates", 0) + 1
            if "cycles" in update.stats:
                stats["cycles"] = stats.get("cycles", 0) + update.stats["cycles"]
        if keep_trace:
            trace.append(record)
        if on_iteration is not None:
            on_iteration(record)
    return LooseningResult(r, l, trace, stats)
