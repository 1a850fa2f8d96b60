"""The method registry: every way a start can turn its initial vectors into a code, by name.

A :class:`Method` is a name, a one-line description (the CLI's ``--method`` help) and a function
``optimize(vectors0, iterations, on_iteration) -> (vectors, stats, final_beta)``: ``vectors0`` (N, D) float64 unit
rows, ``iterations`` the method's own budget (``--iters``), ``on_iteration`` None or called after each of its
iterations; it returns unit rows (N, D), a stats dict (JSON-able numbers) and the final β of force loosening,
or None for methods that have none. ``vrf`` alone runs on the task's backend (``reference``, ``model``,
``sim``, ``board``): its ``optimize`` takes the backend as a keyword; every other method is a float64 host
method (``backends == ("reference",)``). :mod:`.starts` runs them, :mod:`.table` sweeps them, :mod:`.cli`
offers them: adding a method here adds it everywhere.

The optimisers are imported when a method runs, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Method", "METHODS", "get_method", "names"]


@dataclass(frozen=True)
class Method:
    name: str
    description: str  #: one line, for ``--method`` help
    optimize: Callable[..., tuple[np.ndarray, dict, float | None]]
    backends: tuple[str, ...] | None = ("reference",)  #: the backends it runs on; None: any (the task's own)

    def __post_init__(self):
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"a method name must be a nonempty identifier, not {self.name!r}")
        if not self.description or "\n" in self.description:
            raise ValueError(f"a method description must be one nonempty line, not {self.description!r}")
        if not callable(self.optimize):
            raise ValueError(f"a method's optimize must be callable, not {self.optimize!r}")

    @property
    def host_only(self) -> bool:
        """True for a float64 host method (``--backend reference`` only)."""
        return self.backends is not None


def _vrf(vectors, iterations, on_iteration, *, backend):
    from ..loosening import force_loosening

    result = force_loosening(backend, vectors, iterations, on_iteration=on_iteration)
    return result.vectors, result.stats, 2.0 * result.l


def _cg(vectors, iterations, on_iteration):
    from .cg import cg_optimize

    return (*cg_optimize(vectors, iterations, on_iteration), None)


def _riesz(vectors, iterations, on_iteration):
    from .riesz import riesz_optimize

    return (*riesz_optimize(vectors, iterations, on_iteration), None)


def _penalty(vectors, iterations, on_iteration):
    from .penalty import penalty_optimize

    return (*penalty_optimize(vectors, iterations, on_iteration), None)


def _rrr(vectors, iterations, on_iteration):
    from .rrr import rrr_optimize

    return (*rrr_optimize(vectors, iterations, on_iteration), None)


#: name → method, in the order the CLI lists them.
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "vrf",
            "variable-repulsion-force with force loosening (Stanojević, Šenk, Milutinović; on --backend); K iterations",
            _vrf,
            backends=None,
        ),
        Method("cg", "Riesz-energy conjugate gradients, exponent doubling (Wang 2008; float64); K CG iterations", _cg),
        Method("riesz", "projected gradient descent on the Riesz energy, rising exponent (float64); K steps", _riesz),
        Method("penalty", "max t with a quadratic penalty on pairs closer than t (float64); K steps", _penalty),
        Method("rrr", "RRR divide-and-concur, target distance by bisection (Elser; float64); K RRR iterations", _rrr),
    )
}


def names() -> tuple[str, ...]:
    """The registered method names, in order."""
    return tuple(METHODS)


def get_method(name: str) -> Method:
    """The method called ``name``; ``ValueError`` (one line) for an unknown one."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r} (available: {', '.join(METHODS)})") from None
