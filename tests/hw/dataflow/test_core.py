"""The whole updater (UpdaterCore) under cocotb + Verilator (``tests/benches/tb_core_check.py``) against
the bit-exact model: N random unit vectors, one iteration with the coordinates back to back (coordinates,
S, δ_min and the cycle counter = ``CoreConfig.cycles``), then a second iteration on the core's own result
with another β, random gaps on the input stream and backpressure on the output stream (coordinates, S and
δ_min; the cycle formula assumes back-to-back loading). The sim backend's C++ testbench is for speed; this
is the core's check under cocotb. The Q3.44 case builds every product from GW5A DSP blocks (``dsp="gw5a"``, the
blocks simulated by sim/gowin_dsp.v): the same results and cycle counts."""

import numpy as np
import pytest

from spherecode.hw.config import CoreConfig
from spherecode.hw.dataflow.core import UpdaterCore
from spherecode.hw.fixed import Q
from spherecode.host.model.updater import iterate
from spherecode.host.backends.reference import random_start
from spherecode.sim.verilator import build

from ...benches.testbench import run_testbench

# (format, Nmax, Dmax, L, N, D, β of the first and of the second iteration, DSP layer)
# The Q3.44 case builds its products from GW5A DSP blocks; the inferred Q3.44 core is checked by
# test_core_loosening.py and the sim backend's tests.
CASES = [(Q(2, 20), 16, 3, 3, 11, 3, 6.0, 40.0, "infer"), (Q(3, 44), 8, 4, 2, 7, 4, 3.0, 250.0, "gw5a")]


def run_core(config: CoreConfig, iterations: list[dict], loosening: bool = False) -> list[dict]:
    stim = {"iterations": iterations, "loosening": loosening}
    return run_testbench(build(UpdaterCore(config)), "tb_core_check", stim)["iterations"]


def signed(hexes: list[str], width: int) -> np.ndarray:
    return Q(width - 1, 0).from_bits(np.array([int(h, 16) for h in hexes], dtype=np.int64))


@pytest.mark.parametrize(
    "fmt, nmax, dmax, lanes, n, d, beta1, beta2, dsp",
    CASES,
    ids=[f"{c[0]}-N{c[4]}-D{c[5]}-L{c[3]}" + ("" if c[8] == "infer" else f"-{c[8]}") for c in CASES],
)
def test_core_is_bit_exact_under_cocotb(fmt, nmax, dmax, lanes, n, d, beta1, beta2, dsp):
    config = CoreConfig(fmt, nmax, dmax, lanes, dsp=dsp)
    dp, width = config.datapath, fmt.width
    rng = np.random.default_rng(n * 100 + d)
    raw, hb1, c1 = dp.inputs(random_start(n, d, rng), beta1)
    hb2, c2 = dp.constants(beta2)
    mask = (1 << width) - 1
    iterations = [
        {
            "n": n,
            "d": d,
            "half_beta": format(hb1, "x"),
            "step": format(c1, "x"),
            "coords": [format(int(v) & mask, "x") for v in raw.ravel()],
            "in_gaps": [],
            "out_stalls": [],
        },
        {
            "n": n,
            "d": d,
            "half_beta": format(hb2, "x"),
            "step": format(c2, "x"),
            "coords": None,
            "in_gaps": rng.choice([0, 0, 1, 3], n * d).tolist(),
            "out_stalls": rng.choice([0, 0, 1, 2], n * d).tolist(),
        },
    ]
    assert any(iterations[1]["in_gaps"]) and any(iterations[1]["out_stalls"])
    got = run_core(config, iterations)
    r = raw
    for k, ((hb, c), ans) in enumerate(zip([(hb1, c1), (hb2, c2)], got)):
        want = iterate(dp, r, hb, c)
        assert not ans["error"]
        out = signed(ans["coords"], width).reshape(n, d)
        np.testing.assert_array_equal(out, want.vectors, err_msg=f"iteration {k}")
        assert int(ans["move_norm"], 16) == want.move_norm
        assert int(ans["delta_min"], 16) == int(want.delta.min())
        if k == 0:  # back to back: the documented formula, exactly
            assert ans["cycles"] == config.cycles(n, d)
        else:  # the gaps and stalls cost cycles: the counter still runs from start to done
            assert ans["cycles"] > config.cycles(n, d)
        r = want.vectors
