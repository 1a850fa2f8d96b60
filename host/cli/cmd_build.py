"""``spherecode build``: a board's bitstream and its timing/utilisation report (YoWASP)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..argtypes import integer
from .common import (
    UsageError,
    board,
    default_board,
)

NAME = "build"
HELP = "a board's bitstream and its timing/utilisation report (YoWASP)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", type=board, default=default_board(), help=f"board ({default_board()})")
    p.add_argument("--out", type=Path, default=None, help="build folder (build/BOARD)")
    p.add_argument("--seed", type=integer("--seed", 0), default=1, help="nextpnr placement seed (1)")
    from spherecode.boards import ROUTERS

    p.add_argument(
        "--router",
        choices=ROUTERS,
        default="router1",
        help="nextpnr's router (router1); router2 can finish dense designs that router1 cannot",
    )
    p.add_argument(
        "--synth-only",
        action="store_true",
        help="yosys alone: does it fit? (minutes; no placement, timing or bitstream)",
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="write the build's record (fmax, resources, clock, baud, core, seed, tool versions, "
        "commit, date) as the board's shipped record, boards/shipped/BOARD.json; "
        "only a whole build whose timing is met is recorded",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def execute(args) -> tuple[dict, str, int]:
    from spherecode.boards.build import BuildError, build

    cfg = args.board
    out = args.out or Path("build") / cfg.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if args.record and args.synth_only:
        raise UsageError("--record: a synthesis-only build has no post-route figures to record")
    if args.record:
        from spherecode.boards.records import SHIPPED

        from ..codefile import probe_create

        try:
            probe_create(SHIPPED / f"{cfg.name}.json")
        except OSError as exc:
            raise UsageError(f"--record: cannot write in {SHIPPED}: {exc.strerror or exc}") from None
    try:
        r = build(cfg, out, seed=args.seed, synth_only=args.synth_only, router=args.router)
    except BuildError as exc:
        raise UsageError(str(exc)) from None
    r = {"command": "build", **r}
    u = r["utilisation"]
    rows = "\n".join(f"  {k:<6} {v['used']:>7} / {v['available']}" for k, v in u.items() if v["used"] is not None)
    if args.synth_only:
        verdict = "fits" if r["fits"] else "does NOT fit"
        return (
            r,
            (
                f"spherecode build --synth-only: {cfg.name} ({r['device']}), {r['format']}: {verdict} "
                f"(yosys cell counts)\n{rows}\n  ({r['seconds']:.0f} s)"
            ),
            0 if r["fits"] else 1,
        )
    verdict = "met" if r["timing_met"] else "FAILED"
    text = (
        f"spherecode build: {cfg.name} ({r['device']}), {r['format']}, Nmax {cfg.nmax}, Dmax {cfg.dmax}, "
        f"{cfg.lanes} lane(s)\n"
        f"  timing {verdict}: fmax {r['fmax_mhz']:.1f} MHz for a {r['clock_mhz']:g} MHz clock (post-route)\n"
        f"{rows}\n  bitstream {r['bitstream']}  ({r['seconds']:.0f} s)"
    )
    if args.record:
        from spherecode.boards.records import record_of, write_record

        if r["timing_met"]:
            r["record"] = str(write_record(record_of(cfg, r, args.seed, args.router)))
            text += f"\n  record {r['record']}"
        else:
            r["record"] = None
            text += "\n  not recorded: timing failed"
    return r, text, 0 if r["timing_met"] else 1
