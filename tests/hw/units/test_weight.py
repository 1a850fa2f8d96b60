import numpy as np
import pytest

from spherecode.hw.units.distance import d2_format
from spherecode.hw.fixed import Q
from spherecode.hw.units.weight import RepulsionWeightParameters, weight_precision

from ..rtl import FORMATS, RANDOM, check_rtl, ids, log_uniform


def inputs(rng, fmt, n):
    """δ in every binade of (0, 4), d² = δ·(1 + ρ) with ρ log-uniform in [2^−44, 2^48) (near contact to
    far), clipped to d² ≤ 4; β/2 log-uniform in [1, 65536]."""
    f = fmt.f
    delta = log_uniform(rng, -f, 2, n, f)
    rho = 2.0 ** rng.uniform(-44, 48, n)
    d2 = np.floor(np.minimum(delta * (1 + rho), 4 << f)).astype(np.int64)
    d2 = np.maximum(d2, delta)
    hb = (2.0 ** rng.uniform(0, 16, n) * 2**16).astype(np.int64)
    return delta, d2, hb


def edges(fmt):
    one, four, hb1, hbmax = 1 << fmt.f, 4 << fmt.f, 1 << 16, 65536 << 16
    return np.array(
        [
            # delta, d2, half_beta
            [one, one, hb1],
            [four, four, hbmax],
            [5, 5, hbmax],  # d² = δ: w = 1
            [one, one + 1, hbmax],
            [1, 2, hb1],
            [1, four, hb1],  # next to contact; smallest δ
            [1, 1, hbmax],
            [1, 2, hbmax],  # w underflows to 0 in the second
            [one, four, hb1],
            [one, four, hbmax],  # d² = 4
            [0, one, hb1],
            [0, 0, hb1],
            [one, 0, hb1],  # degenerate: δ = 0, d² = 0
            [one, one - 1, hb1],  # d² < δ: w = 1
        ]
    )


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_weight_bit_exact(fmt):
    unit = RepulsionWeightParameters(d2_format(fmt)).create()
    rng = np.random.default_rng(10)
    edge = edges(fmt)
    delta, d2, hb = inputs(rng, fmt, RANDOM)
    delta, d2, hb = (np.concatenate([edge[:, k], v]) for k, v in enumerate((delta, d2, hb)))
    mant, exp = unit.parameters.reciprocal.compute(delta)
    expected = unit.parameters.compute(delta, d2, hb, (mant, exp))
    np.testing.assert_array_equal(expected, unit.parameters.compute(delta, d2, hb))  # recip computed when omitted
    one = 1 << fmt.f
    assert expected[:3].tolist() == [one] * 3
    near = (1 + 2.0**-fmt.f) ** -65536  # d² = δ + 1 ulp at β/2 = 65536
    assert (
        abs(expected[3] - near * one) <= 4 * 2.0**-unit.parameters.precision * one
        and expected[6] == one
        and expected[7] == 0
    )
    assert abs(expected[8] - one // 4) <= 1 and expected[9] == 0
    assert expected[10:14].tolist() == [0, one, one, one]
    check_rtl(
        unit,
        [
            {"delta": int(a), "d2": int(b), "recip": {"mant": int(m), "exp": int(e)}, "half_beta": int(c)}
            for a, b, m, e, c in zip(delta, d2, mant, exp, hb)
        ],
        expected.tolist(),
    )


def test_two_candidate_weight_bit_exact():
    """candidates=2 (on-chip loosening): both outputs are the one-candidate unit's weights, for two
    independent β/2 per input, at the one-candidate latency (Q3.44, 10⁴ random inputs and the edges)."""
    fmt = FORMATS[0]
    unit = RepulsionWeightParameters(d2_format(fmt), candidates=2).create()
    one_candidate = RepulsionWeightParameters(d2_format(fmt))
    assert unit.latency == one_candidate.latency
    rng = np.random.default_rng(12)
    edge = edges(fmt)
    delta, d2, hb = inputs(rng, fmt, RANDOM)
    delta, d2, hb = (np.concatenate([edge[:, k], v]) for k, v in enumerate((delta, d2, hb)))
    hb2 = np.concatenate([edge[::-1, 2], inputs(rng, fmt, RANDOM)[2]])
    mant, exp = unit.parameters.reciprocal.compute(delta)
    w1, w2 = one_candidate.compute(delta, d2, hb), one_candidate.compute(delta, d2, hb2)
    assert np.any(w1 != w2)
    check_rtl(
        unit,
        [
            {
                "delta": int(a),
                "d2": int(b),
                "recip": {"mant": int(m), "exp": int(e)},
                "half_beta": int(c),
                "half_beta2": int(c2),
            }
            for a, b, m, e, c, c2 in zip(delta, d2, mant, exp, hb, hb2)
        ],
        [[int(x), int(y)] for x, y in zip(w1, w2)],
    )


def relative_errors(fmt, rng, n, low, high):
    unit = RepulsionWeightParameters(d2_format(fmt))
    delta, d2, _ = inputs(rng, fmt, n)
    hb = (2.0 ** rng.uniform(low, high, n) * 2**16).astype(np.int64)
    w = unit.compute(delta, d2, hb) * 2.0**-fmt.f
    t = hb * 2.0**-16 * np.log1p((d2 - delta) / delta) / np.log(2)
    ref = np.exp2(-t)
    big = ref >= 2.0**-20
    return np.abs(w - ref)[big] / ref[big], t[big]


def test_weight_error_does_not_grow_with_beta():
    """Q3.44: relative error ≤ ln 2·t·6·2^−P + 2.1·2^−P + ½ ulp/w wherever w ≥ 2^−20, in every octave of β/2."""
    fmt = FORMATS[0]
    p = weight_precision(fmt.f + 0)
    rng = np.random.default_rng(11)
    worst = []
    for octave in range(16):
        rel, t = relative_errors(fmt, rng, 20_000, octave, octave + 1)
        assert rel.size > 300
        bound = np.log(2) * t * 6 * 2.0**-p + 2.1 * 2.0**-p + 2.0 ** -(fmt.f + 1) * np.exp2(t)
        assert np.all(rel <= bound)
        worst.append(rel.max())
    assert max(worst) <= 2.0**-24
    assert max(worst) / min(worst) < 4  # flat in β


@pytest.mark.parametrize(
    "arg, message",
    [
        (Q(3, 44), r"unsigned squared-distance format, not Q\(i=3, f=44, signed=True\)"),
        ("UQ3.44", r"unsigned squared-distance format, not 'UQ3.44'"),
        (Q(3, 8, signed=False), r"needs 12 ≤ f and a width ≤ 62, not UQ3.8"),
    ],
)
def test_weight_format_is_checked(arg, message):
    with pytest.raises(ValueError, match=message):
        RepulsionWeightParameters(arg)


@pytest.mark.parametrize("precision", [7, 41, 2.5])
def test_weight_precision_is_checked(precision):
    with pytest.raises(ValueError, match=rf"precision must be an integer in 8\.\.30, not {precision!r}"):
        RepulsionWeightParameters(Q(3, 44, signed=False), precision)


@pytest.mark.parametrize("candidates", [0, 3, True, 2.0])
def test_weight_candidates_are_checked(candidates):
    with pytest.raises(ValueError, match=rf"candidates must be 1 or 2, not {candidates!r}"):
        RepulsionWeightParameters(Q(3, 44, signed=False), candidates=candidates)
