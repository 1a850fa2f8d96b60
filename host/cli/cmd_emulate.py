"""``spherecode emulate``: the board's whole design in Verilator behind a pseudo-terminal."""

from __future__ import annotations

import argparse
import sys

from ..argtypes import integer
from .common import (
    UsageError,
    board,
    default_board,
)

NAME = "emulate"
HELP = "the board's whole design in Verilator behind a pseudo-terminal"
#: The largest clock divisor of ``emulate`` (a UART bit of 65536 simulated cycles is already very slow).
TWIN_DIVISOR_MAX = 1 << 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", type=board, default=default_board(), help=f"board ({default_board()})")
    p.add_argument(
        "--divisor",
        type=integer("--divisor", 4, TWIN_DIVISOR_MAX),
        default=8,
        help="clock cycles per UART bit in the twin (8)",
    )
    p.add_argument(
        "--loosening",
        action="store_true",
        help="the board's design with on-chip loosening (LOOSEN: a whole run per command); "
        "the boards ulx3s-85f-loosening and ecpix5-85f-loosening have it built in",
    )
    p.set_defaults(json=False)


def execute(args) -> int:
    from spherecode.sim.twin import serve

    cfg = args.board
    print(
        f"spherecode emulate: {cfg.name} ({cfg.fmt}, Nmax {cfg.nmax}, Dmax {cfg.dmax}, {cfg.lanes} lane(s)"
        f"{', on-chip loosening' if args.loosening else ''}); building the twin (cached after the first time)…",
        file=sys.stderr,
    )
    try:
        return serve(cfg.twin(args.divisor, args.loosening), args.divisor)
    except RuntimeError as exc:  # the twin could not be built (SimError) or died before printing its pty
        raise UsageError(f"emulate: {exc}") from None
