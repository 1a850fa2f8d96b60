import numpy as np
import pytest

from spherecode.hw.units.distance import d2_format
from spherecode.hw.fixed import Q
from spherecode.hw.units.reciprocal import ReciprocalParameters
from spherecode.hw.units.weight import weight_precision

from ..rtl import FORMATS, RANDOM, check_rtl, ids, log_uniform


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_reciprocal_bit_exact_and_accurate(fmt):
    d2f = d2_format(fmt)
    p = weight_precision(fmt.f)
    unit = ReciprocalParameters(d2f, p).create()
    rng = np.random.default_rng(12)
    edges = [1, 2, 3, d2f.max_raw, 1 << fmt.f, (1 << fmt.f) - 1, 0]
    x = np.concatenate([edges, log_uniform(rng, -fmt.f, 3, RANDOM, fmt.f)])
    x = np.minimum(x, d2f.max_raw)
    mant, exp = unit.parameters.compute(x)
    assert np.all((mant >= 1 << p) & (mant < 2 << p))
    live = x > 0
    approx = mant * 2.0 ** -(p + 1 + exp)
    rel = (approx - 1 / np.where(live, x, 1))[live] * x[live]
    assert np.abs(rel).max() < 2.0**-p
    assert mant[0] == (2 << p) - 1 and exp[0] == 0 and mant[-RANDOM - 1] == (2 << p) - 1
    check_rtl(unit, [int(v) for v in x], [{"mant": int(m), "exp": int(e)} for m, e in zip(mant, exp)])


def test_reciprocal_model_is_exact_division():
    unit = ReciprocalParameters(Q(3, 44, signed=False), 30).create()
    x = np.random.default_rng(13).integers(1, 1 << 47, 2000)
    mant, exp = unit.parameters.compute(x)
    for v, m, e in zip(x.tolist(), mant.tolist(), exp.tolist()):
        top = v >> (e - 30) if e >= 30 else v << (30 - e)
        assert m == ((1 << 61) - 1) // top and e == v.bit_length() - 1


@pytest.mark.parametrize(
    "args, message",
    [
        ((Q(3, 44), 30), r"unsigned format, not Q\(i=3, f=44, signed=True\)"),
        ((Q(3, 20, signed=False), 23), r"precision must be an integer in 2\.\.22, not 23"),
        ((Q(3, 20, signed=False), 1), r"precision must be an integer in 2\.\.22, not 1"),
        ((Q(3, 20, signed=False), "8"), r"precision must be an integer in 2\.\.22, not '8'"),
    ],
)
def test_reciprocal_arguments_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        ReciprocalParameters(*args)
