"""The options of ``spherecode compare`` (:class:`Options`, the ``--quick`` and full presets) and their
command-line arguments."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...boards import BOARDS, get_board
from ...hw.config import NMAX_LIMIT
from ..argtypes import integer, watts
from .power import PowerModel

#: β of the timed updates (the time does not depend on it; ``spherecode bench`` uses the same).
BETA = 8.0


#: The twin exchange for the link check: N vectors in the board's Dmax.
TWIN_POINTS = 16


@dataclass(frozen=True)
class Options:
    """What one report measures. ``points``/``dims``: the timing sweep (Figure 3); ``quality_points``/
    ``quality_dims``, ``starts``, ``iters``, ``seed``: the quality runs (Figure 4); ``run_iters``: K of the
    whole runs (modelled from the timing sweep; 3000 by default); ``boards``: board
    names; ``jobs``: worker processes for the starts (None: all cores); ``builds``: where ``spherecode
    build`` left its reports; ``power``: the power model in force."""

    points: tuple[int, ...]
    dims: tuple[int, ...]
    quality_points: tuple[int, ...]
    quality_dims: tuple[int, ...]
    starts: int
    iters: int
    boards: tuple[str, ...] = tuple(BOARDS)
    seed: int = 0
    jobs: int | None = None
    builds: str = "build"
    quick: bool = False
    power: PowerModel = field(default_factory=PowerModel)
    run_iters: int = 3000

    def __post_init__(self):
        for name, low in (("points", 4), ("quality_points", 2)):
            values = getattr(self, name)
            if not values or any(
                isinstance(v, bool) or not isinstance(v, int) or not low <= v <= NMAX_LIMIT for v in values
            ):
                raise ValueError(f"{name} must be integers in {low} … {NMAX_LIMIT}, not {values!r}")
        for name, high in (("dims", 64), ("quality_dims", 7)):
            values = getattr(self, name)
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= high for v in values):
                raise ValueError(f"{name} must be integers in 2 … {high}, not {values!r}")
        if isinstance(self.starts, bool) or not isinstance(self.starts, int) or self.starts < 1:
            raise ValueError(f"starts must be an integer ≥ 1, not {self.starts!r}")
        if isinstance(self.run_iters, bool) or not isinstance(self.run_iters, int) or self.run_iters < 1:
            raise ValueError(f"run_iters must be an integer ≥ 1, not {self.run_iters!r}")
        from ...hw.datapath import HALF_BETA_RANGE
        from ..loosening import max_beta

        if (
            isinstance(self.iters, bool)
            or not isinstance(self.iters, int)
            or self.iters < 1
            or max_beta(self.iters) / 2 > HALF_BETA_RANGE[1]
        ):
            raise ValueError(
                f"iters must be an integer in 1 … {int(HALF_BETA_RANGE[1] // 2 - 1)} (the hardware's "
                f"β range), not {self.iters!r}"
            )
        for name in self.boards:
            get_board(name)  # ValueError naming the known ones

    def command_line(self, out: str) -> str:
        """The command that writes this report again (every option explicit)."""
        words = ["spherecode", "compare"] + (["--quick"] if self.quick else [])
        for b in self.boards:
            words += ["--board", b]
        words += [
            "--points",
            *map(str, self.points),
            "--dims",
            *map(str, self.dims),
            "--quality-points",
            *map(str, self.quality_points),
            "--quality-dims",
            *map(str, self.quality_dims),
            "--starts",
            str(self.starts),
            "--iters",
            str(self.iters),
            "--run-iters",
            str(self.run_iters),
            "--seed",
            str(self.seed),
        ]
        if self.jobs:
            words += ["--jobs", str(self.jobs)]
        if self.builds != "build":
            words += ["--builds", self.builds]
        words += ["--out", out]
        overrides = {k: v for k, v in self.power.values.items() if self.power.kinds[k].startswith("override")}
        if overrides:  # the same numbers through --power FILE.json
            words += ["--power", "FILE.json", f"  # FILE.json = {json.dumps(overrides)}"]
        return " ".join(words)


#: The two presets: ``--quick`` (CI, under two minutes) and the full report (under 30 minutes, 2 cores).
QUICK = dict(
    points=(4, 16, 64, 256, 1024),
    dims=(3,),
    quality_points=(6, 12),
    quality_dims=(3, 4),
    starts=4,
    iters=150,
    quick=True,
)


FULL = dict(
    points=tuple(4 << k for k in range(12)),
    dims=(3, 6),
    quality_points=(6, 12, 24, 48),
    quality_dims=(3, 4, 5, 6),
    starts=32,
    iters=500,
    quick=False,
)


# ------------------------------------------------------------------------------------------------ command line


def _board_name(text: str) -> str:
    import argparse

    try:
        return get_board(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p) -> None:
    """The options of ``spherecode compare`` (an argparse parser)."""
    p.add_argument("--quick", action="store_true", help="a small report in under two minutes (CI)")
    p.add_argument(
        "--board",
        action="append",
        type=_board_name,
        default=None,
        help=f"board configuration, repeatable (all: {', '.join(BOARDS)})",
    )
    p.add_argument(
        "--points", nargs="+", type=integer("--points", 4, NMAX_LIMIT), help=f"N of the timing sweep (4 … {NMAX_LIMIT})"
    )
    p.add_argument("--dims", nargs="+", type=integer("--dims", 2, 64), help="D of the timing sweep (3 6)")
    p.add_argument(
        "--quality-points",
        nargs="+",
        type=integer("--quality-points", 2, NMAX_LIMIT),
        help=f"N of the quality runs (2 … {NMAX_LIMIT}: the fixed-point model's Nmax)",
    )
    p.add_argument(
        "--quality-dims", nargs="+", type=integer("--quality-dims", 2, 7), help="D of the quality runs (3 … 6)"
    )
    p.add_argument("--starts", type=integer("--starts", 1), help="starts per quality run, best kept (32)")
    p.add_argument("--iters", type=integer("--iters", 1), help="force-loosening iterations per start (500)")
    p.add_argument(
        "--run-iters",
        type=integer("--run-iters", 1),
        default=3000,
        help="force-loosening iterations of the modelled whole runs (3000)",
    )
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument(
        "--jobs", type=integer("--jobs", 1), default=None, help="worker processes for the starts (all cores)"
    )
    p.add_argument("--power", type=Path, help="JSON object overriding power-model constants (see report.md)")
    p.add_argument("--cpu-watts", type=watts("--cpu-watts"), help="CPU watts per busy core where RAPL is unreadable")
    p.add_argument("--board-watts", type=watts("--board-watts"), help="idle watts of every board")
    p.add_argument("--builds", default="build", help="folder of `spherecode build` reports (build)")
    p.add_argument("--out", type=Path, required=True, help="report folder (report.md, report.json, figures)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")


def options_from(args) -> Options:
    """:class:`Options` from parsed arguments; ``ValueError`` with one line for bad input."""
    preset = QUICK if args.quick else FULL
    model = PowerModel.from_file(args.power) if args.power else PowerModel()
    overrides = {}
    if args.cpu_watts is not None:
        overrides["cpu_watts_per_core"] = args.cpu_watts
    if args.board_watts is not None:
        overrides.update({f"idle_watts.{b}": args.board_watts for b in (args.board or BOARDS)})
    if overrides:
        model = model.with_overrides(overrides, "override (command line)")
    pick = lambda name: tuple(getattr(args, name)) if getattr(args, name) else preset[name]  # noqa: E731
    return Options(
        points=tuple(sorted(set(pick("points")))),
        dims=tuple(sorted(set(pick("dims")))),
        quality_points=tuple(sorted(set(pick("quality_points")))),
        quality_dims=tuple(sorted(set(pick("quality_dims")))),
        starts=args.starts or preset["starts"],
        iters=args.iters or preset["iters"],
        boards=tuple(dict.fromkeys(args.board)) if args.board else tuple(BOARDS),
        seed=args.seed,
        jobs=args.jobs,
        builds=args.builds,
        quick=args.quick,
        power=model,
        run_iters=args.run_iters,
    )


def check_out(out: Path) -> None:
    """``ValueError`` unless ``out`` can become the report folder (checked before any work)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    from ..codefile import probe_create

    try:  # what write_report does: a folder beside out, files in out (os.access passes root anywhere)
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        if out.exists():
            probe_create(out / "report.json")
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
