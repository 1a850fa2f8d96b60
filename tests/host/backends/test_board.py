"""The ``board`` backend's whole loosening run (``BoardBackend.loosen``) against the board's Python model
behind a port (tests/host/link/ports.py's ``ModelPort``); updates through the real gateware are tested
with the board twin (tests/boards/test_system_twin.py)."""

import numpy as np
import pytest

from spherecode.host.backends import board as board_module
from spherecode.host.backends.board import BoardBackend
from spherecode.host.link import BoardError
from spherecode.hw.board_link import protocol as p

from ..link.ports import ModelPort, _expected


def backend(monkeypatch, port, retries=3):
    monkeypatch.setattr(board_module, "open_port", lambda name, baud: port)
    return BoardBackend("model", timeout=0.05, retries=retries)


def unit_vectors(n=8, d=3, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("faults, resets", [({}, 0), ({4: "reset"}, 1), ({3: "lost"}, 1)])
def test_loosen_repeats_the_run_after_a_reset_or_a_lost_answer(monkeypatch, capsys, faults, resets):
    """Request 3 is the LOOSEN, 4 the first STATUS: a lost LOOSEN answer or a reset mid-run repeats the
    whole run from the host's copy, with one line on stderr; the result is the run's."""
    port = ModelPort(faults=faults)
    b = backend(monkeypatch, port)
    v = unit_vectors()
    told = []
    got = b.loosen(v, 5, on_iteration=told.append)
    raw = b.dp.inputs(v, 4.0)[0]
    new, cycles, s, dmin, n, l = _expected(raw, 5)
    assert np.array_equal(got.vectors, new * b.dp.fmt.ulp)
    assert got.l == l / 2**p.L_FRACTION and got.trace == []
    config = b.config
    assert config.loosening  # from the IDENTIFY's capability
    assert got.stats == {
        "iterations": 5,
        "cycles": cycles,
        "move_norm": s * b.dp.s_fmt.ulp,
        "delta_min": dmin * b.dp.d2_fmt.ulp,
        "final_n": 6,
        "load_cycles": config.run_cycles(8, 3, 5) - 5 * config.iteration_cycles(8),
    }
    assert told == [None] * 5  # once per iteration the board reported done, never more
    assert b.resets == resets
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == resets and all("repeating the run" in line for line in err)


def test_loosen_gives_up_after_the_retries(monkeypatch):
    port = ModelPort(faults={4: "reset", 12: "reset"})
    b = backend(monkeypatch, port, retries=1)
    with pytest.raises(BoardError, match=r"^STATUS: the board's state is none, .*\(run tried 2 times\)$"):
        b.loosen(unit_vectors(), 5)


def test_loosen_refuses_what_the_board_cannot_hold(monkeypatch):
    b = backend(monkeypatch, ModelPort())
    with pytest.raises(BoardError, match=r"^N = 9, D = 3 does not fit the board \(Nmax = 8, Dmax = 3\)$"):
        b.loosen(unit_vectors(9), 5)
