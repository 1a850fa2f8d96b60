import numpy as np
import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.units.scale import ScaleParameters

from ..rtl import FORMATS, RANDOM, check_rtl, ids


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_scale_bit_exact(fmt):
    x_fmt, mant_fmt = Q(2, fmt.f), Q(1, fmt.f, signed=False)
    unit = ScaleParameters(x_fmt, mant_fmt, x_fmt).create()
    rng = np.random.default_rng(12)
    one = 1 << fmt.f
    x = np.concatenate([[0, 1, -1, x_fmt.max_raw, x_fmt.min_raw, one // 2], rng.integers(-one, one, RANDOM)])
    mant = np.concatenate([[one, one, one, one, one, one], rng.integers(one // 2, one + 1, RANDOM)])
    exp = np.concatenate([[0, 0, 0, 1, 1, -1], rng.integers(-1, 2, RANDOM)])
    expected = unit.parameters.compute(x, mant, exp)
    assert expected[3] == x_fmt.max_raw and expected[4] == x_fmt.min_raw  # ×2 saturates
    exact = x * x_fmt.ulp * mant * mant_fmt.ulp * 2.0**exp
    assert np.abs(expected[6:] * x_fmt.ulp - exact[6:]).max() <= 0.5 * x_fmt.ulp
    check_rtl(unit, [{"x": int(a), "mant": int(b), "exp": int(c)} for a, b, c in zip(x, mant, exp)], expected.tolist())
