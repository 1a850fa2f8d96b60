"""What the commands share (:mod:`~spherecode.host.cli.common`): progress that advances within iterations, and
bars only on a terminal."""

import sys

import numpy as np
import pytest

from spherecode.host.cli import main


def test_progress_advances_within_iterations_and_lands_on_whole_ones():
    from spherecode.host.cli.common import Iterations

    class Bar:
        n = 0.0

        def update(self, k):
            assert k >= 0
            self.n += k

    bar = Bar()
    steps = Iterations(bar, rows=10)
    for i in range(3):
        steps.on_rows(4)
        assert bar.n == pytest.approx(i + 0.4)
        for k in (4, 4):  # more rows reported than an iteration has: the bar waits for its end
            steps.on_rows(k)
        assert bar.n == pytest.approx(i + 0.9)
        steps.on_iteration()
    assert bar.n == pytest.approx(3.0)


def test_the_time_to_go_leaves_out_the_start(monkeypatch, capsys):
    """A run whose first iteration carries a one-off start (a simulator's: 18 s) and whose others are quick
    is not extrapolated from the start: the time to go is measured from the first report on."""
    from spherecode.host.cli import common

    clock = iter([0.0, 18.0, 18.06, 18.12])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(clock))
    bar = type("Bar", (), {"disable": True, "update": lambda self, k: None})()
    steps = common.Iterations(bar, 100, total=300)
    for _ in range(3):
        steps.on_iteration()
    assert capsys.readouterr().err == ""  # 0.06 s an iteration: 18 s to go, under LONG_RUN
    clock = iter([0.0, 18.0, 36.0])  # every iteration 18 s: 298 × 18 s to go
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(clock))
    slow = common.Iterations(bar, 100, total=300)
    slow.on_iteration()
    slow.on_iteration()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("spherecode: note: about 1.49 h to go"), err


@pytest.mark.parametrize(
    "argv, unit",
    [
        (["verify", "code.npy", "-d", "3"], r"\d+/6000 .*row/s"),
        (["run", "-d", "3", "-n", "3000", "-k", "2"], r"\d\.\d/2 \["),
        (["bench", "-d", "3", "-n", "3000", "-r", "2"], r"\d\.\d/3 \["),
    ],
)
def test_progress_bars_on_a_terminal(argv, unit, tmp_path, monkeypatch):
    """A long run, bench or verify shows a bar on a terminal (how it advances within iterations: above)."""
    import io
    import re

    import spherecode.host.cli.common as cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    g = np.random.default_rng(0).normal(size=(3000, 3))
    np.save(tmp_path / "code.npy", g / np.linalg.norm(g, axis=1, keepdims=True))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert main(argv) == 0
    assert re.search(unit, sys.stderr.getvalue())
