import numpy as np
import pytest

from spherecode.host.model import units as model
from spherecode.hw.exp2 import Exp2
from spherecode.hw.fixed import Q

from .rtl import FORMATS, RANDOM, check_rtl, ids


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_exp2_bit_exact_and_accurate(fmt):
    t_fmt, w_fmt = Q(6, fmt.f - 8, signed=False), Q(1, fmt.f, signed=False)
    unit = Exp2(t_fmt, w_fmt)
    rng = np.random.default_rng(8)
    one = 1 << t_fmt.f
    edges = [0, 1, one, one - 1, 20 * one, 45 * one, t_fmt.max_raw]
    t = np.concatenate([edges, rng.integers(0, t_fmt.max_raw + 1, RANDOM)])
    expected = model.exp2(unit, t)
    assert expected[0] == 1 << fmt.f and expected[2] == 1 << (fmt.f - 1) and expected[-RANDOM - 1] == 0
    err = np.abs(expected * w_fmt.ulp - 2.0 ** -(t * t_fmt.ulp))
    assert err.max() <= 0.6 * w_fmt.ulp
    check_rtl(unit, [int(v) for v in t], expected.tolist())
