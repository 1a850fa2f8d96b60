import numpy as np
import pytest

from spherecode.host.loosening import force_loosening
from spherecode.host.metrics import summary
from spherecode.host.backends.model import ModelBackend
from spherecode.host.model.updater import iterate
from spherecode.host.backends.reference import random_start, reference_update
from spherecode.hw.config import CoreConfig
from spherecode.hw.datapath import Datapath
from spherecode.hw.fixed import Q


@pytest.mark.parametrize("n, dim", [(2, 2), (50, 3), (40, 5)])
@pytest.mark.parametrize("beta", [4.0, 50.0, 3000.0])
def test_q3_44_tracks_the_float64_reference(n, dim, beta):
    r = random_start(n, dim, np.random.default_rng(n + dim))
    a = ModelBackend(CoreConfig("Q3.44", nmax=64, dmax=6)).update(r, beta)
    b = reference_update(r, beta)
    # d² of differences truncated to Q3.31: ≤ Σ_k 2|Δ_k|·2^−31 ≤ 2·2√D·2^−31 (docs/arithmetic.md); the
    # force's direction F in Q2.27 is within ≈ 2^−25 rad, so each move α·F (α = δ/(2β)) within α·2^−24
    # (with the 29-bit weights' and Q3.31 differences' share), and S = Σ|r' − r|² within 2^−22 relative.
    np.testing.assert_allclose(a.vectors, b.vectors, atol=b.delta.max() / (2 * beta) * 2.0**-24 + 1e-12)
    np.testing.assert_allclose(a.delta, b.delta, atol=4 * np.sqrt(dim) * 2.0**-31 + 2.0**-44)
    assert a.move_norm == pytest.approx(b.move_norm, rel=2.0**-22, abs=1e-12)


@pytest.mark.parametrize("fmt, nmax", [("Q3.44", 64), ("Q2.20", 1024), ("Q3.48", 16)])
def test_the_move_norm_is_exact(fmt, nmax):
    """S = Σ_j |r'_j − r_j|² with nothing rounded (2f fraction bits, docs/arithmetic.md): the model's raw S is
    the integer sum of the squared raw moves, from large moves (β = 4) down to moves of a few ulps."""
    config = CoreConfig(fmt, nmax=nmax)
    dp = config.datapath
    assert dp.s_fmt.f == 2 * dp.fmt.f and dp.s_fmt.width == 3 + nmax.bit_length() + 2 * dp.fmt.f
    r = random_start(16, 3, np.random.default_rng(7))
    for beta in (4.0, 1e3, 6e4):
        raw, hb, c = dp.inputs(r, beta)
        out = iterate(dp, raw, hb, c)
        want = sum((int(a) - int(b)) ** 2 for a, b in zip(np.ravel(out.vectors), np.ravel(raw)))
        assert isinstance(out.move_norm, int) and out.move_norm == want > 0
        r = out.vectors * dp.fmt.ulp


def test_narrow_format_is_close_and_unit_norm():
    r = random_start(30, 3, np.random.default_rng(1))
    a = ModelBackend(CoreConfig("Q2.20", nmax=64)).update(r, 12.0)
    assert np.abs(a.vectors - reference_update(r, 12.0).vectors).max() < 2e-5
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=8 * 2.0**-20)


def test_unit_norm_within_a_few_ulp():
    r = random_start(64, 6, np.random.default_rng(2))
    out = ModelBackend(CoreConfig("Q3.44", nmax=64, dmax=6)).update(r, 9.0).vectors
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=4 * 2.0**-44)


def test_deterministic_and_independent_of_blocks_and_threads(monkeypatch):
    import spherecode.host.model.updater as upd

    dp = Datapath(Q(3, 44), 256, 3)
    r = dp.fmt.from_float(random_start(200, 3, np.random.default_rng(3)))
    hb, c = dp.constants(10.0)
    a = iterate(dp, r, hb, c)
    monkeypatch.setattr(upd, "_BLOCK_PAIRS", 997)
    b = iterate(dp, r, hb, c, threads=2)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.delta, b.delta)
    assert a.move_norm == b.move_norm


def test_coincident_points_stay_finite():
    r = random_start(8, 3, np.random.default_rng(4))
    r[5] = r[2]
    out = ModelBackend(CoreConfig("Q3.44", nmax=16)).update(r, 6.0)
    assert out.delta[2] == 0 and out.delta[5] == 0
    assert np.all(np.isfinite(out.vectors))
    np.testing.assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-12)


def test_narrowest_format():
    with pytest.raises(ValueError, match=r"at least 17 fraction bits .*, not Q2\.16"):
        Datapath(Q(2, 16), 8, 3)
    backend = ModelBackend(CoreConfig("Q2.17", nmax=16, dmax=3))  # the narrowest format that builds does compute
    out = backend.update(random_start(12, 3, np.random.default_rng(0)), 8.0)
    assert np.all(np.isfinite(out.vectors)) and out.move_norm > 0


def test_icosahedron_on_the_model():
    r = random_start(12, 3, np.random.default_rng(0))
    out = force_loosening(ModelBackend(CoreConfig("Q3.44", nmax=16, dmax=3)), r, 600)
    assert summary(out.vectors)["min_angle_deg"] == pytest.approx(63.4349488, abs=1e-4)
