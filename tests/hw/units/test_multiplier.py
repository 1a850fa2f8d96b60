import itertools

import numpy as np
import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.units.multiplier import MultiplierParameters

from ..rtl import FORMATS, RANDOM, check_rtl, ids


def edges(fmt):
    one = 1 << fmt.f
    return [0, 1, -1, one, -one, fmt.max_raw, fmt.min_raw, one + 1, -(one >> 1)]


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_multiply_bit_exact(fmt):
    rng = np.random.default_rng(fmt.width)
    unit = MultiplierParameters(fmt, fmt, fmt).create()
    pairs = list(itertools.product(edges(fmt), repeat=2))
    a = np.concatenate([[p[0] for p in pairs], rng.integers(fmt.min_raw, fmt.max_raw + 1, RANDOM)])
    b = np.concatenate([[p[1] for p in pairs], rng.integers(fmt.min_raw, fmt.max_raw + 1, RANDOM)])
    expected = unit.parameters.compute(a, b)
    # The model is the exact product, rounded half up, saturated.
    exact = [
        min(max((int(x) * int(y) + (1 << (fmt.f - 1))) >> fmt.f, fmt.min_raw), fmt.max_raw)
        for x, y in zip(a.tolist(), b.tolist())
    ]
    assert expected.tolist() == exact
    check_rtl(unit, [{"a": int(x), "b": int(y)} for x, y in zip(a, b)], expected.tolist())


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_square_truncating_bit_exact(fmt):
    rng = np.random.default_rng(fmt.width + 1)
    out = Q(3, fmt.f, signed=False)
    unit = MultiplierParameters(fmt, o_fmt=out, rounding="trunc", square=True).create()
    a = np.concatenate([edges(fmt), rng.integers(fmt.min_raw, fmt.max_raw + 1, RANDOM)])
    expected = unit.parameters.compute(a)
    assert expected.tolist() == [min((int(x) ** 2) >> fmt.f, out.max_raw) for x in a.tolist()]
    check_rtl(unit, [{"a": int(x)} for x in a], expected.tolist())
