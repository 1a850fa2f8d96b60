"""The report's measurements and models (:mod:`~spherecode.host.reports.measure`), checked against the formulas
and against runs repeated here: hardware time, energy, quality, and the build figures it reads."""

import json

import pytest

from spherecode.host.bestknown import best_known
from spherecode.host.metrics import summary
from spherecode.host.reports import measure
from spherecode.host.sweeps.starts import StartTask, run_starts
from spherecode.hw.config import CoreConfig

from .report_run import BOARD
from .test_hwtime import protocol_bytes


def test_hardware_time_is_cycles_at_the_clock_plus_bytes_at_the_baud_rate(report):
    _, r, _ = report
    rows = [h for h in r["hardware"] if h["board"] == BOARD.name]
    assert [h["points"] for h in rows] == [4, 64, 1024, 2048]
    core = BOARD.core
    for h in rows[:3]:
        n, d = h["points"], h["dim"]
        assert h["fits"] and h["time"] == "modelled"
        assert h["cycles"] == core.cycles(n, d) and h["bytes"] == protocol_bytes(BOARD, n, d)
        assert h["seconds"] == pytest.approx(h["cycles"] / BOARD.clock_hz + h["bytes"] * 10 / BOARD.baud)
    assert not rows[3]["fits"] and rows[3]["reason"] == "N > Nmax = 1024" and "seconds" not in rows[3]
    assert all(not h["fits"] for h in r["hardware"] if h["board"] == "icebreaker")


def test_energy_is_power_times_time(report):
    _, r, _ = report
    v = {c["key"]: c["value"] for c in r["power_model"]}
    for s in r["software"]:
        assert s["time"] == "measured" and s["repeats"] >= 3
        assert s["seconds"] == (s["cpu_seconds"] if s["threads"] == 1 else s["wall_seconds"])
        if not r["machine"]["rapl"]:
            assert s["power"] == "modelled" and s["watts"] == v["cpu_watts_per_core"] * (
                1 if s["threads"] == 1 else r["machine"]["cores"]
            )
        assert s["joules"] == pytest.approx(s["watts"] * s["seconds"])
        assert s["joules_per_pair"] == pytest.approx(s["joules"] / (s["points"] * (s["points"] - 1)))
    res = {k: v["used"] for k, v in BOARD.record["utilisation"].items()}  # no build report under --builds
    dynamic = (
        BOARD.clock_hz
        * 1e-12
        * sum(
            res[k] * v[f"pj_per_cycle.{k}"] * v["activity.logic" if k in ("lut4", "ff") else "activity.arith"]
            for k in res
        )
    )
    for h in r["hardware"]:
        if h["board"] == BOARD.name and h["fits"]:
            assert h["joules"] == pytest.approx(v[f"idle_watts.{BOARD.name}"] * h["seconds"] + dynamic * h["compute_s"])
            assert h["watts"] == pytest.approx(h["joules"] / h["seconds"])


def test_quality_is_the_best_of_the_starts(report):
    _, r, _ = report
    groups = {(q["backend"], q["format"]) for q in r["quality"]}
    assert groups == {("reference", None), ("model", "Q3.44"), ("model", str(BOARD.fmt))}  # the board's format
    for q in r["quality"]:
        opts = (
            {"threads": 1}
            if q["backend"] == "reference"
            else {"config": CoreConfig(q["format"], 64, 3, 1), "threads": 1}
        )
        tasks = [StartTask(q["backend"], 3, 6, 30, 0, k, 2, opts) for k in range(2)]
        best, _ = run_starts(tasks, jobs=1)
        assert q["min_angle_deg"] == summary(best.vectors)["min_angle_deg"]
        assert q["best_known_angle_deg"] == best_known(3, 6).min_angle_deg
    ref = [q for q in r["quality"] if q["backend"] == "reference"][0]
    (f,) = [f for f in r["formats"] if f["board"] == BOARD.name]
    (cost,) = f["quality_cost_deg"]
    q_board = [q for q in r["quality"] if q["format"] == str(BOARD.fmt)][0]
    assert cost["delta_angle_deg"] == pytest.approx(q_board["min_angle_deg"] - ref["min_angle_deg"])
    assert f["fmax_mhz"] == BOARD.record["fmax_mhz"] and "shipped" in f["fmax_source"]
    assert f["pairs_per_second_compute"] == BOARD.lanes * BOARD.clock_hz


def test_build_report_is_preferred(tmp_path):
    folder = tmp_path / BOARD.name
    folder.mkdir()
    (folder / "report.json").write_text(
        json.dumps(
            {
                "fmax": {"$glbnet$sync_clk": {"achieved": 71.25, "constraint": 60.0}},
                "utilization": {
                    "TRELLIS_COMB": {"used": 100, "available": 83640},
                    "TRELLIS_FF": {"used": 200, "available": 83640},
                    "MULT18X18D": {"used": 3, "available": 156},
                    "DP16KD": {"used": 1, "available": 208},
                },
            }
        )
    )
    got = measure._build_figures(BOARD, str(tmp_path))
    assert got["fmax_mhz"] == 71.25 and got["resources"] == {"lut4": 100, "ff": 200, "dsp": 3, "bram": 1}
    assert got["source"].startswith("measured")
    assert "shipped" in measure._build_figures(BOARD, str(tmp_path / "none"))["source"]
