import math

import numpy as np
import pytest

from spherecode.hw.units.interpolation import MAX_INDEX_BITS, QuadraticTable, gauss_derivative


def g_derivative():
    return gauss_derivative(lambda t, x, n: (-1) ** n * math.factorial(n) * t**n / (1 + x * t) ** (n + 1) / math.log(2))


def test_gauss_derivative_matches_closed_forms():
    d = g_derivative()
    for x in (0.0, 0.3, 0.99):
        assert d(x, 0) == pytest.approx(math.log2(1 + x) / x if x else 1 / math.log(2), rel=1e-15)
        h = 1e-4
        assert d(x + 0.5, 1) == pytest.approx((d(x + 0.5 + h, 0) - d(x + 0.5 - h, 0)) / (2 * h), rel=1e-7)


@pytest.mark.parametrize("arg_frac, frac, error", [(30, 32, 2.0**-32), (16, 18, 2.0**-18)])
def test_table_error_within_its_bound(arg_frac, frac, error):
    d = g_derivative()
    table = QuadraticTable.build("g", d, arg_frac, frac, error)
    assert table.error_bound <= error and table.index_bits <= MAX_INDEX_BITS
    assert table.width(2) <= 17  # u_s · c2: one DSP block
    z = np.concatenate(
        [
            np.arange(64),
            np.random.default_rng(0).integers(0, 1 << arg_frac, 100_000),
            (1 << arg_frac) - 1 - np.arange(64),
        ]
    )
    y = table.compute(z) * 2.0**-frac
    x = z * 2.0**-arg_frac
    ref = np.where(x > 0, np.log2(1 + x) / np.where(x > 0, x, 1), 1 / math.log(2))
    assert np.abs(y - ref).max() <= table.error_bound + 3 * 2.0**-frac


def test_exp_table():
    ln2 = math.log(2)
    table = QuadraticTable.build("2^-x", lambda x, n: (-ln2) ** n * 2.0**-x, 20, 22, 2.0**-23)
    z = np.random.default_rng(1).integers(0, 1 << 20, 100_000)
    err = np.abs(table.compute(z) * 2.0**-22 - 2.0 ** -(z * 2.0**-20))
    assert err.max() <= table.error_bound + 3 * 2.0**-22


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arg_frac": 1}, r"arg_frac must be an integer ≥ 2, not 1"),
        ({"frac": 0}, r"frac must be an integer in 1\.\.40, not 0"),
        ({"error": 0.0}, r"error must be positive, not 0\.0"),
        ({"error": 2.0**-60}, r"g: no table of ≤ 2\^10 quadratic segments reaches error"),
    ],
)
def test_build_arguments_are_checked(kwargs, message):
    args = {"arg_frac": 20, "frac": 22, "error": 2.0**-20} | kwargs
    with pytest.raises(ValueError, match=message):
        QuadraticTable.build("g", g_derivative(), **args)
