"""The modelled hardware time: cycles from the core's formula, bytes of one protocol exchange recomputed
here from docs/protocol.md's field widths, and `spherecode run`'s comparison lines."""

import json
import math

import pytest

from spherecode.boards import BOARDS, DEFAULT, get_board
from spherecode.host.cli import main
from spherecode.host.reports.hwtime import (
    chip_run_bytes,
    chip_run_time,
    core_cycles,
    exchange_bytes,
    misfit,
    iteration_comparison,
    update_time,
)
from spherecode.hw.config import CoreConfig

BOARD = get_board(DEFAULT)


def protocol_bytes(board, n, d):
    """docs/protocol.md, by hand: W = ⌈(i + f)/8⌉, β/2 5 bytes, 1/(2β) ⌈(f + 5)/8⌉, S ⌈(3 + bits(Nmax) + 2f)/8⌉,
    δ_min ⌈(3 + f)/8⌉, the token 4 (CONFIGURE, each LOAD, RUN's answer, each READ's answer); requests
    5 + L + 2 bytes, responses 7 + L + 2; LOAD and READ in chunks of 512."""
    i, f = board.fmt.i, board.fmt.f
    w = math.ceil((i + f) / 8)
    stats = 4 + math.ceil((3 + board.nmax.bit_length() + 2 * f) / 8) + math.ceil((3 + f) / 8) + 4
    configure = (5 + 3 + 5 + math.ceil((f + 5) / 8) + 4 + 2) + 9
    chunks = [min(512, n * d - k) for k in range(0, n * d, 512)]
    load = sum((5 + 4 + 2 + m * w + 2) + 9 for m in chunks)
    run = 7 + (7 + stats + 2)
    read = sum((5 + 4 + 2) + (7 + m * w + 4 + 2) for m in chunks)
    return configure + load + run + read


def chip_protocol_bytes(board, n, d):
    """docs/protocol.md, by hand: a whole on-chip run is the update's exchange with RUN replaced by LOOSEN
    (K 4 bytes, n 2, l 9; answered with the token, 4) and RESULT (cycles 6, S, δ_min, n 2, l 9, the
    token 4)."""
    f = board.fmt.f
    s, dmin = math.ceil((3 + board.nmax.bit_length() + 2 * f) / 8), math.ceil((3 + board.fmt.f) / 8)
    stats = 4 + s + dmin + 4
    run = 7 + (7 + stats + 2)
    loosen = (5 + 4 + 2 + 9 + 2) + (9 + 4)
    result = 7 + (7 + 6 + s + dmin + 2 + 9 + 4 + 2)
    return protocol_bytes(board, n, d) - run + loosen + result


@pytest.mark.parametrize("n, d", [(2, 2), (64, 3), (171, 3), (1024, 3)])
def test_chip_run_bytes_match_the_documented_frames(n, d):
    board = get_board("ulx3s-85f-loosening")
    got = chip_run_bytes(board, n, d)
    assert got["total"] == chip_protocol_bytes(board, n, d)
    assert got["total"] == sum(v for k, v in got.items() if k != "total")


@pytest.mark.parametrize("n, d", [(2, 2), (16, 3), (170, 3), (171, 3), (1024, 3), (1000, 2)])
def test_exchange_bytes_match_the_documented_frames(n, d):
    got = exchange_bytes(BOARD, n, d)
    assert got["total"] == protocol_bytes(BOARD, n, d)
    assert got["total"] == got["configure"] + got["load"] + got["run"] + got["read"]


def test_update_time_is_cycles_at_the_clock_plus_bytes_at_the_baud_rate():
    n, d = 300, 3
    t = update_time(BOARD, n, d)
    cycles = CoreConfig(BOARD.fmt, BOARD.nmax, BOARD.dmax, BOARD.lanes).cycles(n, d)
    assert t.cycles == cycles == core_cycles(BOARD, n, d)
    assert t.bytes == protocol_bytes(BOARD, n, d)
    assert t.compute_s == pytest.approx(cycles / BOARD.clock_hz)
    assert t.link_s == pytest.approx(t.bytes * 10 / BOARD.baud)
    assert t.seconds == pytest.approx(t.compute_s + t.link_s)


def test_a_whole_chip_run_is_its_cycles_plus_one_exchange():
    """On-chip loosening (modelled): the loosening core's exact run, max(N·D + 3, the control's load
    latency) + K·(one sweep of both candidates + the control's latency + 1) + N + 2 cycles
    (:meth:`CoreConfig.run_cycles`, equal to the RTL counter under Verilator), and the bytes of one
    CONFIGURE, LOAD, LOOSEN, RESULT and READ, whatever K."""
    from spherecode.host.model.chip_loosening import control

    n, d, k = 1024, 3, 3000
    t = chip_run_time(BOARD, n, d, k)
    core = CoreConfig(BOARD.fmt, BOARD.nmax, BOARD.dmax, BOARD.lanes, loosening=True)
    ctl = control(core.datapath)
    per = core.updater.sweep_cycles(n) + ctl.latency + 1
    assert t.cycles == core.run_cycles(n, d, k) == max(n * d + 3, ctl.load_latency) + k * per + n + 2
    assert BOARD.core.run_cycles(n, d, k) == t.cycles  # the loosening core's, whichever config asks
    assert t.bytes == chip_protocol_bytes(BOARD, n, d) == chip_run_time(BOARD, n, d, 1).bytes
    assert t.seconds == pytest.approx(t.cycles / BOARD.clock_hz + t.bytes * 10 / BOARD.baud)
    with pytest.raises(ValueError, match="does not fit"):
        chip_run_time(BOARD, BOARD.nmax + 1, 3, 10)


def test_what_does_not_fit_is_refused():
    assert misfit(BOARD, BOARD.nmax, BOARD.dmax) is None
    assert misfit(BOARD, BOARD.nmax + 1, 3) == f"N > Nmax = {BOARD.nmax}"
    assert misfit(BOARD, 8, BOARD.dmax + 1) == f"D > Dmax = {BOARD.dmax}"
    small = [b for b in BOARDS.values() if not b.fits][0]
    assert "does not fit" in misfit(small, 8, 3)
    with pytest.raises(ValueError, match="does not fit: N > Nmax"):
        update_time(BOARD, BOARD.nmax + 1, 3)


def test_iteration_comparison_lines():
    fields, lines = iteration_comparison(
        12, 3, {"reference": {"updates": 4, "update_seconds": 0.002}, "sim": {"updates": 2, "update_seconds": 3.0}}
    )
    assert fields["seconds_per_update"] == {"reference": 0.0005, "sim": 1.5}
    model = fields["hardware_model"]
    assert model["fits"] and model["seconds"] == update_time(BOARD, 12, 3).seconds
    text = "\n".join(lines)
    assert "simulation wall time" in text and "modelled" in text and BOARD.name in text
    other = get_board("ecpix5-85f-loosening")  # a run on a board: that board's model, by name or configuration
    for board in (other, other.name):
        fields, lines = iteration_comparison(12, 3, {"board": {"updates": 2, "update_seconds": 0.1}}, board)
        assert fields["hardware_model"]["board"] == other.name
        assert fields["hardware_model"]["seconds"] == update_time(other, 12, 3).seconds and other.name in lines[-1]
    fields, lines = iteration_comparison(BOARD.nmax + 1, 3, {})
    assert fields["hardware_model"] == {"board": BOARD.name, "fits": False, "reason": f"N > Nmax = {BOARD.nmax}"}
    assert "does not fit" in lines[-1]


def test_run_prints_software_beside_the_modelled_hardware(capsys):
    assert main(["run", "--dim", "3", "--points", "8", "--iters", "20", "--backend", "model", "--vs", "reference"]) == 0
    out = capsys.readouterr().out
    assert "time per update" in out and f"{BOARD.name}" in out and "modelled" in out
    assert main(["run", "--dim", "3", "--points", "8", "--iters", "20", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["seconds_per_update"]["reference"] > 0
    assert r["hardware_model"]["cycles"] == core_cycles(BOARD, 8, 3)
