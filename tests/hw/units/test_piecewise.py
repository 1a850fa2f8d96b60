import math

import numpy as np
import pytest

from amaranth.sim import Simulator

from spherecode.hw.units.piecewise import (
    COEFF_INT,
    MAX_INDEX_BITS,
    PiecewisePolynomial,
    PolynomialEvaluator,
    gauss_derivative,
)


def exp_derivative(x, n):
    return (-math.log(2)) ** n * 2.0**-x


def g_derivative():
    return gauss_derivative(lambda t, x, n: (-1) ** n * math.factorial(n) * t**n / (1 + x * t) ** (n + 1) / math.log(2))


def sixteen(error=2.0**-12):
    """2^−x on 16 segments of [0, 1), the lowest degree for ``error``."""
    return PiecewisePolynomial.lowest_degree("e", exp_derivative, [s / 16 for s in range(16)], [1 / 16] * 16, 40, error)


def test_degree_follows_the_error_bound():
    coarse, fine = sixteen(), sixteen(2.0**-36)
    assert coarse.degree < fine.degree and fine.error_bound <= 2.0**-36 and fine.segments == 16
    assert fine.latency == 2 + 5 * fine.degree
    assert fine.offset_bits == fine.frac == 40 and fine.rounding == "nearest" and fine.u_shifts == (0,) * fine.degree
    assert set(fine.column_widths) == set(fine.sum_widths) == {COEFF_INT + 40} and not fine.argument


def test_horner_model_matches_the_function():
    deriv = lambda x, n: (  # noqa: E731
        math.log2(1 + x) if n == 0 else (-1) ** (n + 1) * math.factorial(n - 1) / ((1 + x) ** n * math.log(2))
    )
    k_bits, frac = 6, 40
    starts, widths = [s / 2**k_bits for s in range(2**k_bits)], [2.0**-k_bits] * 2**k_bits
    t = PiecewisePolynomial.lowest_degree("l", deriv, starts, widths, frac, 2.0**-38)
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2**k_bits, 5000)
    u = rng.integers(-(1 << (frac - 1)), 1 << (frac - 1), 5000)
    x = (k + 0.5 + u * 2.0**-frac) / 2**k_bits
    y = t.compute(k, u) * 2.0**-frac
    assert np.max(np.abs(y - np.log2(1 + x))) < 2.0**-37


@pytest.mark.parametrize(
    "table", [sixteen(2.0**-36), PiecewisePolynomial.fewest_segments("g", g_derivative(), 30, 32, 2.0**-32)]
)
def test_sums_fit_their_widths(table):
    """Every segment at both ends of u (the largest |u|): y fits ``sum_widths[0]``, the evaluator's output,
    and within its bound."""
    half = 1 << (table.offset_bits - 1)
    k = np.repeat(np.arange(table.segments), 2)
    y = table.compute(k, np.tile([-half, half - 1], table.segments))
    assert np.abs(y).max() <= table.sum_bounds[0] < 1 << (table.sum_widths[0] - 1)
    assert all(s >= c for s, c in zip(table.sum_widths, table.column_widths)) and len(table.sum_widths) == table.degree


def test_gauss_derivative_matches_closed_forms():
    d = g_derivative()
    for x in (0.0, 0.3, 0.99):
        assert d(x, 0) == pytest.approx(math.log2(1 + x) / x if x else 1 / math.log(2), rel=1e-15)
        h = 1e-4
        assert d(x + 0.5, 1) == pytest.approx((d(x + 0.5 + h, 0) - d(x + 0.5 - h, 0)) / (2 * h), rel=1e-7)


@pytest.mark.parametrize("arg_frac, frac, error", [(30, 32, 2.0**-32), (16, 18, 2.0**-18)])
def test_quadratic_table_error_within_its_bound(arg_frac, frac, error):
    table = PiecewisePolynomial.fewest_segments("g", g_derivative(), arg_frac, frac, error)
    assert table.error_bound <= error and table.index_bits <= MAX_INDEX_BITS and table.degree == 2
    assert table.rounding == "trunc" and table.offset_bits + 1 - table.u_shifts[0] <= 17 and table.u_shifts[1] == 0
    assert table.column_widths[2] <= 17  # ⌊u/2^s⌋ · c2: one DSP block
    assert table.argument and table.sum_widths == tuple(w + 1 for w in table.column_widths[:2])
    z = np.concatenate(
        [
            np.arange(64),
            np.random.default_rng(0).integers(0, 1 << arg_frac, 100_000),
            (1 << arg_frac) - 1 - np.arange(64),
        ]
    )
    y = table.compute_argument(z) * 2.0**-frac
    x = z * 2.0**-arg_frac
    ref = np.where(x > 0, np.log2(1 + x) / np.where(x > 0, x, 1), 1 / math.log(2))
    assert np.abs(y - ref).max() <= table.error_bound + 3 * 2.0**-frac


def test_exp_table():
    table = PiecewisePolynomial.fewest_segments("2^-x", exp_derivative, 20, 22, 2.0**-23)
    z = np.random.default_rng(1).integers(0, 1 << 20, 100_000)
    err = np.abs(table.compute_argument(z) * 2.0**-22 - 2.0 ** -(z * 2.0**-20))
    assert err.max() <= table.error_bound + 3 * 2.0**-22


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arg_frac": 1}, r"arg_frac must be an integer ≥ 2, not 1"),
        ({"frac": 0}, r"frac must be an integer in 1\.\.40, not 0"),
        ({"error": 0.0}, r"error must be positive, not 0\.0"),
        ({"error": 2.0**-60}, r"g: no table of ≤ 2\^10 segments of degree 2 reaches error 8\.67"),
    ],
)
def test_fewest_segments_arguments_are_checked(kwargs, message):
    args = {"arg_frac": 20, "frac": 22, "error": 2.0**-20} | kwargs
    with pytest.raises(ValueError, match=message):
        PiecewisePolynomial.fewest_segments("g", g_derivative(), **args)


@pytest.mark.parametrize(
    "error, message",
    [(-1.0, r"error must be positive, not -1\.0"), (2.0**-90, r"e: no degree ≤ 8 reaches error 8\.07")],
)
def test_lowest_degree_arguments_are_checked(error, message):
    with pytest.raises(ValueError, match=message):
        sixteen(error)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"coeffs": ((1, 2),)}, r"coeffs must be 2 or more equally long, non-empty columns, not \(\(1, 2\),\)"),
        ({"coeffs": ((1, 2), (3,))}, r"coeffs must be 2 or more .*, not \(\(1, 2\), \(3,\)\)"),
        ({"frac": 0}, r"frac must be an integer in 1\.\.60, not 0"),
        ({"offset_bits": 2.0}, r"offset_bits must be an integer in 1\.\.60, not 2\.0"),
        ({"rounding": "floor"}, r"rounding must be one of \('trunc', 'nearest'\), not 'floor'"),
        ({"u_shifts": (0,)}, r"u_shifts must be 2 integers in 0\.\.39 \(one per Horner step\), not \(0,\)"),
        ({"u_shifts": (40, 0)}, r"u_shifts must be 2 integers in 0\.\.39 .*, not \(40, 0\)"),
        (
            {"column_widths": (3, 3, 4)},
            r"column_widths must hold the columns \(at least \(3, 4, 4\)\), not \(3, 3, 4\)",
        ),
        ({"sum_widths": (4, 3)}, r"sum_widths must hold the sums' bounds \(at least \(4, 4\)\), not \(4, 3\)"),
        (
            {"coeffs": ((1, 2, 3), (1, 2, 3), (1, 2, 3)), "column_widths": (3, 3, 3), "argument": True},
            r"an argument table has 2\^index_bits segments, not 3",
        ),
    ],
)
def test_table_fields_are_checked(change, message):
    fields = {
        "name": "t",
        "coeffs": ((1, 2), (3, 4), (5, 6)),
        "frac": 40,
        "offset_bits": 40,
        "rounding": "nearest",
        "u_shifts": (0, 0),
        "column_widths": (3, 4, 4),
        "sum_widths": (5, 5),
        "argument": False,
        "error_bound": 0.0,
    }
    with pytest.raises(ValueError, match=message):
        PiecewisePolynomial(**(fields | change))


def test_create_and_its_arguments():
    table = sixteen()
    unit = table.create(shared=True)
    assert isinstance(unit, PolynomialEvaluator) and unit.table is table
    assert unit.ii == table.latency - 1 == unit.latency - 1 and table.create().ii == 1
    assert len(unit.y) == table.sum_widths[0] and len(unit.u) == table.offset_bits + 1 and len(unit.k) == 4
    with pytest.raises(ValueError, match="shared must be a bool, not 'yes'"):
        PolynomialEvaluator(table, shared="yes")
    with pytest.raises(ValueError, match=r"table must be a PiecewisePolynomial, not 'e'"):
        PolynomialEvaluator("e")
    narrowed = PiecewisePolynomial.fewest_segments("g", g_derivative(), 30, 32, 2.0**-32)
    with pytest.raises(ValueError, match=r"shared needs the same u in every Horner step, not u_shifts \(4, 0\)"):
        narrowed.create(shared=True)
    with pytest.raises(ValueError, match=r"dsp must be 'infer' or 'gw5a', not 'ecp5'"):
        table.create(dsp="ecp5")
    with pytest.raises(ValueError, match=r"reads must be one of \('staggered', 'together'\), not 'late'"):
        table.create(reads="late")
    with pytest.raises(ValueError, match=r"shared reads the columns staggered, not 'together'"):
        table.create(shared=True, reads="together")
    assert len(narrowed.create().z) == narrowed.index_bits + narrowed.offset_bits


def simulate(unit, inputs: list[dict]) -> list[int]:
    """``y`` of ``unit`` for one input per cycle, read ``latency`` cycles after each."""
    outputs = []

    async def bench(ctx):
        for cycle in range(len(inputs) + unit.latency):
            if cycle < len(inputs):
                for port, value in inputs[cycle].items():
                    ctx.set(getattr(unit, port), value)
            if cycle >= unit.latency:
                outputs.append(ctx.get(unit.y))
            await ctx.tick()

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return outputs


@pytest.mark.parametrize("reads", ["staggered", "together"])
def test_evaluator_is_its_model(reads):
    """Both schedules, a table that takes (k, u) and one that takes the argument z, 300 random inputs
    each at II = 1 and every edge of u: y equals the model's, ``latency`` cycles later."""
    rng = np.random.default_rng(3)
    ku = sixteen(2.0**-20)
    half = 1 << (ku.offset_bits - 1)
    k = np.concatenate([[0, 15, 7, 7], rng.integers(0, 16, 300)])
    u = np.concatenate([[-half, half - 1, 0, -1], rng.integers(-half, half, 300)])
    got = simulate(ku.create(reads=reads), [{"k": int(a), "u": int(b)} for a, b in zip(k, u)])
    assert got == ku.compute(k, u).tolist()
    arg = PiecewisePolynomial.fewest_segments("g", g_derivative(), 24, 26, 2.0**-26)
    z = np.concatenate([[0, 1, (1 << 24) - 1], rng.integers(0, 1 << 24, 300)])
    assert simulate(arg.create(reads=reads), [{"z": int(v)} for v in z]) == arg.compute_argument(z).tolist()
