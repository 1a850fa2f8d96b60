"""The loosening control under Verilator against its model, and the model against float64 loosening."""

import random

import numpy as np
import pytest

from spherecode.hw.datapath import Datapath
from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.loosening_control import N_BITS, LooseningControlParameters

from ...benches.streams import stream_through
from ..rtl import RANDOM


def _requests(unit, rng, count):
    """Edges, then ``count`` random requests: mostly choices (ties, extremes, random S), some loads of
    random reachable states."""
    big = random.Random(int(rng.integers(1 << 31)))  # l is wider than int64
    smax = unit.s_fmt.max_raw
    one = 1 << unit.precision
    nmax = (1 << N_BITS) - 1
    choose = lambda a, b: {"load": 0, "s_keep": int(a), "s_raise": int(b), "n": 0, "l": 0}  # noqa: E731
    load = lambda n, l: {"load": 1, "s_keep": 0, "s_raise": 0, "n": int(n), "l": int(l)}  # noqa: E731
    reqs = [
        choose(5, 5),
        choose(0, smax),
        choose(smax, 0),
        choose(7, 6),
        choose(6, 7),
        choose(0, 0),
        load(1, 2 * one),
        choose(smax, smax),
        load(2, 4 * one),
        choose(1, 0),
        load(nmax, 2 * nmax * one),
        choose(0, 1),
        choose(0, 1),  # n saturates; β/2 saturates
        load(nmax - 1, 2 * one),
        choose(3, 2),
        choose(3, 2),
        load(3, 6 * one - 1),
        choose(1, 1),
    ]
    for _ in range(count - len(reqs)):
        kind = rng.random()
        if kind < 0.05:
            n = int(rng.integers(1, 1 << int(rng.integers(1, N_BITS + 1))))
            n = min(n, nmax)
            reqs.append(load(n, big.randint(2 * one, 2 * n * one)))
        elif kind < 0.15:
            s = big.randint(0, smax)  # S is wider than int64 in Q3.44 (2f fraction bits)
            reqs.append(choose(s, s))
        else:
            bits = int(rng.integers(1, unit.s_fmt.width + 1))
            reqs.append(choose(big.getrandbits(bits), big.getrandbits(bits)))
    return reqs[:count] if count >= len(reqs) else reqs


def _model(unit, reqs):
    state, out = unit.initial(), []
    for r in reqs:
        state = unit.load(r["n"], r["l"]) if r["load"] else unit.compute(state, r["s_keep"], r["s_raise"])
        out.append(unit.output(state))
    return out


@pytest.mark.parametrize(
    "fmt, precision, count", [(Q(2, 20), 24, RANDOM), (Q(3, 44), 48, 1500)], ids=["Q2.20-F24", "Q3.44-F48"]
)
def test_loosening_control_is_bit_exact(fmt, precision, count):
    unit = LooseningControlParameters(Datapath(fmt, 1024, 3), precision)
    rng = np.random.default_rng(precision)
    reqs = _requests(unit, rng, count)
    expected = _model(unit, reqs)
    gaps = [(unit.load_latency if r["load"] else unit.latency) + int(rng.integers(0, 2)) for r in reqs]
    out, cycles = stream_through(unit.create(), reqs, gaps, drain=unit.load_latency + 2)
    mismatches = [(k, o, e) for k, (o, e) in enumerate(zip(out, expected)) if o != e]
    assert len(out) == len(expected) and not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:2]}"
    start = np.concatenate([[0], np.cumsum(np.array(gaps) + 1)[:-1]])
    latency = np.array([unit.load_latency if r["load"] else unit.latency for r in reqs])
    assert cycles == (start + latency).tolist()
    assert any(e["raise"]["half_beta"] == unit.hb_fmt.max_raw for e in expected)  # the saturation edge ran
    assert unit.latency == precision + fmt.f + 26 and unit.load_latency == precision + 2 * fmt.f + 30


def test_reset_state_is_the_paper_start():
    dp = Datapath(Q(3, 44), 64, 3)
    unit = LooseningControlParameters(dp)
    s = unit.initial()
    assert (s.n, unit.l_value(s)) == (1, 2.0)
    assert unit.constants(s) == (dp.constants(4.0), dp.constants(8.0))


def _float_run(raises):
    """float64 l before each iteration, as host/loosening.py computes it."""
    l, out = 2.0, []
    for n, up in enumerate(raises, start=1):
        out.append(l)
        if up:
            l *= 1.0 + 1.0 / n
    return np.array(out)


@pytest.mark.parametrize("pattern", ["always", "random", "sparse"])
def test_fixed_l_tracks_float64_over_3000_iterations(pattern):
    """docs/arithmetic.md: |l_fixed − l_float64| / l < K · 2^−(F + 1) + float64's own drift."""
    rng = np.random.default_rng(3)
    k = 3000
    raises = {"always": np.ones(k, bool), "random": rng.random(k) < 0.5, "sparse": rng.random(k) < 0.05}[pattern]
    dp = Datapath(Q(3, 44), 64, 3)
    unit = LooseningControlParameters(dp)
    state, fixed = unit.initial(), []
    for up in raises:
        fixed.append(state.l)
        state = unit.compute(state, 0 if up else 1, 0)  # S' > S'' keeps
        assert state.raised == up
    l_float = _float_run(raises)
    l_fixed = np.array([x / (1 << unit.precision) for x in fixed])
    rel = np.abs(l_fixed - l_float) / l_float
    assert rel.max() < k * 2.0 ** -(unit.precision + 1) + k * 2.0**-52
    if pattern == "always":  # l = 2n exactly in both
        assert np.array_equal(l_fixed, 2.0 * np.arange(1, k + 1))
    # The constants the host would send: β/2 within one ulp, 1/(2β) within a few.
    for n in (10, 100, 2999):
        hb, c = dp.constants(2 * l_float[n])
        state_n = unit.load(n + 1, fixed[n])
        (hb_chip, c_chip), _ = unit.constants(state_n)
        assert abs(hb_chip - hb) <= 1 and abs(c_chip - c) <= 1 + c * 2 * rel[n] * 2.0**48


@pytest.mark.parametrize(
    "args, message",
    [
        (("dp",), r"LooseningControl takes a Datapath, not 'dp'"),
        ((None,), r"LooseningControl takes a Datapath, not None"),
        ((Datapath(Q(3, 44), 64, 3), 15), r"precision must be an integer in 16\.\.64, not 15"),
        ((Datapath(Q(3, 44), 64, 3), 65), r"precision must be an integer in 16\.\.64, not 65"),
        ((Datapath(Q(3, 44), 64, 3), "48"), r"precision must be an integer in 16\.\.64, not '48'"),
        ((Datapath(Q(3, 44), 64, 3), True), r"precision must be an integer in 16\.\.64, not True"),
    ],
)
def test_loosening_control_arguments_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        LooseningControlParameters(*args)


@pytest.mark.parametrize(
    "n, l, message",
    [
        (0, 2 << 48, r"n must be an integer in 1\.\.65535, not 0"),
        (1 << 16, 2 << 48, r"n must be an integer in 1\.\.65535, not 65536"),
        (3, (2 << 48) - 1, rf"raw l must be an integer in \[2, 2n\] · 2\^48, not {(2 << 48) - 1}"),
        (3, (6 << 48) + 1, rf"raw l must be an integer in \[2, 2n\] · 2\^48, not {(6 << 48) + 1}"),
    ],
)
def test_load_range_is_checked(n, l, message):
    with pytest.raises(ValueError, match=message):
        LooseningControlParameters(Datapath(Q(3, 44), 64, 3)).load(n, l)
