"""The ``model`` backend: the bit-exact fixed-point model (:mod:`spherecode.host.model`) behind the
:class:`~.base.Backend` interface, float64 in and out with exact conversions at the edges.
:class:`ModelBackend` runs updates (:func:`~spherecode.host.model.updater.iterate`);
:class:`LooseningModelBackend`, the registered one, adds ``--loosening chip|host`` (a whole on-chip run by
:func:`~spherecode.host.model.chip_loosening.loosen`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ...hw.config import CoreConfig
from ..loosening import LooseningIteration, LooseningResult
from ..model.chip_loosening import control, loosen, run_cycles
from ..model.updater import iterate
from .base import LOOSENING_MODES, Update, add_loosening_argument, loosening_mode
from .hardware import FixedPointBackend, run_config

__all__ = ["ModelBackend", "LooseningModelBackend"]


class ModelBackend(FixedPointBackend):
    """The bit-exact fixed-point model as a backend: float64 in and out, exact conversions at the edges.
    Options: ``--format``, ``--lanes`` (:mod:`~spherecode.host.backends.hardware`).

    Parameters
    ----------
    config : CoreConfig
        The core modelled (default ``CoreConfig()``); N ≤ Nmax and D ≤ Dmax are checked. Each update
        reports the ``cycles`` that core takes (:meth:`CoreConfig.cycles`, the exact formula).
    threads : int
        Threads sharing the row blocks.
    """

    name = "model"

    def __init__(self, config: CoreConfig | None = None, threads: int = 1):
        self.config = config if config is not None else CoreConfig()
        self.datapath = self.config.datapath
        self.threads = threads
        self.on_rows: Callable[[int], None] | None = None  #: progress: told after each block of rows

    @classmethod
    def options(cls, args, threads: int) -> dict:
        return {"config": run_config(args), "threads": threads}

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        dp = self.datapath
        out = iterate(dp, *dp.inputs(vectors, beta), self.threads, self.on_rows)
        return Update(
            out.vectors * dp.fmt.ulp,
            out.move_norm * dp.s_fmt.ulp,
            out.delta * dp.d2_fmt.ulp,
            {"cycles": self.config.cycles(*vectors.shape)},
        )


class LooseningModelBackend(ModelBackend):
    """The ``model`` backend with ``--loosening chip|host``: ``chip`` (the CLI's default) runs
    :func:`~spherecode.host.model.chip_loosening.loosen` — one sweep per iteration, the choice and the
    constants in fixed point, as the RTL with ``CoreConfig(loosening=True)``; ``host`` is the paper's system
    (:func:`spherecode.host.loosening.force_loosening` over :meth:`update`). The constructor's default is
    ``host``, which every existing caller assumes.

    Statistics of a chip run: ``iterations``, ``sweep_seconds``, ``cycles``
    (:func:`~spherecode.host.model.chip_loosening.run_cycles`) and ``load_cycles`` (the cycles outside the
    iterations: load and output); :meth:`report` gives its ``cycles_per_loosening_iteration`` (the
    fixed-point backends' report gives ``loosening`` and, for host-run loosening, two updates' cycles)."""

    def __init__(self, config: CoreConfig | None = None, threads: int = 1, loosening: str = "host"):
        if loosening not in LOOSENING_MODES:
            raise ValueError(f"loosening must be one of {', '.join(LOOSENING_MODES)}, not {loosening!r}")
        super().__init__(config, threads)
        self.loosening = loosening

    @classmethod
    def add_arguments(cls, parser) -> None:
        super().add_arguments(parser)
        add_loosening_argument(parser)

    @classmethod
    def options(cls, args, threads: int) -> dict:
        return {**super().options(args, threads), "loosening": loosening_mode(args, cls.name, LOOSENING_MODES, "chip")}

    def loosen(
        self,
        vectors: np.ndarray,
        iterations: int,
        on_iteration: Callable[[LooseningIteration], None] | None = None,
        keep_trace: bool = False,
    ) -> LooseningResult:
        """A whole on-chip run from float64 ``vectors`` (N, D): what the board would answer after one LOAD,
        one run command and one READ."""
        dp = self.datapath
        raw, _, _ = dp.inputs(vectors, 4.0)
        n, d = vectors.shape
        rows = self.on_rows
        t0 = time.perf_counter()
        new, state, trace, kept = loosen(
            dp,
            raw,
            iterations,
            threads=self.threads,
            on_iteration=on_iteration,
            on_rows=None if rows is None else (lambda k: rows(2 * k)),
        )
        stats = {
            "iterations": iterations,
            "sweep_seconds": time.perf_counter() - t0,
            "cycles": run_cycles(self.config, n, d, iterations),
            "load_cycles": self.config.load_cycles(n, d, iterations),
            "delta_min": float(kept.delta.min() * dp.d2_fmt.ulp),
            "final_n": state.n,
        }
        return LooseningResult(new * dp.fmt.ulp, control(dp).l_value(state), trace if keep_trace else [], stats)
