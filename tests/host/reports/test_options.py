"""The options of ``spherecode compare`` (:class:`~spherecode.host.reports.options.Options`) check their
arguments."""

import pytest

from spherecode.host.reports.options import QUICK, Options


def test_options_check_their_arguments():
    base = dict(QUICK)
    with pytest.raises(ValueError, match=r"points must be integers in 4 … 16384, not \(2,\)"):
        Options(**{**base, "points": (2,)})
    with pytest.raises(ValueError, match=r"quality_dims must be integers in 2 … 7, not \(9,\)"):
        Options(**{**base, "quality_dims": (9,)})
    with pytest.raises(ValueError, match=r"starts must be an integer ≥ 1, not 0"):
        Options(**{**base, "starts": 0})
    with pytest.raises(ValueError, match=r"run_iters must be an integer ≥ 1, not 0"):
        Options(**{**base, "run_iters": 0})
    with pytest.raises(ValueError, match=r"unknown board 'x'"):
        Options(**{**base, "boards": ("x",)})
    assert Options(**base).command_line("r").endswith("--out r")
