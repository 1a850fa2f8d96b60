"""``spherecode bench``: the time per update and the pairs per second."""

import pytest

from .output import RUN_FIELDS, run_json


def test_bench_json(capsys):
    r = run_json(capsys, "bench", "--backend", "reference", "--dim", "3", "--points", "64", "--repeats", "3")
    assert {"ms_per_iteration", "pairs_per_second"} <= r.keys() and RUN_FIELDS <= r.keys()
    assert r["ms_per_iteration"] > 0
    assert r["pairs_per_second"] == pytest.approx(64 * 63 / (r["ms_per_iteration"] / 1e3))
