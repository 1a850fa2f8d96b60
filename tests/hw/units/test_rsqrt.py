import numpy as np
import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.units.rsqrt import RSqrtParameters

from ..rtl import FORMATS, RANDOM, check_rtl, ids, log_uniform


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_rsqrt_bit_exact_within_2_ulp(fmt):
    in_fmt = Q(8, fmt.f, signed=False)  # |F*|² and |r*|² ranges fit with room
    unit = RSqrtParameters(in_fmt).create()
    rng = np.random.default_rng(9)
    one = 1 << fmt.f
    edges = [0, 1, 2, 3, one, 2 * one, 4 * one, one - 1, in_fmt.max_raw]
    x = np.concatenate([edges, log_uniform(rng, -fmt.f, 8, RANDOM, fmt.f)])
    x = np.minimum(x, in_fmt.max_raw)
    mant, exp = unit.parameters.compute(x)
    assert (mant[0], exp[0]) == (0, 0)
    assert (mant[4], exp[4]) == (one, 0) and (mant[6], exp[6]) == (one, -1)
    value = mant[1:] * 2.0**-fmt.f * 2.0 ** exp[1:].astype(float)
    ulps = np.abs(value - 1 / np.sqrt(x[1:] * in_fmt.ulp)) / 2.0 ** exp[1:].astype(float) / 2.0**-fmt.f
    assert ulps.max() <= 2
    assert np.all((mant[1:] >= one // 2) & (mant[1:] <= one))
    check_rtl(unit, [int(v) for v in x], [{"mant": int(m), "exp": int(e)} for m, e in zip(mant, exp)])


def test_shared_rsqrt_bit_exact():
    """shared=True (one product for the polynomial's Horner steps): the same results, at the same latency,
    for inputs ``ii`` or more cycles apart (Q3.44, 10⁴ random inputs and the edges)."""
    fmt = FORMATS[0]
    in_fmt = Q(8, fmt.f, signed=False)
    unit, parallel = RSqrtParameters(in_fmt, shared=True).create(), RSqrtParameters(in_fmt).create()
    assert (
        unit.latency == parallel.latency
        and unit.parameters.ii == 1 + 5 * unit.parameters.table.degree
        and parallel.parameters.ii == 1
    )
    rng = np.random.default_rng(19)
    edges = [0, 1, 2, 3, 1 << fmt.f, in_fmt.max_raw]
    x = np.minimum(np.concatenate([edges, log_uniform(rng, -fmt.f, 8, RANDOM, fmt.f)]), in_fmt.max_raw)
    mant, exp = unit.parameters.compute(x)
    gaps = (unit.parameters.ii - 1 + rng.integers(0, 3, x.size) * (rng.random(x.size) < 0.2)).tolist()
    from ...benches.streams import stream_through

    out, cycles = stream_through(unit, [int(v) for v in x], gaps)
    assert out == [{"mant": int(m), "exp": int(e)} for m, e in zip(mant, exp)]
    starts = np.concatenate([[0], np.cumsum(np.array(gaps[:-1]) + 1)])
    assert cycles == (starts + unit.latency).tolist()


@pytest.mark.parametrize(
    "args, message",
    [
        ((Q(8, 44),), r"RSqrt takes an unsigned format, not Q\(i=8, f=44, signed=True\)"),
        (("UQ8.44",), r"RSqrt takes an unsigned format, not 'UQ8.44'"),
        ((Q(8, 44, signed=False), None, 1), r"shared must be a bool, not 1"),
    ],
)
def test_rsqrt_arguments_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        RSqrtParameters(*args)
