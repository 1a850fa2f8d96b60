"""`spherecode compare` end to end, once (a configuration smaller than --quick), and its numbers checked
against the formulas and against runs repeated here; bad input; no partial report on an interrupt."""

import contextlib
import io
import json
import math

import pytest

from spherecode.boards import get_board
from spherecode.host.reports import checks, markdown, measure, speedups
from spherecode.host.reports import figures as figs
from spherecode.host.reports.options import QUICK, Options
from spherecode.host.bestknown import best_known
from spherecode.host.cli import main
from spherecode.host.reports.hwtime import chip_run_time, update_time
from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import StartTask, run_starts
from spherecode.hw.config import CoreConfig

from .test_hwtime import protocol_bytes

BOARD = get_board("ulx3s-85f")
ARGV = [
    "compare",
    "--quick",
    "--board",
    "ulx3s-85f",
    "--board",
    "icebreaker",
    "--points",
    "4",
    "64",
    "1024",
    "2048",
    "--quality-points",
    "6",
    "--quality-dims",
    "3",
    "--starts",
    "2",
    "--iters",
    "30",
    "--jobs",
    "1",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    out = folder / "report"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(ARGV + ["--builds", str(folder / "no-builds"), "--out", str(out), "--json"])
    return status, json.loads(stdout.getvalue()), out


def test_files_and_json(report):
    status, r, out = report
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "report.md",
        "report.json",
        *(f"{s}.{e}" for s in ("time", "runs", "energy", "quality") for e in ("png", "svg")),
    }
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["command_line"].startswith("spherecode compare --quick --board ulx3s-85f --board icebreaker")
    assert {k: v for k, v in r.items() if k not in ("out", "files")} == on_disk
    assert (out / "time.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (out / "time.svg").read_bytes()[:400]
    assert not list(out.parent.glob(".report.tmp-*"))


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


def test_checks_pass_with_their_numbers(report):
    _, r, _ = report
    (cyc,) = r["checks"]["cycles"]
    assert cyc["passed"] and cyc["counter"] == cyc["formula"] == CoreConfig(
        BOARD.fmt, checks.CHECK_NMAX, BOARD.dmax, BOARD.lanes
    ).cycles(cyc["points"], cyc["dim"])
    (link,) = r["checks"]["link"]
    assert link["passed"] and link["bytes_measured"] == link["bytes_model"] == protocol_bytes(
        BOARD, link["points"], link["dim"]
    )
    assert link["bytes_written"] + link["bytes_read"] == link["bytes_measured"]
    assert link["cycles_counter"] == link["cycles_formula"]


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


def test_markdown_states_the_results(report):
    _, r, out = report
    text = (out / "report.md").read_text()
    assert "![time per update](time.svg)" in text and "(18 ÷ 24)×" in text
    assert text.count("**pass**") == 2 and "FAIL" not in text
    assert "N > Nmax = 1024" in text and "measured" in text and "modelled" in text
    assert r["command_line"].split(" --out ")[0] in text


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


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    report = {"x": 1}

    def boom(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(markdown, "draw_figures", boom)
    with pytest.raises(KeyboardInterrupt):
        markdown.write_report(report, tmp_path / "out", "spherecode compare")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--points", "3"], "--points must be in 4 … 16384, got 3"),
        (["--dims", "1"], "--dims must be in 2"),
        (["--quality-dims", "8"], "--quality-dims must be in 2 … 7"),
        (["--board", "nosuch"], "unknown board 'nosuch'"),
        (["--starts", "0"], "--starts must be at least 1"),
        (["--run-iters", "0"], "--run-iters must be at least 1"),
        (["--iters", "40000"], "iters must be an integer in 1 … 32767"),
        (["--cpu-watts", "-1"], "--cpu-watts must be a non-negative number"),
        (["--power", "{missing}"], "--power"),
        (["--power", "{bad}"], "not JSON"),
        (["--power", "{unknown}"], "unknown power constant"),
        (["--out", "{file}"], "exists and is not a folder"),
        (["--out", "{nodir}"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, message):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "unknown.json").write_text('{"gpu": 1}')
    (tmp_path / "file").write_text("")
    subs = {
        "{missing}": str(tmp_path / "missing.json"),
        "{bad}": str(tmp_path / "bad.json"),
        "{unknown}": str(tmp_path / "unknown.json"),
        "{file}": str(tmp_path / "file"),
        "{nodir}": str(tmp_path / "no" / "report"),
    }
    argv = [subs.get(a, a) for a in argv]
    full = ["compare", "--quick", *argv] + ([] if "--out" in argv else ["--out", str(tmp_path / "r")])
    assert main(full) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spherecode: error:") and message in err
    assert not (tmp_path / "r").exists()


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


def test_merged_folds_only_series_that_coincide():
    a = ("a", [1, 2], [1.0, 10.0], {"color": "k"})
    b = ("b", [1, 2], [1.05, 10.5], {"color": "r"})
    c = ("c", [1, 2], [1.0, 20.0], {"color": "g"})
    d = ("d", [1, 3], [1.0, 10.0], {"color": "b"})
    assert [s[0] for s in figs._merged([a, b, c, d])] == ["a\n= b", "c", "d"]


def test_figures_one_per_kind_few_distinct_series_legend_outside(tmp_path, monkeypatch):
    # The shipped full report: every board, two D, four quality D.
    from pathlib import Path

    shipped = json.loads((Path(__file__).resolve().parents[3] / "docs" / "report" / "report.json").read_text())
    figures = {}  # drawn, not saved (test_files_and_json checks the files)
    monkeypatch.setattr(figs, "_save", lambda fig, folder, stem: [figures.setdefault(stem, fig) and stem])
    assert figs.draw_figures(shipped, tmp_path) == ["time", "runs", "energy", "quality"]
    for stem, fig in figures.items():
        fig.canvas.draw()
        for ax in fig.axes:
            lines = [l for l in ax.get_lines() if not l.get_label().startswith("_")]
            assert len(lines) <= figs.MAX_SERIES, (stem, [l.get_label() for l in lines])
            styles = [(l.get_color(), l.get_marker()) for l in lines]
            assert len(set(styles)) == len(styles), (stem, styles)
            legend = ax.get_legend()
            if legend is not None:  # outside the data: left of it nothing, right of the axes
                assert legend.get_window_extent().x0 >= ax.get_window_extent().x1, stem


def test_the_simulators_the_checks_build_are_named_and_built_once_each():
    boards = [get_board(b) for b in ("ulx3s-85f", "ecpix5-85f", "icebreaker", "ulx3s-85f-loosening")]
    names = [name for name, _ in checks.board_simulators(boards)]
    assert names == [
        "core Q3.44, 2 lane(s)",
        "core Q3.44, 1 lane(s), loosening",
        "ulx3s-85f's twin",
        "ecpix5-85f's twin",
        "ulx3s-85f-loosening's twin",
    ]
    assert [checks.build_workers(c) for c in (1, 2, 3, 16)] == [1, 1, 1, 8]
    built, steps = [], []
    checks.build_simulators([(str(k), lambda k=k: built.append(k)) for k in range(3)], 4, lambda k=1: steps.append(k))
    assert sorted(built) == [0, 1, 2] and steps == [1, 1, 1]
