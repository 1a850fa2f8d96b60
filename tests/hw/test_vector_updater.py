"""The whole updater (UpdaterCore) under Verilator against the bit-exact model, for several lane counts."""

import numpy as np
import pytest

from spherecode.host.model.updater import ModelBackend
from spherecode.host.reference import random_start
from spherecode.hw.config import CoreConfig
from spherecode.sim.backend import SimBackend

NMAX, DMAX = 16, 3


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


@pytest.fixture(scope="module", params=[("Q2.20", 1), ("Q2.20", 2), ("Q2.20", 4), ("Q3.44", 1)],
                ids=["Q2.20-L1", "Q2.20-L2", "Q2.20-L4", "Q3.44-L1"])
def backends(request):
    fmt, lanes = request.param
    config = CoreConfig(fmt, NMAX, DMAX, lanes)
    sim = SimBackend(config)
    yield sim, ModelBackend(config)
    sim.close()


def test_rtl_iteration_is_bit_exact(backends):
    sim, model = backends
    for r, beta in cases(np.random.default_rng(sim.core.lanes)):
        n, d = r.shape
        a, b = sim.update(r, beta), model.update(r, beta)
        np.testing.assert_array_equal(a.vectors, b.vectors)
        assert a.move_norm == b.move_norm
        assert a.stats["delta_min"] == b.delta.min()
        assert a.stats["cycles"] == sim.config.cycles(n, d) == b.stats["cycles"]  # the documented formula, exactly
        tol = 8 * sim.dp.fmt.ulp
        np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=tol)


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
