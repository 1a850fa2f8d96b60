"""``spherecode compare``: software against hardware: time, energy and quality, a report with figures."""

from __future__ import annotations

import argparse

from .common import (
    UsageError,
    progress,
)

NAME = "compare"
HELP = "software against hardware: time, energy and quality, a report with figures"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..reports.options import add_arguments as compare_arguments

    compare_arguments(p)


def execute(args) -> tuple[dict, str, int]:
    from ..reports.command import command

    try:
        return command(args, progress)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
