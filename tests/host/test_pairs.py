"""Blocked all-pairs distances (host/pairs.py): the blocks cover every pair once, the closest pairs are
measured directly, and the one minimum distance."""

import numpy as np
import pytest

from spherecode.host.pairs import block_ranges, min_distance, pairs_below, squared_distance_blocks


def test_blocks_cover_every_row_once_and_give_every_squared_distance():
    v = np.random.default_rng(2).normal(size=(257, 3))
    d2 = np.sum((v[:, None] - v[None]) ** 2, axis=2)
    np.fill_diagonal(d2, np.inf)
    seen = np.zeros_like(d2)
    for start, stop, block in squared_distance_blocks(v, block=50):
        seen[start:stop] = block
    assert np.allclose(seen, d2, rtol=1e-12, atol=1e-12)
    assert [r for r in block_ranges(257, 50)][-1] == (250, 257)


def test_pairs_below_measures_directly_and_lists_each_pair_once():
    v = np.array([[0.0, 0.0], [1e-9, 0.0], [1.0, 0.0], [1.0, 0.5]])
    i, j, d = pairs_below(v, 0.6)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (2, 3)]
    assert np.allclose(sorted(d.tolist()), [1e-9, 0.5], rtol=1e-12, atol=0)  # 1e-9 exactly, not a d² roundoff


def test_min_distance_blocked_equals_direct_and_reports_its_rows():
    v = np.random.default_rng(1).normal(size=(300, 4))
    d2 = np.sum((v[:, None] - v[None]) ** 2, axis=2)
    np.fill_diagonal(d2, np.inf)
    rows = []
    assert min_distance(v, rows.append) == pytest.approx(np.sqrt(d2.min()), rel=1e-14)
    assert sum(rows) == 300
