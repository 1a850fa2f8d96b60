"""``spherecode flash``: program a board with openFPGALoader."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    UsageError,
    board,
    default_board,
)

NAME = "flash"
HELP = "program a board with openFPGALoader"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", type=board, default=default_board(), help=f"board ({default_board()})")
    p.add_argument("--bitstream", type=Path, default=None, help="bitstream (build/BOARD/top.bit)")
    p.add_argument("--persist", action="store_true", help="write the configuration flash, not SRAM")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def execute(args) -> tuple[dict, str, int]:
    from spherecode.boards.flash import FlashError, flash

    cfg = args.board
    bitstream = args.bitstream or Path("build") / cfg.name / cfg.bitstream_name
    try:
        last = flash(cfg, bitstream, persist=args.persist)
    except FlashError as exc:
        raise UsageError(str(exc)) from None
    return (
        {"command": "flash", "board": cfg.name, "bitstream": str(bitstream), "message": last},
        f"spherecode flash: {cfg.name} programmed from {bitstream}: {last}",
        0,
    )
