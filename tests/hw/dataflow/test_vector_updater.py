"""The whole updater (UpdaterCore) under Verilator against the bit-exact model, for several lane counts
(1, 2, 3, 4 and 16: banks by i mod L, lanes past N masked), with the exact cycle formula checked against the
RTL's counter — for rows that read for ⌈N/L⌉ cycles and for rows that wait for the per-vector step. Half the
configurations are built as a board synthesises the core, half as the sim backend builds it by default (idle
units on gated clocks, long delays as ring buffers: hw/pipeline.py)."""

import re

import numpy as np
import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.vector_updater import MAX_LANES, VectorUpdaterParameters
from spherecode.host.backends.model import ModelBackend
from spherecode.host.backends.reference import random_start
from spherecode.hw.config import CoreConfig
from spherecode.host.backends.sim import SimBackend

NMAX, DMAX = 24, 3  # N = 24 rows do not wait in Q3.44 at L = 1 (the step's interval is 21)


def cases(rng):
    near = random_start(9, 3, np.random.default_rng(5))
    near[6] = near[2] + 1e-6 * rng.standard_normal(3)  # a near-coincident pair
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return [
        (random_start(2, 2, rng), 4.0),  # N = 2, D = 2
        (random_start(NMAX, 3, rng), 8.0),  # N = Nmax, D = Dmax
        (random_start(7, 2, rng), 2.0),  # β/2 = 1
        (random_start(11, 3, rng), 2 * 65536.0),  # β/2 = 65536: most weights 0
        (random_start(13, 3, rng), float(rng.uniform(4, 400))),
        (near, 30.0),
    ]


# (format, lanes, board): the board's design, or the sim backend's default elaboration (hw/pipeline.py)
CONFIGS = [
    ("Q2.20", 16, False),
    ("Q2.20", 3, True),
    ("Q2.20", 1, False),
    ("Q3.44", 1, False),
    ("Q2.20", 2, True),
    ("Q3.44", 3, True),
]


@pytest.mark.parametrize("lanes", [0, MAX_LANES + 1, -1, 2.0, "3", None])
def test_lanes_are_checked(lanes):
    with pytest.raises(ValueError, match=rf"lanes must be in 1\.\.16, not {lanes!r}"):
        VectorUpdaterParameters(CoreConfig(Q(2, 20), NMAX, DMAX).datapath, lanes)


@pytest.mark.parametrize("candidates", [0, 3, True, 2.0, "2", None])
def test_candidates_are_checked(candidates):
    with pytest.raises(ValueError, match=rf"candidates must be 1 or 2, not {re.escape(repr(candidates))}"):
        VectorUpdaterParameters(CoreConfig(Q(2, 20), NMAX, DMAX).datapath, 1, candidates)


def test_two_candidates_have_the_loosening_ports_and_the_same_rows():
    dp = CoreConfig(Q(2, 20), NMAX, DMAX).datapath
    one, two = VectorUpdaterParameters(dp, 3), VectorUpdaterParameters(dp, 3, 2)
    assert "sweep" not in one.signature.members and all(
        p in two.signature.members
        for p in ("half_beta2", "step2", "move_norm2", "load", "sweep", "choose", "raised", "emit")
    )
    # one step serves both candidates: candidate 2 enters it one interval after candidate 1
    c = one.step_unit.interval
    assert two.row_min == 2 * one.row_min == 2 * c and two.tail == one.tail + c
    assert two.sweep_cycles(11) == two.cycles(11) - 11 == 11 * max(4, 2 * c) + 4 + one.tail + c


def test_rows_wait_only_when_shorter_than_the_step():
    config = CoreConfig(Q(2, 20), 64, 3, 4)
    c = config.updater.row_min
    for n in range(2, 65):
        rows = max(-(-n // 4), c)
        assert config.cycles(n, 3) == n * 3 + n * rows + -(-n // 4) + config.updater.tail + 2
    assert config.updater.row_cycles(2) == c and config.updater.row_cycles(64) == 16


@pytest.fixture(
    scope="module", params=CONFIGS, ids=[f"{f}-L{lanes}-{'board' if board else 'sim'}" for f, lanes, board in CONFIGS]
)
def backends(request):
    fmt, lanes, board = request.param
    config = CoreConfig(fmt, NMAX, DMAX, lanes)
    sim = SimBackend(config, board_design=board)
    yield sim, ModelBackend(config)
    sim.close()


def test_rtl_iteration_is_bit_exact(backends):
    sim, model = backends
    waited = []
    for r, beta in cases(np.random.default_rng(sim.config.lanes)):
        n, d = r.shape
        a, b = sim.update(r, beta), model.update(r, beta)
        np.testing.assert_array_equal(a.vectors, b.vectors)
        assert a.move_norm == b.move_norm
        assert a.stats["delta_min"] == b.delta.min()
        assert a.stats["cycles"] == sim.config.cycles(n, d) == b.stats["cycles"]  # the documented formula, exactly
        waited.append(-(-n // sim.config.lanes) < sim.config.updater.row_min)
        tol = 8 * sim.dp.fmt.ulp
        np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=tol)
    if sim.config.updater.row_min > 1:  # N = 2 always has rows shorter than the step's interval
        assert any(waited) and (sim.config.lanes > 1 or not all(waited))


def test_out_of_range_configuration_is_refused(backends):
    sim, _ = backends
    coords = np.zeros((NMAX + 1) * 3, dtype=np.int64)
    with pytest.raises(ValueError, match="refused"):
        sim.exchange(NMAX + 1, 3, 1 << 16, 1 << 20, coords)
    with pytest.raises(ValueError, match="refused"):
        sim.exchange(4, DMAX + 1, 1 << 16, 1 << 20, np.zeros(16, dtype=np.int64))
    with pytest.raises(ValueError, match="refused"):
        sim.exchange(1, 3, 1 << 16, 1 << 20, np.zeros(3, dtype=np.int64))
    # and the core still works afterwards
    r = random_start(5, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(sim.update(r, 6.0).vectors, ModelBackend(sim.config).update(r, 6.0).vectors)
