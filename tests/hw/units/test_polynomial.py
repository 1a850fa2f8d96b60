import math

import numpy as np

from spherecode.hw.units.polynomial import make_table


def test_degree_follows_the_error_bound():
    deriv = lambda x, n: (-math.log(2)) ** n * 2.0**-x  # noqa: E731
    starts, widths = [s / 16 for s in range(16)], [1 / 16] * 16
    coarse = make_table("e", deriv, starts, widths, frac=40, error=2.0**-12)
    fine = make_table("e", deriv, starts, widths, frac=40, error=2.0**-36)
    assert coarse.degree < fine.degree and fine.error_bound <= 2.0**-36 and fine.segments == 16
    assert fine.latency == 2 + 5 * fine.degree


def test_horner_model_matches_the_function():
    deriv = lambda x, n: (
        math.log2(1 + x) if n == 0 else (-1) ** (n + 1) * math.factorial(n - 1) / ((1 + x) ** n * math.log(2))
    )  # noqa: E731
    k_bits, frac = 6, 40
    t = make_table("l", deriv, [s / 2**k_bits for s in range(2**k_bits)], [2.0**-k_bits] * 2**k_bits, frac, 2.0**-38)
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2**k_bits, 5000)
    u = rng.integers(-(1 << (frac - 1)), 1 << (frac - 1), 5000)
    x = (k + 0.5 + u * 2.0**-frac) / 2**k_bits
    y = t.compute(k, u) * 2.0**-frac
    assert np.max(np.abs(y - np.log2(1 + x))) < 2.0**-37


def test_shared_is_checked():
    import pytest

    from spherecode.hw.units.polynomial import PiecewisePolynomial

    deriv = lambda x, n: (-math.log(2)) ** n * 2.0**-x  # noqa: E731
    table = make_table("e", deriv, [s / 16 for s in range(16)], [1 / 16] * 16, frac=40, error=2.0**-12)
    assert PiecewisePolynomial(table, shared=True).ii == table.latency - 1
    with pytest.raises(ValueError, match="shared must be a bool, not 'yes'"):
        PiecewisePolynomial(table, shared="yes")
