"""The bit-exact whole-iteration model (the ``model`` backend): the paper's steps 1–5 on raw fixed-point
integers, built from the unit models and the :class:`~spherecode.hw.datapath.Datapath` definition.

Rows are processed in blocks (memory O(N · block · D)); within a block, every step is a vectorised unit
model. Products are only formed where a weight is non-zero: the skipped values are exactly 0 in the RTL
too, so this changes no bit. Steps 3–5 are :meth:`~spherecode.hw.vector_step.VectorStep.compute`, the
model that lives beside its RTL.
"""

from __future__ import annotations

from collections.abc import Callable

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...hw.config import CoreConfig
from ...hw.datapath import Datapath
from ..backends.base import Update
from ..backends.hardware import FixedPointBackend, run_config
from ...hw.pipeline import parameters_only
from ...hw.vector_step import VectorStep
from ..pairs import block_ranges
from . import units

__all__ = ["IterationResult", "iterate", "ModelBackend"]

_BLOCK_PAIRS = 1 << 16


@dataclass(frozen=True)
class IterationResult:
    vectors: np.ndarray  #: (N, D) raw new coordinates
    move_norm: int  #: raw S (UQ of ``Datapath.s_fmt``)
    delta: np.ndarray  #: (N,) raw δ_j


def _force(dp: Datapath, r: np.ndarray, j0: int, j1: int, hb: int) -> tuple[np.ndarray, np.ndarray]:
    """δ_j and F*_j (raw accumulator) for rows j0:j1."""
    rows = r[j0:j1]
    diff = rows[:, None, :] - r[None, :, :]  # exact: Q(i + 1).f
    d2 = units.squared_distance(dp.distance, rows[:, None, :], r[None, :, :])
    masked = d2.copy()
    masked[np.arange(j1 - j0), np.arange(j0, j1)] = dp.d2_fmt.max_raw  # the pair i = j is masked
    delta = masked.min(axis=1)
    mant, exp = dp.reciprocal.compute(delta)  # 1/δ_j, once per row
    w = dp.weight.compute(delta[:, None], d2, hb, (mant[:, None], exp[:, None]))
    jj, ii = np.nonzero(w)
    prods = dp.force_product.compute(w[jj, ii], diff[jj, ii])
    acc = np.zeros((j1 - j0, r.shape[1]), dtype=np.int64)
    np.add.at(acc, jj, prods)
    return delta, acc


def iterate(dp: Datapath, r: np.ndarray, hb: int, c: int, threads: int = 1,
            on_rows: Callable[[int], None] | None = None) -> IterationResult:
    """One iteration on raw coordinates ``r`` (N, D), D ≤ dmax, N ≤ nmax, with raw β/2 and 1/(2β);
    ``on_rows(k)`` is told after each block of k rows (progress)."""
    r = np.asarray(r, dtype=np.int64)
    n = r.shape[0]
    step = parameters_only(VectorStep(dp))  # steps 3–5: its own bit-exact model
    ranges = block_ranges(n, max(1, _BLOCK_PAIRS // n))

    def work(rows):
        j0, j1 = rows
        delta, acc = _force(dp, r, j0, j1, hb)
        new, s = step.compute(r[j0:j1], delta, acc, c)
        if on_rows is not None:
            on_rows(j1 - j0)
        return delta, new, s

    if threads > 1 and len(ranges) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(work, ranges))
    else:
        parts = [work(rows) for rows in ranges]
    delta = np.concatenate([p[0] for p in parts])
    new = np.concatenate([p[1] for p in parts])
    s = int(sum(int(p[2].sum()) for p in parts))
    return IterationResult(new, s, delta)


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
