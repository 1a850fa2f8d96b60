"""On-chip force loosening, bit-exact: both candidates in one sweep, the choice and the constants on chip.

A loosening iteration needs r', S' (β = 2l) and r'', S'' (β = 2l(1 + 1/n)) from the same r. Everything up
to the repulsion weight's log is common to both: one pass over the pairs computes d², δ_j and 1/δ_j once;
then two weights (the same L = log2(1 + ρ), t = (β/2)·L with the two β/2), two force accumulators and two
per-vector steps (:meth:`~spherecode.hw.dataflow.vector_step.VectorStep.compute`) give the two candidates. The
choice and the next iteration's (β/2, 1/(2β)) pairs come from
:class:`~spherecode.hw.dataflow.loosening_control.LooseningControl`'s own model, so a run of K iterations is fixed point
from the first LOAD to the last READ. It is the model of the RTL's on-chip loosening
(:class:`~spherecode.hw.dataflow.core.UpdaterCore` with ``CoreConfig(loosening=True)``: whole runs equal
:func:`loosen` bit for bit under Verilator, tests/hw/test_core_loosening.py); :func:`sweep` equals two
:func:`~.updater.iterate` calls bit for bit (tested).

Cycles per loosening iteration, exactly as the RTL's counter gives them (:meth:`CoreConfig.iteration_cycles
<spherecode.hw.config.CoreConfig.iteration_cycles>`, docs/architecture.md)::

    cycles = N·max(⌈N/L⌉, C) + ⌈N/L⌉ + (T − 2) + T_L

the update's formula (:meth:`CoreConfig.cycles`) without its N·D load and the core's two cycles (the
vectors stay in the vector memory, the kept candidate's set becomes the old set), the two candidates'
units side by side with the update's latencies, and T_L = ``LooseningControl.latency`` + 1: the choice
and the next constants (the next sweep starts the cycle they are ready). A whole run is
:meth:`CoreConfig.run_cycles <spherecode.hw.config.CoreConfig.run_cycles>` =
max(N·D + 3, ``LooseningControl.load_latency``) + K·cycles + N + 2: the load (overlapped with the
control's start state), K iterations, and the kept vectors streamed out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...hw.config import CoreConfig
from ...hw.datapath import Datapath
from ...hw.dataflow.loosening_control import LooseningControlParameters, LooseningState
from ..loosening import LooseningIteration
from .updater import IterationResult, sweep_rows

__all__ = ["sweep", "loosen", "iteration_cycles", "run_cycles", "control"]


def control(dp: Datapath) -> LooseningControlParameters:
    """The loosening control of ``dp``'s configuration (its parameters and model)."""
    return LooseningControlParameters(dp)


def iteration_cycles(config: CoreConfig, n: int, d: int) -> int:
    """Cycles of one on-chip loosening iteration of N vectors in D dimensions (the module docstring):
    :meth:`CoreConfig.iteration_cycles <spherecode.hw.config.CoreConfig.iteration_cycles>` (D does not
    enter: the vectors stay on chip)."""
    return config.iteration_cycles(n)


def run_cycles(config: CoreConfig, n: int, d: int, iterations: int) -> int:
    """Cycles of a whole on-chip run, ``start`` to ``done``: :meth:`CoreConfig.run_cycles
    <spherecode.hw.config.CoreConfig.run_cycles>` — the load, ``iterations`` loosening iterations, the
    kept vectors out."""
    return config.run_cycles(n, d, iterations)


def sweep(
    dp: Datapath,
    r: np.ndarray,
    keep: tuple[int, int],
    raise_: tuple[int, int],
    threads: int = 1,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[IterationResult, IterationResult]:
    """Both candidates of one loosening iteration from raw ``r`` (N, D): ``keep`` and ``raise_`` are the raw
    (β/2, 1/(2β)) pairs; returns (r', S', δ) and (r'', S'', δ), equal to ``iterate(dp, r, *keep)`` and
    ``iterate(dp, r, *raise_)``: the update's row pass (:func:`~.updater.sweep_rows`) with two pairs of
    constants, d², δ and 1/δ once. ``on_rows(k)`` is told after each block of k rows."""
    delta, [(new1, s1), (new2, s2)] = sweep_rows(dp, r, [keep, raise_], threads, on_rows)
    return IterationResult(new1, s1, delta), IterationResult(new2, s2, delta)


def loosen(
    dp: Datapath,
    r: np.ndarray,
    iterations: int,
    state: LooseningState | None = None,
    threads: int = 1,
    on_iteration: Callable[[LooseningIteration], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, LooseningState, list[LooseningIteration], IterationResult]:
    """``iterations`` on-chip loosening iterations from raw ``r`` (N, D) and the control's ``state`` (its
    reset state when None). Returns (raw vectors, final state, the iterations as :class:`LooseningIteration`
    records with the chip's β and S as floats, the last kept candidate)."""
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations!r}")
    unit = control(dp)
    state = unit.initial() if state is None else state
    r = np.asarray(r, dtype=np.int64)
    trace: list[LooseningIteration] = []
    kept = None
    for _ in range(iterations):
        keep, raise_ = unit.constants(state)
        first, second = sweep(dp, r, keep, raise_, threads, on_rows)
        after = unit.compute(state, first.move_norm, second.move_norm)
        kept = second if after.raised else first
        r = kept.vectors
        half_beta_ulp, s_ulp = dp.half_beta_fmt.ulp, dp.s_fmt.ulp
        record = LooseningIteration(
            state.n,
            2 * keep[0] * half_beta_ulp,
            2 * raise_[0] * half_beta_ulp,
            first.move_norm * s_ulp,
            second.move_norm * s_ulp,
            after.raised,
        )
        trace.append(record)
        if on_iteration is not None:
            on_iteration(record)
        state = after
    return r, state, trace, kept
