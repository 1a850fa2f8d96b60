"""The method registry: names, the CLI's choices, every method as table tasks, float64 methods refused on
hardware backends."""

import json

import numpy as np
import pytest

from spherecode.host import methods
from spherecode.host.sweeps import starts, table
from spherecode.host.cli import _parser, main
from spherecode.host.methods import METHODS, Method, get_method
from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import StartTask, initial_vectors, run_start
from spherecode.host.sweeps.table import best_rows, sweep, table_tasks

ALL = ("vrf", "cg", "riesz", "penalty", "rrr")


def test_registry_lists_every_method_once_and_is_what_the_others_read():
    assert tuple(METHODS) == ALL == methods.names() == starts.METHODS
    assert table.METHODS is METHODS
    assert [m.name for m in METHODS.values() if not m.host_only] == ["vrf"]
    for m in METHODS.values():
        assert m.description and "\n" not in m.description


def test_cli_choices_and_help_come_from_the_registry():
    p = _parser()
    for command in ("run", "table"):
        sub = p._subparsers._group_actions[0].choices[command]
        action = next(a for a in sub._actions if a.dest == "method")
        assert tuple(action.choices) == ALL
        for m in METHODS.values():
            assert f"{m.name}: {m.description}" in action.help


def test_unknown_method_and_bad_registrations():
    with pytest.raises(ValueError, match="unknown method 'nope' \\(available: vrf, cg, riesz, penalty, rrr\\)"):
        get_method("nope")
    with pytest.raises(ValueError, match="a method name must be a nonempty identifier, not 'a b'"):
        Method("a b", "x", print)
    with pytest.raises(ValueError, match="a method description must be one nonempty line, not ''"):
        Method("a", "", print)
    with pytest.raises(ValueError, match="a method's optimize must be callable, not 3"):
        Method("a", "x", 3)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        table_tasks(3, [4], 1, 10, 0, "nope")


@pytest.mark.parametrize("name", ALL)
def test_every_method_runs_a_start_and_raises_the_minimum_distance(name):
    task = StartTask("reference", 3, 6, 300, 0, 0, 1, {"threads": 1}, name)
    r = run_start(task)
    assert r.vectors.shape == (6, 3) and np.allclose(np.linalg.norm(r.vectors, axis=1), 1.0)
    before = summary(initial_vectors(task))["min_angle_deg"]
    assert summary(r.vectors)["min_angle_deg"] > before + 20.0  # the octahedron is 90°; starts are ~30–60°
    assert (r.final_beta is None) == (name != "vrf")
    json.dumps(r.stats)  # the stats are plain numbers


def test_host_methods_refuse_other_backends():
    with pytest.raises(ValueError, match="method rrr runs on backend reference only, not 'model'"):
        run_start(StartTask("model", 3, 6, 10, 0, 0, 1, {}, "rrr"))


def test_table_runs_every_method_as_tasks(tmp_path):
    out = tmp_path / "t.tsv"
    tasks = [t for name in ALL for t in table_tasks(3, [4, 6], 2, 1500, 0, name)]
    rows = sweep(tasks, out, workers=2, progress=False)
    assert {r["method"] for r in rows} == set(ALL) and len(rows) == 20
    best = {(r["method"], r["points"]): r["min_angle_deg"] for r in best_rows(rows)}
    for name in ALL:  # tetrahedron and octahedron, best of 2 starts
        assert best[name, 4] == pytest.approx(109.4712206, abs=1e-3), name
        assert best[name, 6] == pytest.approx(90.0, abs=1e-3), name


def test_table_method_through_the_cli(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert (
        main(
            [
                "table",
                "-d",
                "3",
                "-n",
                "4",
                "-s",
                "2",
                "-k",
                "400",
                "-m",
                "penalty",
                "-o",
                str(out),
                "--workers",
                "1",
                "--json",
            ]
        )
        == 0
    )
    r = json.loads(capsys.readouterr().out)
    assert r["best"][0]["method"] == "penalty"
    assert r["best"][0]["min_angle_deg"] == pytest.approx(109.4712206, abs=1e-3)


@pytest.mark.parametrize(
    "argv, phrase",
    [
        (
            ["run", "-d", "3", "-n", "5", "-m", "riesz", "-b", "sim"],
            "--method riesz runs in float64 only (--backend reference), not --backend sim",
        ),
        (["run", "-d", "3", "-n", "5", "-m", "rrr", "-b", "model"], "not --backend model"),
        (["run", "-d", "3", "-n", "5", "-m", "penalty", "--vs", "model"], "not --vs model"),
        (["run", "-d", "3", "-n", "5", "-m", "annealing"], "invalid choice: 'annealing'"),
        (["table", "-d", "3", "-n", "4..5", "-m", "annealing", "-o", "t.tsv"], "invalid choice: 'annealing'"),
    ],
)
def test_bad_method_input_is_one_line_and_status_2(argv, phrase, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and phrase in err[0]


@pytest.mark.parametrize("name", ["riesz", "penalty", "rrr"])
def test_run_with_each_new_method(name, capsys):
    assert main(["run", "-d", "3", "-n", "4", "-k", "3000", "-m", name, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["method"] == name and r["final_beta"] is None
    assert r["min_angle_deg"] == pytest.approx(109.4712206, abs=1e-3)
