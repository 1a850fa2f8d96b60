"""UpdaterCore with on-chip loosening (``CoreConfig(loosening=True)``) under cocotb + Verilator
(``tests/benches/tb_core_check.py``) against the bit-exact model :func:`spherecode.host.model.chip_loosening.loosen`:
a whole run of several iterations from the paper's start (n = 1, l = 2) with the coordinates back to back
(final vectors, n, l, S, δ_min, progress and the cycle counter = ``CoreConfig.run_cycles``), a second run
that resumes from the first one's state on the core's own vectors with gaps on the input stream and
backpressure on the output stream (the gaps delay the load one for one), a plain update on the same core (``loosen`` =
0: ``CoreConfig.cycles``),
and the refused starts (K = 0, l outside [2, 2n])."""

import numpy as np
import pytest

from spherecode.hw.config import CoreConfig
from spherecode.hw.fixed import Q
from spherecode.host.model.chip_loosening import control, loosen, run_cycles
from spherecode.host.model.updater import iterate
from spherecode.host.backends.reference import random_start

from .test_core import run_core, signed

# (format, Nmax, Dmax, L, N, D, K of the first run, K of the second)
CASES = [(Q(2, 20), 16, 3, 3, 11, 3, 16, 3), (Q(3, 44), 8, 4, 2, 7, 4, 16, 2)]


def _hex(values, width):
    mask = (1 << width) - 1
    return [format(int(v) & mask, "x") for v in np.asarray(values).ravel()]


@pytest.mark.parametrize(
    "fmt, nmax, dmax, lanes, n, d, k1, k2", CASES, ids=[f"{c[0]}-N{c[4]}-D{c[5]}-L{c[3]}" for c in CASES]
)
def test_loosening_runs_are_bit_exact_under_cocotb(fmt, nmax, dmax, lanes, n, d, k1, k2):
    config = CoreConfig(fmt, nmax, dmax, lanes, loosening=True)
    dp, width = config.datapath, fmt.width
    unit = control(dp)
    rng = np.random.default_rng(n * 10 + d)
    raw, _, _ = dp.inputs(random_start(n, d, rng), 4.0)
    r1, state1, steps1, kept1 = loosen(dp, raw, k1)
    r2, state2, steps2, kept2 = loosen(dp, r1, k2, state1)
    assert any(s.raised for s in steps1 + steps2) and not all(s.raised for s in steps1 + steps2)
    hb, c = dp.constants(9.0)
    plain = iterate(dp, r2, hb, c)
    start_l = format(2 << unit.precision, "x")
    base = {"d": d, "half_beta": "0", "step": "0", "in_gaps": [], "out_stalls": []}
    iterations = [
        {**base, "n": n, "coords": _hex(raw, width), "loosen": {"iterations": k1, "n": 1, "l": start_l}},
        {
            **base,
            "n": n,
            "coords": None,
            "loosen": {"iterations": k2, "n": state1.n, "l": format(state1.l, "x")},
            "in_gaps": rng.choice([0, 0, 1, 3], n * d).tolist(),
            "out_stalls": rng.choice([0, 0, 1, 2], n * d).tolist(),
        },
        {**base, "n": n, "coords": None, "half_beta": format(hb, "x"), "step": format(c, "x")},
        {**base, "n": n, "coords": None, "loosen": {"iterations": 0, "n": 1, "l": start_l}},
        {
            **base,
            "n": n,
            "coords": None,
            "loosen": {"iterations": 1, "n": 1, "l": format((2 << unit.precision) - 1, "x")},
        },
        {
            **base,
            "n": n,
            "coords": None,
            "loosen": {"iterations": 1, "n": 2, "l": format((4 << unit.precision) + 1, "x")},
        },
        {**base, "n": 1, "coords": None, "loosen": {"iterations": 1, "n": 1, "l": start_l}},
    ]
    got = run_core(config, iterations, loosening=True)

    for k, (ans, (r, state, kept), k_iter) in enumerate(zip(got, [(r1, state1, kept1), (r2, state2, kept2)], (k1, k2))):
        assert not ans["error"], f"run {k}"
        np.testing.assert_array_equal(signed(ans["coords"], width).reshape(n, d), r, err_msg=f"run {k}")
        assert (ans["state_n"], int(ans["state_l"], 16)) == (state.n, state.l)
        assert int(ans["move_norm"], 16) == kept.move_norm
        assert int(ans["delta_min"], 16) == int(kept.delta.min())
        assert ans["progress"] == k_iter
        if k == 0:  # back to back: the documented formula, exactly
            assert ans["cycles"] == config.run_cycles(n, d, k1) == run_cycles(config, n, d, k1)
        else:  # the input's gaps delay the load one for one; the output's stalls cost nothing (the
            # kept vectors go into the output buffer)
            gaps = sum(iterations[1]["in_gaps"])
            load = max(n * d + 3 + gaps, config.control.load_latency)
            assert ans["cycles"] == config.run_cycles(n, d, k2) - max(n * d + 3, config.control.load_latency) + load

    ans = got[2]  # a plain update on the loosening core: candidate 1 to the output, the update's cycles
    assert not ans["error"]
    np.testing.assert_array_equal(signed(ans["coords"], width).reshape(n, d), plain.vectors)
    assert int(ans["move_norm"], 16) == plain.move_norm and int(ans["delta_min"], 16) == int(plain.delta.min())
    assert ans["cycles"] == config.cycles(n, d)
    assert [a["error"] for a in got[3:]] == [True] * 4  # K = 0; l < 2; l > 2n; N = 1
