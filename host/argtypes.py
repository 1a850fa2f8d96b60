"""argparse types shared by the CLI and the backends' own options: each raises
``argparse.ArgumentTypeError`` with a one-line message naming the option."""

from __future__ import annotations

import argparse
import math

__all__ = ["integer", "positive_float", "watts", "real_in"]


def integer(name: str, minimum: int, maximum: int | None = None):
    """An integer ≥ ``minimum`` (and ≤ ``maximum``, if given) for the option ``name``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{name} must be in {minimum} … {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def positive_float(name: str):
    """A finite number > 0 for the option ``name``."""
    return _real(name, "", "positive", lambda value: value > 0)


def watts(name: str):
    """A finite number of watts ≥ 0 for the option ``name``."""
    return _real(name, " of watts", "non-negative", lambda value: value >= 0)


def real_in(name: str, low: float, high: float):
    """A number in ``low`` … ``high`` for the option ``name``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not low <= value <= high:  # NaN fails both
            raise argparse.ArgumentTypeError(f"{name} must be in {low:g} … {high:g}, got {text!r}")
        return value

    return parse


def _real(name: str, unit: str, kind: str, accept):
    """A finite number that ``accept`` takes, for the option ``name``; messages say "a {kind} number{unit}"."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number{unit}, got {text!r}") from None
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"{name} must be a {kind} number{unit}, got {text!r}")
        return value

    return parse
