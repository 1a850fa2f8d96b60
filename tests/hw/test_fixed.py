import numpy as np
import pytest

from spherecode.hw.fixed import Q, bit_length, mul_shift, round_shift, saturate


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


# ---- the models' integer primitives ---------------------------------------------------------------------


def exact(a, b, s, rounding):
    return [
        ((x * y) + ((1 << (s - 1)) if rounding == "nearest" and s > 0 else 0)) >> s
        for x, y in zip(a.tolist(), b.tolist())
    ]


@pytest.mark.parametrize("rounding", ["nearest", "trunc"])
@pytest.mark.parametrize(
    "a_bits, b_bits, shift",
    [
        (30, 30, 20),
        (47, 47, 44),
        (61, 61, 64),
        (61, 61, 70),
        (48, 48, 48),  # limbs, 128-bit pair, limbs
        (46, 46, 40),
        (45, 47, 42),
        (20, 58, 30),
        (58, 20, 30),
        (40, 40, 22),
        (44, 40, 22),
    ],
)
def test_wide_products_are_exact(rounding, a_bits, b_bits, shift):
    """Every path of mul_shift (one product, limbs — the bias within them or after —, 128-bit pair)
    against Python's integers."""
    rng = np.random.default_rng(a_bits + 3 * b_bits + shift)
    a = rng.integers(-(1 << a_bits), 1 << a_bits, 20000)
    b = rng.integers(-(1 << b_bits), 1 << b_bits, 20000)
    a[:6] = [0, 1, -1, (1 << a_bits) - 1, -(1 << a_bits), 7]
    b[:6] = [5, -1, -1, (1 << b_bits) - 1, -(1 << b_bits), 0]
    got = mul_shift(a, b, shift, rounding)
    want = exact(a, b, shift, rounding)
    fits = [-(1 << 63) <= w < (1 << 63) for w in want]
    assert sum(fits) > 10000
    assert [g for g, f in zip(got.tolist(), fits) if f] == [w for w, f in zip(want, fits) if f]


def test_products_broadcast():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 1 << 45, (50, 1))
    b = rng.integers(-(1 << 46), 1 << 46, (50, 3))
    got = mul_shift(a, b, 42, "nearest")
    assert got.shape == (50, 3)
    assert got.ravel().tolist() == exact(np.broadcast_to(a, (50, 3)).ravel(), b.ravel(), 42, "nearest")


def test_fast_path_agrees_with_wide_path():
    rng = np.random.default_rng(1)
    a, b = rng.integers(-(1 << 30), 1 << 30, (2, 1000))
    np.testing.assert_array_equal(mul_shift(a, b, 12, "nearest", bits=62), mul_shift(a, b, 12, "nearest"))


def test_round_shift_and_saturate_on_arrays():
    x = np.array([5, 6, 7, -5, -6, -7])
    assert round_shift(x, 2, "nearest").tolist() == [1, 2, 2, -1, -1, -2]
    assert round_shift(x, 2, "trunc").tolist() == [1, 1, 1, -2, -2, -2]
    assert round_shift(x, -1, "trunc").tolist() == [10, 12, 14, -10, -12, -14]
    assert saturate(np.array([100, -100, 3]), Q(2, 2)).tolist() == [7, -8, 3]
    with pytest.raises(ValueError, match=r"rounding must be one of \('trunc', 'nearest'\), not 'up'"):
        round_shift(x, 1, "up")
    with pytest.raises(ValueError, match=r"rounding must be one of \('trunc', 'nearest'\), not 'up'"):
        mul_shift(x, x, 1, "up")


def test_saturate_on_amaranth_values_is_gateware():
    from amaranth.hdl import Signal, Value

    assert isinstance(saturate(Signal(8), Q(2, 2)), Value)


def test_bit_length():
    x = np.array([0, 1, 2, 3, 255, 256, (1 << 62) - 1, 1 << 62])
    assert bit_length(x).tolist() == [int(v).bit_length() for v in x.tolist()]


def test_bits_round_trip_and_sign():
    fmt = Q(2, 2)  # 4 bits, two's complement
    assert [fmt.from_bits(b) for b in (0b0111, 0b1000, 0b1111, 0x1F)] == [7, -8, -1, -1]
    assert [fmt.to_bits(r) for r in (7, -8, -1)] == [0b0111, 0b1000, 0b1111]
    assert Q(2, 2, signed=False).from_bits(0b1111) == 15
    wide = Q(3, 44)
    raw = np.random.default_rng(0).integers(wide.min_raw, wide.max_raw, 1000, endpoint=True)
    assert np.array_equal(wide.from_bits(wide.to_bits(raw)), raw)
    assert int(wide.to_bits(raw).min()) >= 0 and int(wide.to_bits(raw).max()) < 1 << 47
