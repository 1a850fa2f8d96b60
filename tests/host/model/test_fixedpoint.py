import numpy as np
import pytest

from spherecode.host.model.fixedpoint import bit_length, mul_shift, saturate, shift_round
from spherecode.hw.fixed import Q


def exact(a, b, s, rounding):
    return [((x * y) + ((1 << (s - 1)) if rounding == "nearest" and s > 0 else 0)) >> s
            for x, y in zip(a.tolist(), b.tolist())]


@pytest.mark.parametrize("rounding", ["nearest", "trunc"])
@pytest.mark.parametrize("bits, shift", [(30, 20), (47, 44), (61, 64), (61, 70), (48, 48)])
def test_wide_products_are_exact(rounding, bits, shift):
    rng = np.random.default_rng(bits + shift)
    a = rng.integers(-(1 << bits), 1 << bits, 20000)
    b = rng.integers(-(1 << bits), 1 << bits, 20000)
    a[:6] = [0, 1, -1, (1 << bits) - 1, -(1 << bits), 7]
    b[:6] = [5, -1, -1, (1 << bits) - 1, -(1 << bits), 0]
    got = mul_shift(a, b, shift, rounding)
    want = exact(a, b, shift, rounding)
    fits = [-(1 << 63) <= w < (1 << 63) for w in want]
    assert sum(fits) > 10000
    assert [g for g, f in zip(got.tolist(), fits) if f] == [w for w, f in zip(want, fits) if f]


def test_fast_path_agrees_with_wide_path():
    rng = np.random.default_rng(1)
    a, b = rng.integers(-(1 << 30), 1 << 30, (2, 1000))
    np.testing.assert_array_equal(mul_shift(a, b, 12, "nearest", bits=62), mul_shift(a, b, 12, "nearest"))


def test_shift_round_and_saturate():
    x = np.array([5, 6, 7, -5, -6, -7])
    assert shift_round(x, 2, "nearest").tolist() == [1, 2, 2, -1, -1, -2]
    assert shift_round(x, 2, "trunc").tolist() == [1, 1, 1, -2, -2, -2]
    assert shift_round(x, -1, "trunc").tolist() == [10, 12, 14, -10, -12, -14]
    assert saturate(np.array([100, -100, 3]), Q(2, 2)).tolist() == [7, -8, 3]
    with pytest.raises(ValueError):
        shift_round(x, 1, "up")


def test_bit_length():
    x = np.array([0, 1, 2, 3, 255, 256, (1 << 62) - 1, 1 << 62])
    assert bit_length(x).tolist() == [int(v).bit_length() for v in x.tolist()]
