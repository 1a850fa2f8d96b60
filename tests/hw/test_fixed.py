import numpy as np
import pytest

from spherecode.hw.fixed import Q


def test_paper_format():
    q = Q.parse("Q3.44")
    assert (q.i, q.f, q.signed, q.width) == (3, 44, True, 47)
    assert q.min_raw * q.ulp == -4.0 and (q.max_raw + 1) * q.ulp == 4.0
    assert str(q) == "Q3.44" and str(Q.parse("UQ3.44")) == "UQ3.44"
    u = Q(3, 44, signed=False)
    assert u.min_raw == 0 and (u.max_raw + 1) * u.ulp == 8.0


@pytest.mark.parametrize("bad", ["Q3", "3.44", "Q-1.4", "q3.44", ""])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        Q.parse(bad)


def test_invalid_formats():
    with pytest.raises(ValueError):
        Q(0, 10)
    with pytest.raises(ValueError):
        Q(2, -1)


def test_float_conversion_rounds_and_saturates():
    q = Q(2, 4)  # range [-2, 2), ulp 1/16
    assert q.from_float([0.03125, -0.03125, 0.09]).tolist() == [1, 0, 1]  # half up
    assert q.from_float([0.09], rounding="trunc").tolist() == [1]
    assert q.from_float([5.0, -5.0]).tolist() == [q.max_raw, q.min_raw]
    raw = np.arange(q.min_raw, q.max_raw + 1)
    np.testing.assert_array_equal(q.from_float(q.to_float(raw)), raw)
