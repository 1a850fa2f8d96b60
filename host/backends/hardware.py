"""What the fixed-point backends (``model``, ``sim``, ``board``) share: the options ``--format`` and
``--lanes``, the core configuration a run models or simulates, the β range of the weight unit and the
cycle report.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ...hw.config import NMAX_LIMIT, CoreConfig
from ...hw.datapath import HALF_BETA_RANGE
from .base import Backend, add_shared, loosening_mode

__all__ = ["FixedPointBackend", "add_core_arguments", "run_config"]


def _format(text: str) -> str:
    try:
        return str(CoreConfig(fmt=text).fmt)  # the format's checks are CoreConfig's
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lanes(text: str) -> int:
    try:
        lanes = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--lanes must be an integer, got {text!r}") from None
    try:
        return CoreConfig(lanes=lanes).lanes  # the lane counts the vector updater builds for
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_core_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--lanes`` (default: :class:`~spherecode.hw.config.CoreConfig`'s; a board: its
    own)."""
    defaults = {f.name: f.default for f in dataclasses.fields(CoreConfig)}  # without building a datapath
    add_shared(
        parser,
        "--format",
        type=_format,
        default=None,
        help=f"fixed-point coordinates ({defaults['fmt']}; a board: its own)",
    )
    add_shared(
        parser, "--lanes", type=_lanes, default=None, help=f"pairs per cycle ({defaults['lanes']}; a board: its own)"
    )


def run_config(args: argparse.Namespace) -> CoreConfig:
    """The core a run of ``args.points`` vectors in ``args.dim`` dimensions models or simulates:
    ``--format`` and ``--lanes`` (or CoreConfig's defaults), Nmax = 64 or the next power of two ≥ N,
    Dmax = max(3, D) — so that runs of similar sizes share one Verilator build. ``ValueError`` (from
    :class:`CoreConfig`) for a size no core holds."""
    if args.points > NMAX_LIMIT:
        raise ValueError(f"--points {args.points}: the hardware holds at most Nmax = {NMAX_LIMIT} vectors")
    given = {k: v for k, v in (("fmt", args.format), ("lanes", args.lanes)) if v is not None}
    return CoreConfig(nmax=max(64, 1 << (args.points - 1).bit_length()), dmax=max(3, args.dim), **given)


class FixedPointBackend(Backend):
    """Defaults for a backend computing with a :class:`~spherecode.hw.config.CoreConfig`: its options are
    ``{"config": run_config(args)}``; its updates report ``cycles`` in their statistics."""

    beta_range = (2.0 * HALF_BETA_RANGE[0], 2.0 * HALF_BETA_RANGE[1])

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_core_arguments(parser)

    @classmethod
    def options(cls, args: argparse.Namespace, threads: int) -> dict[str, Any]:
        """``{"config": run_config(args)}``; ``ValueError`` for ``--loosening chip`` (host loosening only)."""
        loosening_mode(args, cls.name)
        return {"config": run_config(args)}

    @classmethod
    def report(cls, options: dict[str, Any], stats: dict) -> dict[str, Any]:
        """``format``, ``lanes``, ``loosening`` (the options' mode, default ``host``), and for host-run
        loosening ``cycles_per_iteration`` (the mean of the updates' ``cycles``) and
        ``cycles_per_loosening_iteration`` (two updates); for a chip run, ``cycles_per_loosening_iteration``
        is the run's counter less its load and output (``load_cycles``, :meth:`CoreConfig.load_cycles`) per
        iteration (one sweep: none is reported for bare updates)."""
        config = options.get("config") or CoreConfig()
        out: dict[str, Any] = {
            "format": str(config.fmt),
            "lanes": config.lanes,
            "loosening": options.get("loosening", "host"),
        }
        if stats.get("updates") and "cycles" in stats:
            out["cycles_per_iteration"] = stats["cycles"] / stats["updates"]
            out["cycles_per_loosening_iteration"] = 2 * out["cycles_per_iteration"]
        if out["loosening"] == "chip":
            out.pop("cycles_per_loosening_iteration", None)
            if stats.get("iterations"):
                out["cycles_per_loosening_iteration"] = (stats["cycles"] - stats["load_cycles"]) / stats["iterations"]
        return out
