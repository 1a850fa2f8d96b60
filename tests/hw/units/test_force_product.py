import numpy as np
import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.units.force_product import ForceProductParameters

from ..rtl import RANDOM, check_rtl, log_uniform

# The datapath's configurations: Q3.44 (w UQ1.44, differences Q4.44 truncated to Q3.31, sums Q4.46) and
# Q2.20 (differences exact in Q3.20).
UNITS = {
    "Q3.44": lambda: ForceProductParameters(Q(1, 44, False), Q(4, 44), Q(3, 31), Q(4, 46), 3).create(),
    "Q2.20": lambda: ForceProductParameters(Q(1, 20, False), Q(3, 20), Q(3, 20), Q(3, 22), 3).create(),
}


def inputs(unit, rng):
    f = unit.parameters.w_fmt.f
    w = np.concatenate(
        [
            [0, 1, 2, (1 << 17) - 1, 1 << 17, 1 << f, (1 << f) - 1, 1 << (f - 1)],
            log_uniform(rng, -f, 0, RANDOM, f),
            rng.integers(0, (1 << f) + 1, 200),
        ]
    )
    w = np.minimum(w, 1 << f)
    lim = 2 << unit.parameters.in_fmt.f  # differences of unit vectors: [−2, 2]
    diff = rng.integers(-lim, lim + 1, (w.size, unit.parameters.dim))
    diff[:8] = [
        [lim, -lim, 0],
        [-lim, lim, 1],
        [-1, 1, 0],
        [unit.parameters.in_fmt.max_raw, unit.parameters.in_fmt.min_raw, -1],
        [lim, lim, -lim],
        [1, -1, 3],
        [-lim, 7, 5],
        [0, 0, 0],
    ]
    return w, diff


@pytest.mark.parametrize("name", UNITS)
def test_force_product_bit_exact(name):
    unit = UNITS[name]()
    rng = np.random.default_rng(len(name))
    w, diff = inputs(unit, rng)
    expected = unit.parameters.compute(w, diff)
    # The model is the documented arithmetic, in Python integers.
    f, fo, g = unit.parameters.w_fmt.f, unit.parameters.o_fmt.f, unit.parameters.diff_fmt.f
    for wk, dk, ek in zip(w[:300].tolist(), diff[:300].tolist(), expected[:300].tolist()):
        k = max(wk.bit_length() - unit.parameters.w_bits, 0)
        s = f + g - fo - k
        dt = [
            min(
                max(x >> (unit.parameters.in_fmt.f - g), unit.parameters.diff_fmt.min_raw),
                unit.parameters.diff_fmt.max_raw,
            )
            for x in dk
        ]
        assert ek == [
            min(
                max(((wk >> k) * x + (1 << (s - 1))) >> s, unit.parameters.o_fmt.min_raw), unit.parameters.o_fmt.max_raw
            )
            for x in dt
        ]
    # Accuracy on unit-vector differences: relative 2^−(w_bits − 1) of w, 2^−g of diff, ½ ulp of o.
    exact = (w[:, None] * 2.0**-f) * (diff * 2.0**-unit.parameters.in_fmt.f)
    bound = (
        np.abs(exact) * 2.0 ** -(unit.parameters.w_bits - 1) + w[:, None] * 2.0**-f * 2.0**-g + 2.0 ** -(fo + 1)
    ) * (1 + 1e-9)
    ok = np.abs(diff) <= 2 << unit.parameters.in_fmt.f
    assert np.all((np.abs(expected * 2.0**-fo - exact) <= bound)[ok])
    check_rtl(unit, [{"w": int(a), "diff": b.tolist()} for a, b in zip(w, diff)], expected.tolist())


def test_arguments_are_checked():
    w, d, dt, o = Q(1, 44, False), Q(4, 44), Q(3, 31), Q(4, 46)
    with pytest.raises(ValueError, match=r"ForceProduct takes an unsigned weight format, not Q\(i=1, f=44"):
        ForceProductParameters(Q(1, 44), d, dt, o, 3)
    with pytest.raises(ValueError, match=r"at most 44 fraction bits, not Q\(i=3, f=45"):
        ForceProductParameters(w, d, Q(3, 45), o, 3)
    with pytest.raises(ValueError, match=r"w_bits must be an integer in 2\.\.29, not 30"):
        ForceProductParameters(w, d, dt, o, 3, 30)
    with pytest.raises(
        ValueError,
        match=r"o_fmt must have fewer than 47 fraction bits \(every product rounds\), "
        r"not Q4\.47",
    ):
        ForceProductParameters(w, d, dt, Q(4, 47), 3).create()
