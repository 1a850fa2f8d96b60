"""argparse types shared by the CLI and the backends' own options: each raises
``argparse.ArgumentTypeError`` with a one-line message naming the option."""

from __future__ import annotations

import argparse
import math

__all__ = ["integer", "positive_float"]


def integer(name: str, minimum: int):
    """An integer ≥ ``minimum`` for the option ``name``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def positive_float(name: str):
    """A finite number > 0 for the option ``name``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {text!r}")
        return value

    return parse
