"""The bit-exact whole-iteration model, what the ``model`` backend (:mod:`spherecode.host.backends.model`)
computes with: the paper's steps 1–5 on raw fixed-point integers, written as the RTL
(:class:`~spherecode.hw.dataflow.vector_updater.VectorUpdater`) computes a row, each step the ``compute``
model of the unit that does it in the gateware (:class:`~spherecode.hw.datapath.Datapath` holds them):

1. δ path: d²(r_j, r_i) for every i (:class:`~spherecode.hw.units.distance.SquaredDistance`), and
   δ_j = min_i d² with the pair i = j masked (:class:`~spherecode.hw.units.distance.RunningMin`);
2. 1/δ_j, once per row (:class:`~spherecode.hw.units.reciprocal.Reciprocal`);
3. force path, on the same d² row: w_ji (:class:`~spherecode.hw.units.weight.RepulsionWeight`), the force product
   w_ji·(r_j − r_i) (:class:`~spherecode.hw.units.multiplier.Multiplier`) and the exact accumulation F*_j;
4. steps 3–5 for r_j (:class:`~spherecode.hw.dataflow.vector_step.VectorStep`).

Rows are processed in blocks (memory O(N · block · D)), every step vectorised over the block. The RTL's
lanes each see every L-th i and take the minimum and the sum across lanes at the end of a row; both are
exact, so one row over all i gives the same bits. Force products are only formed where w ≠ 0: the others
are exactly 0 in the RTL too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...hw.datapath import Datapath
from ...hw.dataflow.vector_step import VectorStep, VectorStepParameters
from ..pairs import block_ranges

__all__ = ["IterationResult", "iterate", "sweep_rows"]

_BLOCK_PAIRS = 1 << 16


@dataclass(frozen=True)
class IterationResult:
    vectors: np.ndarray  #: (N, D) raw new coordinates
    move_norm: int  #: raw S (UQ of ``Datapath.s_fmt``)
    delta: np.ndarray  #: (N,) raw δ_j


def rows(
    dp: Datapath, vector_step: VectorStep, r: np.ndarray, j0: int, j1: int, constants: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Rows j0:j1 of one sweep over raw ``r`` (N, D): δ_j and, for each raw (β/2, 1/(2β)) pair of
    ``constants``, (r'_j, S_j). Steps 1–2 are computed once whatever the number of pairs (the on-chip
    loosening sweep gives two, :mod:`.chip_loosening`); steps 3–4 once per pair."""
    n, block, count = r.shape[0], r[j0:j1], j1 - j0
    # 1. δ path: the row of d², then its masked running minimum (a row is i = 0 … N − 1)
    d2 = dp.distance.compute(block[:, None, :], r[None, :, :])  # (count, N)
    flags = np.zeros((3, count, n), dtype=bool)
    flags[0, :, 0] = flags[1, :, -1] = True  # first, last
    flags[2, np.arange(count), np.arange(j0, j1)] = True  # mask: the pair i = j
    delta = dp.running_min.compute(d2.ravel(), *(f.ravel() for f in flags))
    # 2. 1/δ_j, once per row
    r_mant, r_exp = dp.reciprocal.compute(delta)
    out = []
    for half_beta, step in constants:
        # 3. force path: w_ji on the d² row, w_ji·(r_j − r_i) (the difference exact), summed exactly
        w = dp.weight.compute(delta[:, None], d2, half_beta, (r_mant[:, None], r_exp[:, None]))
        jj, ii = np.nonzero(w)  # row-major: jj ascending
        prods = dp.force_product.compute(w[jj, ii], block[jj] - r[ii])
        sums = np.concatenate([np.zeros((1, r.shape[1]), dtype=np.int64), np.cumsum(prods, axis=0)])
        ends = np.searchsorted(jj, np.arange(count + 1))
        force = sums[ends[1:]] - sums[ends[:-1]]  # F*_j, in the accumulator format
        # 4. steps 3–5
        out.append(vector_step.compute(block, delta, force, step))
    return delta, out


def sweep_rows(
    dp: Datapath,
    r: np.ndarray,
    constants: Sequence[tuple[int, int]],
    threads: int = 1,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """One sweep over every row of raw ``r`` (N, D) by blocks of rows (about 2^16 pairs per block and pair
    of constants), on ``threads`` threads: δ (N,) and, per pair of ``constants``, (raw r' (N, D), raw S).
    ``on_rows(k)`` is told after each block of k rows."""
    r = np.asarray(r, dtype=np.int64)
    n = r.shape[0]
    vector_step = VectorStepParameters(dp)

    def work(block):
        out = rows(dp, vector_step, r, *block, constants)
        if on_rows is not None:
            on_rows(block[1] - block[0])
        return out

    ranges = block_ranges(n, max(1, _BLOCK_PAIRS // (len(constants) * n)))
    if threads > 1 and len(ranges) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(work, ranges))
    else:
        parts = [work(block) for block in ranges]
    delta = np.concatenate([p[0] for p in parts])
    return delta, [
        (np.concatenate([p[1][k][0] for p in parts]), int(sum(int(p[1][k][1].sum()) for p in parts)))
        for k in range(len(constants))
    ]


def iterate(
    dp: Datapath,
    r: np.ndarray,
    half_beta: int,
    step: int,
    threads: int = 1,
    on_rows: Callable[[int], None] | None = None,
) -> IterationResult:
    """One iteration on raw coordinates ``r`` (N, D), D ≤ dmax, N ≤ nmax, with raw β/2 and 1/(2β);
    ``on_rows(k)`` is told after each block of k rows (progress)."""
    delta, [(new, s)] = sweep_rows(dp, r, [(half_beta, step)], threads, on_rows)
    return IterationResult(new, s, delta)
