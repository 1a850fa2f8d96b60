"""What the fixed-point backends share (:mod:`~spherecode.host.backends.hardware`): the core a run models or
simulates, the options ``--format`` and ``--lanes``, and the β range."""

import argparse

import pytest

from spherecode.host.backends.hardware import FixedPointBackend, add_core_arguments, run_config
from spherecode.hw.config import CoreConfig
from spherecode.hw.datapath import HALF_BETA_RANGE


def test_run_config_defaults_come_from_core_config():
    args = argparse.Namespace(dim=2, points=65, format=None, lanes=None)
    config = run_config(args)
    assert (config.fmt, config.lanes) == (CoreConfig().fmt, CoreConfig().lanes)
    assert (config.nmax, config.dmax) == (128, 3)
    assert run_config(argparse.Namespace(dim=7, points=3, format=None, lanes=None)).nmax == 64
    with pytest.raises(ValueError, match="--points 16385: the hardware holds at most Nmax = 16384"):
        run_config(argparse.Namespace(dim=3, points=16385, format=None, lanes=None))
    with pytest.raises(ValueError, match="the datapath supports D ≤ 7"):
        run_config(argparse.Namespace(dim=8, points=5, format=None, lanes=None))


@pytest.mark.parametrize(
    "points, dim, nmax, dmax",
    [(2, 2, 64, 3), (64, 3, 64, 3), (65, 4, 128, 4), (128, 7, 128, 7), (129, 3, 256, 3), (16384, 3, 16384, 3)],
)
def test_runs_of_similar_sizes_share_one_core(points, dim, nmax, dmax):
    """Nmax is 64 or the next power of two ≥ N, Dmax is max(3, D): one Verilator build for many runs."""
    config = run_config(argparse.Namespace(dim=dim, points=points, format="Q2.20", lanes=4))
    assert (config.nmax, config.dmax, str(config.fmt), config.lanes) == (nmax, dmax, "Q2.20", 4)


def test_core_arguments_default_to_none_and_normalise_the_format():
    """No --format or --lanes: None (CoreConfig's defaults, or a board's own); a format is CoreConfig's
    spelling of it."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_core_arguments(parser)
    add_core_arguments(parser)  # declared again by another backend: the same options, once
    assert vars(parser.parse_args([])) == {"format": None, "lanes": None}
    args = parser.parse_args(["--format", "Q2.20", "--lanes", "8"])
    assert (args.format, args.lanes) == (str(CoreConfig(fmt="Q2.20").fmt), 8)
    help_text = parser.format_help()
    assert f"({CoreConfig().fmt}; a board: its own)" in help_text and f"({CoreConfig().lanes}; a board" in help_text


def test_beta_range_is_twice_the_weight_units_half_beta_range():
    assert FixedPointBackend.beta_range == (2 * HALF_BETA_RANGE[0], 2 * HALF_BETA_RANGE[1])


def test_host_loosening_reports_the_cycles_of_an_update_and_of_an_iteration():
    config = CoreConfig("Q2.20", 64, 3, 2)
    report = FixedPointBackend.report({"config": config}, {"updates": 4, "cycles": 1000})
    assert report == {
        "format": "Q2.20",
        "lanes": 2,
        "loosening": "host",
        "cycles_per_iteration": 250.0,
        "cycles_per_loosening_iteration": 500.0,
    }
    assert "cycles_per_iteration" not in FixedPointBackend.report({}, {"updates": 0, "cycles": 0})
