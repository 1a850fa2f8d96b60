"""``spherecode emulate``: which design it serves and how its failures read, with the twin's ``serve`` replaced
(the twin itself behind the command: tests/boards/test_system_twin.py)."""

import dataclasses

import pytest
from amaranth.hdl import Fragment

from spherecode.boards import TWIN_TIMEOUT_BYTES, get_board
from spherecode.hw.board_link.board_top import BoardTop
from spherecode.host.cli import main
from spherecode.sim.verilator import SimError

#: The board whose design elaborates fastest.
SMALL = "ulx3s-25f"


@pytest.fixture
def served(monkeypatch):
    """The (top, divisor) that emulate hands to the twin; ``served.error`` is raised instead when set."""
    import spherecode.sim.twin as twin

    calls = []

    def serve(top, divisor=8, out=None):
        Fragment.get(top, None)  # a whole design, as the twin's build elaborates it
        calls.append((top, divisor))
        if getattr(serve, "error", None):
            raise serve.error
        return 0

    monkeypatch.setattr(twin, "serve", serve)
    serve.calls = calls
    return serve


@pytest.mark.parametrize("loosening", [False, True])
def test_the_boards_twin_is_served_with_its_divisor(served, capsys, loosening):
    board = get_board(SMALL)
    assert main(["emulate", "--board", SMALL, "--divisor", "16", *(["--loosening"] if loosening else [])]) == 0
    [(top, divisor)] = served.calls
    assert isinstance(top, BoardTop) and divisor == top.divisor == 16
    assert top.config == dataclasses.replace(board.core, loosening=loosening)
    assert (top.clock_hz, top.baud, top.timeout) == (board.clock_hz, board.baud, TWIN_TIMEOUT_BYTES * 10 * 16)
    banner = capsys.readouterr().err
    assert banner.startswith(f"spherecode emulate: {SMALL} ({board.fmt}, Nmax {board.nmax}")
    assert ("on-chip loosening" in banner) == loosening


def test_a_twin_that_cannot_be_built_is_one_line(served, capsys):
    served.error = SimError("verilator: no C++ compiler")
    assert main(["emulate", "--board", SMALL]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "spherecode: error: emulate: verilator: no C++ compiler"


@pytest.mark.parametrize("divisor", ["3", "65537"])
def test_the_divisor_is_checked(served, capsys, divisor):
    assert main(["emulate", "--divisor", divisor]) == 2
    assert f"--divisor must be in 4 … 65536, got {divisor}" in capsys.readouterr().err and served.calls == []
