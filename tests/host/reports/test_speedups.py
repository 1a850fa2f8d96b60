"""What the times mean (:mod:`~spherecode.host.reports.speedups`): the crossover N, the speed-ups per update and
per whole run, against the report's own table."""

import math

import pytest

from spherecode.boards import get_board
from spherecode.host.reports import speedups
from spherecode.host.reports.hwtime import chip_run_time, update_time

from .report_run import BOARD


def test_crossover_and_speed_up_agree_with_the_table(report):
    _, r, _ = report
    one = {s["points"]: s["seconds"] for s in r["software"] if s["threads"] == 1}
    hw = {h["points"]: h["seconds"] for h in r["hardware"] if h["board"] == BOARD.name and h["fits"]}
    (speed,) = [s for s in r["speed"] if s["board"] == BOARD.name]
    faster = [n for n in sorted(hw) if hw[n] < one[n]]
    if speed["crossover"] is None:
        assert hw[max(hw)] >= one[max(hw)]
    else:
        x = speed["crossover"]
        assert all(hw[n] < one[n] for n in hw if n >= x) and faster
        below = [n for n in hw if n < x]
        assert not below or hw[max(below)] >= one[max(below)]
    assert speed["speedup_at_largest"] == pytest.approx(one[1024] / hw[1024])
    assert speed["asymptotic_speedup"] == pytest.approx(one[2048] / (2048 * 2047) * BOARD.lanes * BOARD.clock_hz)
    (no,) = [s for s in r["speed"] if s["board"] == "icebreaker"]
    assert no["crossover"] is None and "does not fit" in no["note"]


def test_crossover_interpolates_log_log():
    assert speedups.crossover([10, 100], [1.0, 10.0], [10.0, 1.0]) == pytest.approx(math.sqrt(10 * 100))
    assert speedups.crossover([10, 100], [1.0, 1.0], [2.0, 2.0]) is None
    assert speedups.crossover([10, 100], [2.0, 2.0], [1.0, 1.0]) == 10.0
    assert speedups.crossover([10, 100, 1000], [2.0, 1.0, 4.0], [1.0, 2.0, 1.0]) > 100  # faster, slower, faster again


def test_whole_runs_are_two_updates_per_iteration(report):
    _, r, out = report
    runs = r["runs"]
    assert runs["iterations"] == 3000 and runs["summary"] == []  # neither board loosens on chip
    one = {(s["dim"], s["points"]): s["seconds"] for s in r["software"] if s["threads"] == 1}
    assert [(row["dim"], row["points"]) for row in runs["rows"]] == sorted(one)
    for row in runs["rows"]:
        d, n = row["dim"], row["points"]
        assert row["software_1_s"] == pytest.approx(2 * 3000 * one[d, n])
        if n <= BOARD.nmax:
            assert row["boards"] == {BOARD.name: {"host_s": pytest.approx(2 * 3000 * update_time(BOARD, n, d).seconds)}}
        else:
            assert row["boards"] == {}
    assert "## Whole runs: 3000 force-loosening iterations" in (out / "report.md").read_text()


def test_a_board_that_loosens_on_chip_runs_whole_runs():
    loose = get_board("ulx3s-85f-loosening")
    software = [
        {"dim": 3, "points": n, "threads": t, "seconds": s * t, "watts": 5.0 * t}
        for n, s in ((64, 1e-6), (256, 1e-3), (1024, 1e-3), (2048, 0.03))
        for t in (1, 2)
    ]
    power = {"idle_w": 0.25, "dynamic_w": 1.5}
    runs = speedups.runs({"software": software, "builds": {loose.name: {"power": power}}}, [loose], 100)
    by_n = {row["points"]: row for row in runs["rows"]}
    for n in (64, 256, 1024):
        chip = dict(by_n[n]["boards"][loose.name]["chip"])
        joules = chip.pop("joules")
        assert chip == chip_run_time(loose, n, 3, 100).as_dict()
        assert joules == pytest.approx(0.25 * chip["seconds"] + 1.5 * chip["compute_s"])
        assert by_n[n]["software_1_j"] == pytest.approx(5.0 * by_n[n]["software_1_s"])
        assert by_n[n]["software_all_s"] == pytest.approx(2 * by_n[n]["software_1_s"]) and by_n[n]["threads_all"] == 2
    assert by_n[2048]["boards"] == {}
    [s] = runs["summary"]
    t = {n: chip_run_time(loose, n, 3, 100).seconds for n in (64, 256, 1024)}
    assert s["largest_fitting"] == 1024 and s["speedup_at_largest"] == pytest.approx(200e-3 / t[1024])
    assert s["chip_j"] == by_n[1024]["boards"][loose.name]["chip"]["joules"] and s["software_1_j"] == pytest.approx(1.0)
    assert s["faster_at"] == [n for n, sw in ((64, 200e-6), (256, 200e-3), (1024, 200e-3)) if t[n] < sw]
