"""The ``model`` backend (host/backends/model.py): its options, checks and reports, and on-chip against host
loosening through it."""

import numpy as np
import pytest

from spherecode.host.backends.model import LooseningModelBackend, ModelBackend
from spherecode.host.backends.reference import random_start
from spherecode.host.loosening import force_loosening
from spherecode.host.model.chip_loosening import control, iteration_cycles, run_cycles
from spherecode.host.pairs import min_distance
from spherecode.hw.config import CoreConfig
from spherecode.hw.datapath import Datapath
from spherecode.hw.fixed import Q


def test_chip_agrees_bit_for_bit_while_its_constants_are_the_hosts():
    """Where the chip's (β/2, 1/(2β)) pairs equal what the host sends (Datapath.constants of its float64 β),
    the two runs compute the same integers: equal S', S'' and so the same choices."""
    config = CoreConfig("Q3.44", nmax=16)
    dp, unit = config.datapath, control(config.datapath)
    r0 = random_start(10, 3, np.random.default_rng(7))
    host = force_loosening(LooseningModelBackend(config, loosening="host"), r0, 60, keep_trace=True)
    chip = force_loosening(LooseningModelBackend(config, loosening="chip"), r0, 60, keep_trace=True)
    state, agreed = unit.initial(), 0
    for h, c in zip(host.trace, chip.trace):
        if unit.constants(state) != (dp.constants(h.beta_keep), dp.constants(h.beta_raise)):
            break
        assert (c.s_keep, c.s_raise, c.raised) == (h.s_keep, h.s_raise, h.raised)
        agreed += 1
        state = unit.compute(state, 1 if c.raised else 2, 1)  # S' > S'' keeps: replay the choice
    assert agreed >= 20  # measured: the first 41 of 60 iterations (then a 1/(2β) differs by an ulp)
    assert [s.raised for s in chip.trace] == [s.raised for s in host.trace]  # and no choice differs later


def test_chip_loosening_quality_matches_the_hosts():
    """Best of 2 starts, 3 seeds, N = 10 and 13, 60 iterations. The chip's l drifts from float64's by
    < 10⁻¹³ relative (docs/arithmetic.md), so β/2 agrees and 1/(2β) differs by a few ulps of 2^−48: the
    moves differ by ~10⁻¹⁴ per iteration and, with no choice flipped (asserted), the codes' minimum
    angles by < 10⁻⁸° (measured: ≤ 8·10⁻¹¹° at N = 16, 200 iterations)."""
    config = CoreConfig("Q3.44", nmax=16)
    for n in (10, 13):
        for seed in range(3):
            best, choices = {}, {}
            for mode in ("chip", "host"):
                runs = [
                    force_loosening(
                        LooseningModelBackend(config, loosening=mode),
                        random_start(n, 3, np.random.default_rng([seed, k])),
                        60,
                        keep_trace=True,
                    )
                    for k in range(2)
                ]
                best[mode] = max(min_distance(r.vectors) ** 2 for r in runs)
                choices[mode] = [[s.raised for s in r.trace] for r in runs]
            angle = {m: np.degrees(np.arccos(1 - d2 / 2)) for m, d2 in best.items()}
            assert choices["chip"] == choices["host"], (n, seed)
            assert abs(angle["chip"] - angle["host"]) < 1e-8, (n, seed, angle)


def test_chip_run_statistics_and_report():
    n = 44  # rows of N ≥ twice the step's interval (2·21 in Q3.44) do not wait
    config = CoreConfig("Q3.44", nmax=64)
    assert n >= 2 * config.updater.step_unit.interval
    backend = LooseningModelBackend(config, loosening="chip")
    res = force_loosening(backend, random_start(n, 3, np.random.default_rng(0)), 5)
    unit = control(config.datapath)
    assert res.stats["cycles"] == run_cycles(config, n, 3, 5) == config.run_cycles(n, 3, 5)
    # the load overlapped with the control's start state, 5 iterations, the kept vectors out
    assert run_cycles(config, n, 3, 5) == max(3 * n + 3, unit.load_latency) + 5 * iteration_cycles(config, n, 3) + n + 2
    # (N + 1)⌈N/L⌉ + C for N ≥ twice the step's interval: the loosening core's update without its N·D load
    # and the core's two cycles, plus the control; its tail is one step interval longer than the
    # one-candidate core's (candidate 2 enters the shared step after candidate 1)
    loose = CoreConfig("Q3.44", nmax=64, loosening=True)
    assert iteration_cycles(config, n, 3) == loose.cycles(n, 3) - 3 * n - 2 + unit.latency + 1
    assert loose.cycles(n, 3) == config.cycles(n, 3) + config.updater.step_unit.interval
    report = LooseningModelBackend.report({"config": config, "loosening": "chip"}, res.stats)
    assert report["loosening"] == "chip"
    assert report["cycles_per_loosening_iteration"] == iteration_cycles(config, n, 3)
    host = force_loosening(LooseningModelBackend(config), random_start(n, 3, np.random.default_rng(0)), 2)
    report = LooseningModelBackend.report({"config": config}, host.stats)
    assert report["loosening"] == "host" and report["cycles_per_loosening_iteration"] == 2 * config.cycles(n, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loosening": "fast"}, r"loosening must be one of host, chip, not 'fast'"),
        ({"loosening": None}, r"loosening must be one of host, chip, not None"),
    ],
)
def test_backend_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LooseningModelBackend(CoreConfig(), **kwargs)


def test_configuration_limits():
    backend = ModelBackend(CoreConfig("Q3.44", nmax=8, dmax=3))
    with pytest.raises(ValueError, match="outside this configuration"):
        backend.update(random_start(9, 3, np.random.default_rng(0)), 4.0)
    with pytest.raises(ValueError, match="outside this configuration"):
        backend.update(random_start(4, 4, np.random.default_rng(0)), 4.0)
    with pytest.raises(ValueError, match="range"):
        backend.update(random_start(4, 3, np.random.default_rng(0)), 2 * 70000.0)
    with pytest.raises(ValueError):
        Datapath(Q(3, 44), 8, 9)


def test_updates_report_the_cores_cycles():
    """The model reports the cycles its core takes: CoreConfig.cycles, the formula the RTL's counter is
    tested against."""
    config = CoreConfig("Q2.20", nmax=32, dmax=3, lanes=2)
    assert config.updater.row_min <= 15  # rows of ⌈30/2⌉ cycles do not wait
    out = ModelBackend(config).update(random_start(30, 2, np.random.default_rng(0)), 8.0)
    assert out.stats["cycles"] == config.cycles(30, 2) == 30 * 2 + 31 * 15 + config.tail
