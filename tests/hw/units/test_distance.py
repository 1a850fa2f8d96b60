import re

import numpy as np
import pytest

from spherecode.hw.units.distance import (
    RunningMinParameters,
    SerialSquaredDistanceParameters,
    SquaredDistanceParameters,
    d2_format,
)
from spherecode.hw.fixed import Q

from ...benches.streams import stream_through
from ..rtl import FORMATS, RANDOM, check_rtl, ids


def vectors(rng, fmt, n, dim):
    """Random points near the unit sphere (raw coordinates in [−1, 1])."""
    v = rng.standard_normal((n, dim))
    return fmt.from_float(v / np.linalg.norm(v, axis=1, keepdims=True))


@pytest.mark.parametrize(
    "fmt, dim", [(FORMATS[0], 3), (FORMATS[1], 3), (FORMATS[1], 6)], ids=["Q3.44-D3", "Q2.20-D3", "Q2.20-D6"]
)
def test_squared_distance_bit_exact(fmt, dim):
    rng = np.random.default_rng(dim)
    unit = SquaredDistanceParameters(fmt, dim).create()
    a, b = vectors(rng, fmt, RANDOM, dim), vectors(rng, fmt, RANDOM, dim)
    b[:100] = a[:100] + rng.integers(-3, 4, (100, dim))  # near-coincident pairs
    b[100:110] = a[100:110]  # coincident: d² = 0
    one = 1 << fmt.f
    e = np.zeros((4, dim), dtype=np.int64)
    e[0, 0], e[1, 0] = one, -one  # antipodal: d² = 4
    e[2, :], e[3, :] = fmt.max_raw, fmt.min_raw  # far outside the sphere: saturates
    a = np.concatenate([a, e[[0, 2]]])
    b = np.concatenate([b, e[[1, 3]]])
    expected = unit.parameters.compute(a, b)
    assert expected[100:110].tolist() == [0] * 10
    assert expected[-2] == 4 << fmt.f and expected[-1] == d2_format(fmt).max_raw
    # Accuracy: within ½ + dim/16 ulp of the exact value.
    exact = np.sum((a[:RANDOM] * 2.0**-fmt.f - b[:RANDOM] * 2.0**-fmt.f) ** 2, axis=1)
    assert np.max(np.abs(expected[:RANDOM] * 2.0**-fmt.f - exact)) <= (0.5 + dim / 16) * 2.0**-fmt.f
    check_rtl(unit, [{"a": x.tolist(), "b": y.tolist()} for x, y in zip(a, b)], expected.tolist())


def test_squared_distance_of_truncated_differences_bit_exact():
    """The datapath's Q3.44 unit: differences floored to Q3.31 (two limbs per square), saturated."""
    fmt, dim, g = FORMATS[0], 3, 31
    rng = np.random.default_rng(31)
    unit = SquaredDistanceParameters(fmt, dim, Q(3, g)).create()
    a, b = vectors(rng, fmt, RANDOM, dim), vectors(rng, fmt, RANDOM, dim)
    b[:100] = a[:100] + rng.integers(-1 << 14, 1 << 14, (100, dim))  # closer than the truncation's ulp
    b[100:110] = a[100:110]
    one = 1 << fmt.f
    e = np.zeros((4, dim), dtype=np.int64)
    e[0, 0], e[1, 0] = one, -one
    e[2, :], e[3, :] = fmt.max_raw, fmt.min_raw  # differences beyond Q3.31's range saturate
    a, b = np.concatenate([a, e[[0, 2]]]), np.concatenate([b, e[[1, 3]]])
    expected = unit.parameters.compute(a, b)
    assert expected[100:110].tolist() == [0] * 10
    assert expected[-2] == 4 << fmt.f and expected[-1] == d2_format(fmt).max_raw
    # Python integers: floor each difference to g bits, square, truncate to f + 4 bits, sum, round.
    for x, y, ek in zip(a[:300].tolist(), b[:300].tolist(), expected[:300].tolist()):
        dts = [max(min((p - q) >> (fmt.f - g), (4 << g) - 1), -(4 << g)) for p, q in zip(x, y)]
        total = sum((dt * dt) >> (2 * g - fmt.f - 4) for dt in dts)
        assert ek == min((total + 8) >> 4, d2_format(fmt).max_raw)
    # Accuracy: ½ + dim/16 ulp, plus 2|Δ_k|·2^−g for each truncated difference.
    fa, fb = a[:RANDOM] * 2.0**-fmt.f, b[:RANDOM] * 2.0**-fmt.f
    exact = np.sum((fa - fb) ** 2, axis=1)
    bound = (0.5 + dim / 16) * 2.0**-fmt.f + np.sum(2 * np.abs(fa - fb), axis=1) * 2.0**-g
    assert np.all(np.abs(expected[:RANDOM] * 2.0**-fmt.f - exact) <= bound)
    check_rtl(unit, [{"a": x.tolist(), "b": y.tolist()} for x, y in zip(a, b)], expected.tolist())


@pytest.mark.parametrize("diff_fmt", [Q(3, 23), Q(3, 45), Q(3, 31, signed=False)])
def test_truncated_difference_format_is_checked(diff_fmt):
    with pytest.raises(
        ValueError, match=rf"signed format with 24\.\.44 fraction bits, not {re.escape(repr(diff_fmt))}"
    ):
        SquaredDistanceParameters(FORMATS[0], 3, diff_fmt).create()


@pytest.mark.parametrize("fmt, dim", [(FORMATS[0], 3), (FORMATS[1], 7)], ids=["Q3.44-D3", "Q2.20-D7"])
def test_serial_squared_distance_is_the_parallel_one_bit_for_bit(fmt, dim):
    """The coordinates one per cycle, vectors back to back and with gaps: the model of SquaredDistance."""
    rng = np.random.default_rng(dim + 1)
    unit = SerialSquaredDistanceParameters(fmt, dim).create()
    count = RANDOM // dim
    a, b = vectors(rng, fmt, count, dim), vectors(rng, fmt, count, dim)
    b[:50] = a[:50] + rng.integers(-3, 4, (50, dim))
    b[50:55] = a[50:55]
    a[55], b[55] = fmt.max_raw, fmt.min_raw  # saturates
    expected = unit.parameters.compute(a, b)
    np.testing.assert_array_equal(expected, SquaredDistanceParameters(fmt, dim).compute(a, b))
    assert expected[55] == d2_format(fmt).max_raw and expected[50:55].tolist() == [0] * 5
    payloads = [
        {"a": int(a[j, k]), "b": int(b[j, k]), "first": int(k == 0), "last": int(k == dim - 1)}
        for j in range(count)
        for k in range(dim)
    ]
    gaps = [int(rng.integers(0, 3)) if k == dim - 1 else 0 for j in range(count) for k in range(dim)]
    out, cycles = stream_through(unit, payloads, gaps)
    assert out == expected.tolist()
    clock = np.concatenate([[0], np.cumsum(np.array(gaps) + 1)[:-1]])  # the clock each payload goes in
    lasts = clock[dim - 1 :: dim]
    assert cycles == (lasts + unit.latency).tolist()


@pytest.mark.parametrize(
    "fmt, dim, out_frac",
    [(FORMATS[0], 3, 88), (FORMATS[0], 3, 60), (FORMATS[1], 3, 40), (FORMATS[1], 6, 37)],
    ids=["Q3.44-exact", "Q3.44-60", "Q2.20-exact", "Q2.20-37"],
)
def test_serial_squared_distance_with_more_fraction_bits(fmt, dim, out_frac):
    """``out_frac`` > f (the move norm S_j, exact at 2f): the model against exact integer arithmetic, then the
    RTL against the model, with moves from one ulp to antipodal and a saturating pair."""
    rng = np.random.default_rng(out_frac)
    unit = SerialSquaredDistanceParameters(fmt, dim, out_frac=out_frac).create()
    assert (
        unit.parameters.out_fmt == Q(3, out_frac, signed=False)
        and unit.latency == SerialSquaredDistanceParameters(fmt, dim).latency
    )
    count = RANDOM // dim
    a = vectors(rng, fmt, count, dim)
    scale = 2 ** rng.integers(0, fmt.f + 1, (count, 1))  # moves of every binade down to one ulp
    b = a + (rng.integers(-1 << 20, 1 << 20, (count, dim)) * scale >> 20)
    b[:5] = a[:5]
    a[5], b[5] = fmt.max_raw, fmt.min_raw  # saturates
    expected = unit.parameters.compute(a, b)
    f = fmt.f
    for j in range(count):
        total = sum(((int(x) - int(y)) ** 2) >> (2 * f - unit.parameters.keep) for x, y in zip(a[j], b[j]))
        want = (total + (1 << unit.parameters.drop >> 1)) >> unit.parameters.drop
        assert expected[j] == min(want, unit.parameters.out_fmt.max_raw)
    if out_frac == 2 * f:  # exact: no rounding at all
        assert [int(v) for v in expected[6:]] == [
            sum((int(x) - int(y)) ** 2 for x, y in zip(a[j], b[j])) for j in range(6, count)
        ]
    assert expected[:5].tolist() == [0] * 5 and expected[5] == unit.parameters.out_fmt.max_raw
    payloads = [
        {"a": int(a[j, k]), "b": int(b[j, k]), "first": int(k == 0), "last": int(k == dim - 1)}
        for j in range(count)
        for k in range(dim)
    ]
    out, _ = stream_through(unit, payloads)
    assert out == [int(v) for v in expected]


@pytest.mark.parametrize("out_frac", [43, 89, 60.0])
def test_serial_squared_distance_out_frac_is_checked(out_frac):
    with pytest.raises(ValueError, match=rf"out_frac must be an integer in 44\.\.88 \(f\.\.2f\), not {out_frac!r}"):
        SerialSquaredDistanceParameters(FORMATS[0], 3, out_frac=out_frac)


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_running_min_bit_exact(fmt):
    rng = np.random.default_rng(fmt.f)
    d2f = d2_format(fmt)
    unit = RunningMinParameters(d2f).create()
    lengths = np.concatenate([[1, 1, 3], rng.integers(1, 30, RANDOM // 15)])
    n = int(lengths.sum())
    d2 = rng.integers(0, 4 << fmt.f, n)
    first = np.zeros(n, dtype=np.int64)
    first[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = 1
    last = np.zeros(n, dtype=np.int64)
    last[np.cumsum(lengths) - 1] = 1
    mask = (rng.random(n) < 0.1).astype(np.int64)
    mask[0] = 1  # a one-element row, masked: all masked gives the largest value
    mask[2:5] = [1, 1, 1]  # a fully masked three-element row
    expected = unit.parameters.compute(d2, first, last, mask)
    assert expected[0] == d2f.max_raw and expected[2] == d2f.max_raw and expected[1] == d2[1]
    payloads = [
        {"d2": int(v), "first": int(f), "last": int(la), "mask": int(mk)} for v, f, la, mk in zip(d2, first, last, mask)
    ]
    out, cycles = stream_through(unit, payloads)
    assert out == expected.tolist()
    assert cycles == (np.flatnonzero(last) + 1).tolist()
