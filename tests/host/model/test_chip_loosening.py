"""On-chip force loosening in the model: the one-sweep candidates, the fixed-point run against the host's."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import Fragment, UnusedElaboratable

from spherecode.host.model.chip_loosening import (
    control,
    iteration_cycles,
    loosen,
    sweep,
)
from spherecode.host.model.updater import iterate
from spherecode.host.backends.reference import random_start
from spherecode.hw.config import CoreConfig


@pytest.mark.parametrize("fmt, n, d, threads", [("Q3.44", 24, 3, 1), ("Q2.20", 40, 4, 2)])
def test_one_sweep_equals_two_updates(fmt, n, d, threads):
    dp = CoreConfig(fmt, nmax=64, dmax=4).datapath
    raw, *first = dp.inputs(random_start(n, d, np.random.default_rng(n)), 9.0)
    second = dp.constants(13.5)
    a, b = sweep(dp, raw, tuple(first), second, threads)
    for got, want in ((a, iterate(dp, raw, *first)), (b, iterate(dp, raw, *second))):
        np.testing.assert_array_equal(got.vectors, want.vectors)
        np.testing.assert_array_equal(got.delta, want.delta)
        assert got.move_norm == want.move_norm


def test_the_run_replays_the_control_and_the_sweep():
    """loosen() is the control's choices on the sweep's S', S'': replay it by hand."""
    dp = CoreConfig("Q3.44", nmax=16).datapath
    raw, _, _ = dp.inputs(random_start(8, 3, np.random.default_rng(4)), 4.0)
    out, state, steps, _ = loosen(dp, raw, 12)
    unit, s, r = control(dp), control(dp).initial(), raw
    for step in steps:
        keep, up = unit.constants(s)
        a, b = sweep(dp, r, keep, up)
        s = unit.compute(s, a.move_norm, b.move_norm)
        r = b.vectors if s.raised else a.vectors
        assert s.raised == step.raised and step.s_keep == a.move_norm * dp.s_fmt.ulp
    np.testing.assert_array_equal(out, r)
    assert s == state and state.n == 13


def test_large_n_iteration_cycles_are_near_the_rows():
    """At N ≥ 256 an on-chip iteration is within 5 % of (N + 1)⌈N/L⌉, L = 1 and 4."""
    for lanes in (1, 4):
        config = CoreConfig("Q3.44", nmax=1024, lanes=lanes)
        for n in (256, 1024):
            rows = (n + 1) * -(-n // lanes)
            assert rows < iteration_cycles(config, n, 3) <= 1.05 * rows


def test_loosen_needs_an_iteration():
    dp = CoreConfig().datapath
    with pytest.raises(ValueError, match="iterations must be at least 1, not 0"):
        loosen(dp, np.zeros((4, 3), dtype=np.int64), 0)


def test_the_models_make_no_unit():
    """The models read parameter objects only: a whole loosening run and a plain update of the model make
    no Amaranth unit that is then left unused (Amaranth warns of each one when it is collected)."""
    config = CoreConfig("Q2.20", nmax=16, dmax=3, loosening=True)
    dp = config.datapath
    Fragment.get(dp.make("running_min"), None)  # Amaranth reports unused units once one was elaborated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = dp.fmt.from_float(random_start(8, 3, np.random.default_rng(0)))
        loosen(dp, r, 2)
        iterate(dp, r, *dp.constants(4.0))
        config.run_cycles(8, 3, 2)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, UnusedElaboratable)]
