"""Board configurations: which amaranth-boards platform, which core (a
:class:`~spherecode.hw.config.CoreConfig`: format, Nmax, Dmax, lanes), which clock and baud rate. :mod:`.build` turns
one into a bitstream, :mod:`.flash` programs it, and
:func:`twin` gives the same :class:`~spherecode.hw.board_link.board_top.BoardTop` for the Verilator twin."""

from __future__ import annotations

import dataclasses

import re
from dataclasses import dataclass

from ..hw.config import ECP5_EBR, GW5A_BSRAM, ICE40_EBR, BlockRAM, CoreConfig
from ..hw.fixed import Q

__all__ = ["BoardConfig", "BOARDS", "DEFAULT", "ROUTERS", "get_board", "TWIN_DIVISOR", "TWIN_TIMEOUT_BYTES"]

#: The twin's UART: clock cycles per bit.
TWIN_DIVISOR = 8
#: The twin abandons a stalled request after this many byte times.
TWIN_TIMEOUT_BYTES = 256


@dataclass(frozen=True)
class BoardConfig:
    """One board: ``platform`` (module:class in amaranth_boards, or ``gowin:NAME``: :mod:`.gowin`), ``family`` (ecp5,
    ice40 or gw5a), ``core`` (the
    :class:`~spherecode.hw.config.CoreConfig`; ``fmt``, ``nmax``, ``dmax``, ``lanes`` read it),
    ``clock_hz`` (from the PLL), ``baud`` (the UART), ``cable`` (openFPGALoader's arguments),
    ``ram_blocks`` (the device's block RAMs, from its data sheet), ``note`` (why this configuration; its build's figures
    are in :attr:`record`),
    ``fits`` (None, or why the updater does not fit the device: measured, see docs/boards.md) and
    ``dsp_min_width`` (products whose narrower operand has fewer bits than this are built from LUTs —
    :func:`~.build.lut_products_script` — instead of taking a whole DSP block; 0: every product in DSP
    blocks) and ``lut_units`` (units of the core by their path in
    :class:`~spherecode.hw.dataflow.core.UpdaterCore`, such as ``"updater.step"``, whose products are all built from
    LUTs whatever their width: a unit used once per row, like the per-vector step, leaves its DSP blocks
    to the lanes)."""

    name: str
    platform: str
    family: str
    core: CoreConfig
    clock_hz: int
    baud: int
    cable: tuple[str, ...]
    ram_blocks: int
    note: str = ""
    misfit: str | None = None  #: None where the core fits its device, else why it does not
    dsp_min_width: int = 0
    lut_units: tuple[str, ...] = ()

    def __post_init__(self):
        if (
            not isinstance(self.dsp_min_width, int)
            or isinstance(self.dsp_min_width, bool)
            or not 0 <= self.dsp_min_width <= 18
        ):
            raise ValueError(f"dsp_min_width must be an integer in 0..18 (bits), not {self.dsp_min_width!r}")
        if not isinstance(self.lut_units, tuple) or not all(
            isinstance(u, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", u) for u in self.lut_units
        ):
            raise ValueError(f"lut_units must be a tuple of unit paths such as 'updater.step', not {self.lut_units!r}")

    @property
    def fmt(self) -> Q:
        return self.core.fmt

    @property
    def nmax(self) -> int:
        return self.core.nmax

    @property
    def dmax(self) -> int:
        return self.core.dmax

    @property
    def lanes(self) -> int:
        return self.core.lanes

    @property
    def ram(self) -> BlockRAM:
        """The device family's block RAM (ECP5 DP16KD, iCE40 SB_RAM40_4K or GW5A BSRAM)."""
        return {"ecp5": ECP5_EBR, "ice40": ICE40_EBR, "gw5a": GW5A_BSRAM}[self.family]

    @property
    def bitstream_name(self) -> str:
        """The bitstream's file name in the build folder (ecppack's ``.bit``, icepack's ``.bin``,
        gowin_pack's ``.fs``)."""
        return {"ecp5": "top.bit", "ice40": "top.bin", "gw5a": "top.fs"}[self.family]

    @property
    def fits(self) -> bool:
        """Whether the core fits the board's device (else :attr:`misfit` says why not)."""
        return self.misfit is None

    @property
    def record(self) -> dict | None:
        """The record of this board's shipped build (:func:`.records.shipped_record`: post-route fmax,
        resources, tools, commit), or None where it has none."""
        from .records import shipped_record

        return shipped_record(self.name)

    def sized_core(self, reserved: int) -> CoreConfig:
        """This board's core with the largest Nmax its block RAM allows
        (:meth:`CoreConfig.sized <spherecode.hw.config.CoreConfig.sized>`), ``reserved`` blocks left to the
        rest of the design (the units' tables: read them off a ``spherecode build`` report)."""
        return CoreConfig.sized(self.fmt, self.dmax, self.lanes, self.ram_blocks, reserved, self.ram)

    def platform_class(self):
        """The board's description: an amaranth-boards platform class (``module:Class``), or for
        ``gowin:NAME`` the project's own :class:`~.gowin.GowinBoard` (Amaranth has no GW5A platform);
        either has the part number as ``device``."""
        import importlib

        module, cls = self.platform.split(":")
        if module == "gowin":
            from .gowin import GOWIN_BOARDS

            return GOWIN_BOARDS[cls]
        return getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)

    def top(self, divisor: int | None = None, timeout: int | None = None, loosening: bool = False):
        """The board's :class:`~spherecode.hw.board_link.board_top.BoardTop` (``divisor``/``timeout`` for the twin);
        ``loosening``: its core with on-chip loosening (``CoreConfig.loosening``, the LOOSEN command) — for
        the two-lane boards a design their device has no room for (docs/boards.md); ``ulx3s-85f-loosening``
        and ``ecpix5-85f-loosening`` are the built loosening configurations."""
        from ..hw.board_link.board_top import BoardTop

        core = dataclasses.replace(self.core, loosening=True) if loosening else self.core
        return BoardTop(core, clock_hz=self.clock_hz, baud=self.baud, divisor=divisor, timeout=timeout)

    def twin(self, divisor: int = TWIN_DIVISOR, loosening: bool = False):
        """The top the board twin simulates: this board's, with a UART of ``divisor`` cycles per bit (a
        pty has no baud rate, and simulated cycles are dear) and a request timeout of
        :data:`TWIN_TIMEOUT_BYTES` byte times instead of 20 ms; ``loosening`` as for :meth:`top`."""
        return self.top(divisor=divisor, timeout=TWIN_TIMEOUT_BYTES * 10 * divisor, loosening=loosening)


#: Block RAMs per device (Lattice data sheets: ECP5 family FPGA-DS-02012 table 1.1, LFE5U-25F 56 and
#: LFE5U-85F / LFE5UM5G-85F 208 sysMEM blocks — nextpnr reports the same 208 for the 85F, docs/boards.md;
#: iCE40 UltraPlus FPGA-DS-02008, iCE40UP5K 30 EBR).
_EBR = {"25F": 56, "85F": 208}


#: nextpnr's routers that ``spherecode build --router`` offers; router1 is nextpnr's default.
ROUTERS = ("router1", "router2")

#: Lanes of the Tang Mega 138K's update core and of its loosening core: what nextpnr-himbaechel places and
#: routes within a build of a few hours on one core (docs/boards.md: four update lanes stop HeAP's
#: legaliser at its default density; one update lane takes 52 minutes).
TANG_LANES, TANG_LOOSENING_LANES = 2, 1


def _tang(name: str, core: CoreConfig, note: str) -> BoardConfig:
    """The Sipeed Tang Mega 138K (:data:`.gowin.TangMega138K`): GW5AST-138C, 340 BSRAM blocks (as
    nextpnr-himbaechel reports the device), openFPGALoader's ``tangmega138k`` cable."""
    return BoardConfig(
        name, "gowin:TangMega138K", "gw5a", core, 50_000_000, 2_000_000, ("-b", "tangmega138k"), 340, note=note
    )


def _ulx3s(size: str, name: str | None = None, **kw) -> BoardConfig:
    return BoardConfig(
        name=name or f"ulx3s-{size.lower()}",
        platform=f"ulx3s:ULX3S_{size}_Platform",
        family="ecp5",
        baud=3_000_000,
        cable=("-b", "ulx3s"),
        ram_blocks=_EBR[size],
        **kw,
    )


#: The boards. Each shipped build's figures (post-route fmax, resources, tools) are in its record,
#: ``shipped/<board>.json`` (:mod:`.records`; :attr:`BoardConfig.record`); docs/boards.md tells how each
#: configuration was chosen.
BOARDS = {
    b.name: b
    for b in [
        _ulx3s(
            "85F",
            core=CoreConfig(Q(3, 44), nmax=1024, dmax=3, lanes=2),
            clock_hz=66_666_667,
            dsp_min_width=14,
            note="two Q3.44 lanes, products whose narrower operand is below 14 bits in LUTs; the PLL makes "
            "25 MHz × 8/3, the UART's divisor 22 gives 3.03 Mbaud (1.0 % off)",
        ),
        BoardConfig(
            "ecpix5-85f",
            "ecpix5:ECPIX585Platform",
            "ecp5",
            CoreConfig(Q(3, 44), 1024, 3, 2),
            90_000_000,
            3_000_000,
            ("-c", "ft2232"),
            208,
            dsp_min_width=14,
            note="LFE5UM5G-85F (speed grade 8): the ULX3S-85F's design at 90 MHz, clocked by the PLL from "
            "the board's 100 MHz oscillator (the UART's divisor 30 is exact)",
        ),
        _ulx3s(
            "85F",
            name="ulx3s-85f-loosening",
            core=CoreConfig(Q(3, 44), nmax=1024, dmax=3, lanes=1, loosening=True),
            clock_hz=60_000_000,
            dsp_min_width=14,
            note="on-chip force loosening (LOOSEN: a whole run per command), Q3.44, one lane (two do not fit "
            "with the loosening core), products below 14 bits in LUTs; the PLL makes 25 MHz × 12/5 (the "
            "UART's divisor 20 is exact)",
        ),
        BoardConfig(
            "ecpix5-85f-loosening",
            "ecpix5:ECPIX585Platform",
            "ecp5",
            CoreConfig(Q(3, 44), 1024, 3, 1, loosening=True),
            87_500_000,
            3_000_000,
            ("-c", "ft2232"),
            208,
            dsp_min_width=14,
            note="LFE5UM5G-85F (speed grade 8): the loosening board's design (on-chip force loosening, Q3.44, "
            "one lane) at 87.5 MHz, clocked by the PLL from the board's 100 MHz oscillator (the UART's "
            "divisor 29 gives 3.017 Mbaud, 0.57 % off)",
        ),
        _tang(
            "tang-mega-138k",
            CoreConfig(Q(3, 44), nmax=1024, dmax=3, lanes=TANG_LANES, dsp="gw5a"),
            note="the paper's Q3.44 with update lanes in GW5A DSP blocks (MULTALU27X18, instantiated: yosys infers "
            "none), clocked by the board's 50 MHz oscillator (no PLL: Apycula's GW5AST-138C chip database "
            "has none); the UART's divisor 25 gives 2 Mbaud exactly",
        ),
        _tang(
            "tang-mega-138k-loosening",
            CoreConfig(Q(3, 44), nmax=1024, dmax=3, lanes=TANG_LOOSENING_LANES, loosening=True, dsp="gw5a"),
            note="on-chip force loosening (LOOSEN: a whole run per command), Q3.44, its lanes in GW5A DSP blocks; "
            "the 50 MHz oscillator, 2 Mbaud (divisor 25, exact)",
        ),
        _ulx3s(
            "25F",
            core=CoreConfig(Q(2, 20), nmax=1024, dmax=3, lanes=1),
            clock_hz=75_000_000,
            dsp_min_width=10,
            note="one Q2.20 lane, products whose narrower operand is below 10 bits in LUTs; the PLL makes "
            "25 MHz × 3 (the UART's divisor 25 is exact)",
        ),
        BoardConfig(
            "icebreaker",
            "icebreaker:ICEBreakerPlatform",
            "ice40",
            CoreConfig(Q(2, 17), 64, 3, 1),
            12_000_000,
            1_000_000,
            ("-b", "ice40_generic"),
            30,
            misfit="the iCE40UP5K has 5280 logic cells (one flip-flop each) and 8 SB_MAC16; the updater core "
            "alone, in Q2.17 (the narrowest format its units support) with one lane, Nmax 64, needs "
            "21 563 flip-flops and 58 SB_MAC16 (yosys synth_ice40 -dsp)",
        ),
    ]
}
DEFAULT = "ulx3s-85f"


def board_for(core: CoreConfig, clock_hz: int, baud: int) -> BoardConfig:
    """The shipped board whose core, clock and baud rate these are (a board's IDENTIFY answer; its twin
    answers with the board's own clock and baud rate); a configuration named ``identified`` on the default
    board's device where none is."""
    # IDENTIFY does not say how the products are built (the DSP layer changes no result).
    for cfg in BOARDS.values():
        if (dataclasses.replace(cfg.core, dsp=core.dsp), cfg.clock_hz, cfg.baud) == (core, clock_hz, baud):
            return cfg
    return dataclasses.replace(
        BOARDS[DEFAULT],
        name="identified",
        core=core,
        clock_hz=clock_hz,
        baud=baud,
        note="a board known only by its IDENTIFY answer",
    )


def get_board(name: str) -> BoardConfig:
    """The configuration called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return BOARDS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown board {name!r} (known: {', '.join(BOARDS)})") from None
