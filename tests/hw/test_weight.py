import numpy as np
import pytest

from spherecode.host.model import units as model
from spherecode.hw.distance import d2_format
from spherecode.hw.weight import RepulsionWeight

from .rtl import FORMATS, RANDOM, check_rtl, ids, log_uniform


def inputs(rng, fmt, n, max_half_beta_exp=16):
    d2 = np.minimum(log_uniform(rng, -fmt.f + 2, 2, n, fmt.f), 4 << fmt.f)
    delta = np.maximum((d2 * rng.uniform(0, 1, n) ** 4).astype(np.int64), 1)
    hb = (2.0 ** rng.uniform(0, max_half_beta_exp, n) * 2**16).astype(np.int64)
    return delta, d2, hb


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_weight_bit_exact(fmt):
    d2f = d2_format(fmt)
    unit = RepulsionWeight(d2f)
    rng = np.random.default_rng(10)
    one, four, hb1, hbmax = 1 << fmt.f, 4 << fmt.f, 1 << 16, 65536 << 16
    edge = np.array([
        # delta, d2, half_beta
        [one, one, hb1], [four, four, hbmax],           # d² = δ: w = 1
        [1, four, hb1], [1, 1, hbmax], [1, 2, hbmax],   # smallest δ; w underflows to 0
        [one, four, hb1], [one, four, hbmax],           # d² = 4
        [0, one, hb1], [0, 0, hb1], [one, 0, hb1],      # degenerate: δ = 0, d² = 0
    ])
    delta, d2, hb = inputs(rng, fmt, RANDOM)
    delta, d2, hb = (np.concatenate([edge[:, k], v]) for k, v in enumerate((delta, d2, hb)))
    expected = model.repulsion_weight(unit, delta, d2, hb)
    assert expected[:10].tolist()[:2] == [one, one]
    assert expected[3] == one and expected[4] == 0
    assert abs(expected[5] - one // 4) <= 1 and expected[6] == 0
    assert expected[7:10].tolist() == [0, one, one]
    check_rtl(unit, [{"delta": int(a), "d2": int(b), "half_beta": int(c)} for a, b, c in zip(delta, d2, hb)],
              expected.tolist())


def test_weight_accuracy_q3_44():
    """Relative error ≤ 2^−20 wherever w ≥ 2^−20, for β/2 ≤ 1024 (and, measured, up to 65536)."""
    fmt = FORMATS[0]
    unit = RepulsionWeight(d2_format(fmt))
    rng = np.random.default_rng(11)
    delta, d2, hb = inputs(rng, fmt, 200_000)
    w = model.repulsion_weight(unit, delta, d2, hb) * 2.0**-fmt.f
    ref = (delta / d2) ** (hb * 2.0**-16)
    big = ref >= 2.0**-20
    rel = np.abs(w - ref) / np.where(big, ref, 1.0)
    assert big.sum() > 20_000
    assert rel[big & (hb <= 1024 << 16)].max() <= 2.0**-20
    assert rel[big].max() <= 2.0**-20
