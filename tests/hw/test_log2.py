import numpy as np
import pytest

from spherecode.host.model import units as model
from spherecode.hw.distance import d2_format
from spherecode.hw.log2 import Log2

from .rtl import FORMATS, RANDOM, check_rtl, ids, log_uniform


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_log2_bit_exact_and_accurate(fmt):
    d2f = d2_format(fmt)
    unit = Log2(d2f)
    rng = np.random.default_rng(7)
    edges = [0, 1, 2, 3, d2f.max_raw, 1 << fmt.f, 4 << fmt.f, (1 << fmt.f) - 1, (1 << fmt.f) + 1]
    x = np.concatenate([edges, log_uniform(rng, -fmt.f, 3, RANDOM, fmt.f)])
    x = np.minimum(x, d2f.max_raw)
    expected = model.log2(unit, x)
    assert expected[0] == unit.out_fmt.min_raw  # log2 0 = −∞
    assert expected[5] == 0 and expected[6] == 2 << unit.out_fmt.f and expected[1] == -fmt.f << unit.out_fmt.f
    err = np.abs(expected[1:] * unit.out_fmt.ulp - np.log2(x[1:] * d2f.ulp))
    assert err.max() <= 0.6 * unit.out_fmt.ulp
    check_rtl(unit, [int(v) for v in x], expected.tolist())
