"""The generated parts of the docs: the CLI reference and the shipped boards' figures.

    python benchmarks/docs.py            # exit status 1 and the stale files' names where one is not current
    python benchmarks/docs.py --write    # rewrite them

- ``docs/cli.md``: every command's ``--help``, from the argument parsers (:func:`cli_reference`).
- The board table of ``docs/boards.md`` and the board list of ``README.md``, each between the markers
  ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``, from the build records in ``boards/shipped/``
  (:func:`board_table`, :func:`board_list`).
- The table of whole on-chip loosening runs in ``docs/benchmarks.md``, between the same markers, from the
  boards' configurations and the hardware time model (:func:`whole_run_table`).

Help texts are formatted at :data:`COLUMNS` columns whatever the terminal, so the reference does not depend
on who generates it. ``tests/test_docs.py`` checks that every generated part is current.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The width the help texts are formatted at.
COLUMNS = 110


def _help(parser: argparse.ArgumentParser) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(COLUMNS)
    try:
        return parser.format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def commands() -> dict[str, argparse.ArgumentParser]:
    """``spherecode``'s parser and each subcommand's, by their command line (``"spherecode run"``)."""
    from spherecode.host.cli import _parser

    top = _parser()
    (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return {"spherecode": top, **{f"spherecode {name}": p for name, p in sub.choices.items()}}


#: What every command shares (the prose above the generated help texts).
CONVENTIONS = """Every command:

- prints its result as text, or as one JSON object on stdout with `--json`;
- answers bad input, and any failure of a board, the simulator or the machine (memory, disk), with one
  line on stderr and exit status 2, before any work where the input can be checked first;
- stops on Ctrl-C with one line and status 130 (SIGTERM: 143), its worker processes and simulators with
  it, and leaves no partial output file: `--out` is checked before the run and written to a temporary
  file renamed into place;
- reads and writes code files by suffix: `.txt` (Sloane's layout: N·D numbers, one per line), `.npy`,
  `.json`.

`verify` exits with status 1 when a check fails, `build` when post-route timing fails. Hardware backends
(`model`, `sim`, `board`) take `--format` Qi.f with i ≥ 2 and 17 ≤ f ≤ 48 and β/2 in [1, 65536]. A board's
serial port is opened exclusively ([protocol](protocol.md)).
"""


def cli_reference() -> str:
    """docs/cli.md: each command's ``--help``."""
    parts = [
        "# Command-line reference\n",
        f"Every command's `--help`, generated from the argument parsers by `python benchmarks/docs.py --write` "
        f"(formatted at {COLUMNS} columns; `tests/test_docs.py` checks it is current).\n",
        CONVENTIONS,
    ]
    for line, parser in commands().items():
        parts.append(f"## `{line}`\n\n```\n{_help(parser).rstrip()}\n```\n")
    return "\n".join(parts)


def _records():
    from spherecode.boards import BOARDS

    return [(cfg, cfg.record) for cfg in BOARDS.values()]


def _device(cfg) -> str:
    """The board's FPGA from its amaranth-boards platform, or the platform's name where that cannot be
    imported."""
    try:
        return cfg.platform_class().device
    except (ImportError, AttributeError, ValueError):
        return cfg.platform


def _core(cfg) -> str:
    lanes = "one lane" if cfg.lanes == 1 else f"{cfg.lanes} lanes"
    return f"{cfg.fmt}, {lanes}" + (", on-chip loosening" if cfg.core.loosening else "")


def board_table() -> str:
    """The shipped boards' table of docs/boards.md, from their records."""
    from spherecode.boards import DEFAULT
    from spherecode.boards.records import mhz

    rows = [
        "| board | device | core (Nmax, Dmax) | clock | UART | post-route fmax | LUT4 | FF | DSP | block RAM |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cfg, rec in _records():
        name = f"`{cfg.name}`" + (" (default)" if cfg.name == DEFAULT else "")
        core = f"{_core(cfg)} ({cfg.nmax}, {cfg.dmax})"
        if rec is None:
            why = "does not fit (`BoardConfig.misfit`, below)" if not cfg.fits else "no shipped build"
            rows.append(
                f"| {name} | {_device(cfg)} | {core} | {mhz(cfg.clock_hz)} MHz | "
                f"{cfg.baud / 1e6:g} Mbaud | {why} | | | | |"
            )
            continue
        u = rec["utilisation"]
        verdict = "met" if rec["timing_met"] else "failed"
        cells = " | ".join(f"{u[k]['used']} / {u[k]['available']}" for k in ("lut4", "ff", "dsp", "bram"))
        rows.append(
            f"| {name} | {rec['device']} | {core} | {mhz(rec['clock_hz'])} MHz | {rec['baud'] / 1e6:g} Mbaud | "
            f"{rec['fmax_mhz']:.2f} MHz ({verdict}, seed {rec['seed']}) | {cells} |"
        )
    return "\n".join(rows)


def whole_run_table(points: int = 1024, dim: int = 3, iterations: int = 3000) -> str:
    """docs/benchmarks.md's table of whole on-chip loosening runs: each loosening board's modelled time
    (:func:`~spherecode.host.reports.hwtime.chip_run_time`) with 1, 2, 4 and 8 lanes, "(built)" beside the
    lane count every board is built with."""
    import dataclasses

    from spherecode.boards.records import mhz
    from spherecode.host.reports.hwtime import chip_run_time

    boards = [cfg for cfg, _ in _records() if cfg.core.loosening and cfg.fits]
    lanes = (1, 2, 4, 8)
    built = {cfg.lanes for cfg in boards}
    rows = [
        "| board | clock | " + " | ".join(f"L = {n}" + (" (built)" if built == {n} else "") for n in lanes) + " |",
        "|---|---:|" + "---:|" * len(lanes),
    ]
    for cfg in boards:
        times = []
        for n in lanes:
            board = dataclasses.replace(cfg, core=dataclasses.replace(cfg.core, lanes=n))
            times.append(f"{chip_run_time(board, points, dim, iterations).seconds:.2f} s")
        rows.append(f"| `{cfg.name}` | {mhz(cfg.clock_hz)} MHz | " + " | ".join(times) + " |")
    return "\n".join(rows)


def board_list() -> str:
    """The README's board list, from the boards and their records."""
    from spherecode.boards import DEFAULT
    from spherecode.boards.records import mhz

    lines = []
    for cfg, rec in _records():
        default = ", the default" if cfg.name == DEFAULT else ""
        built = (
            f"{rec['fmax_mhz']:.2f} MHz post-route"
            if rec
            else "does not fit its device"
            if not cfg.fits
            else "not built"
        )
        lines.append(f"- `{cfg.name}`{default}: {_core(cfg)}, {mhz(cfg.clock_hz)} MHz ({built})")
    return "\n".join(lines)


#: file → {block name: its generator}; a whole file where the name is None.
TARGETS = {
    "docs/cli.md": {None: cli_reference},
    "docs/boards.md": {"board table": board_table},
    "README.md": {"board list": board_list},
    "docs/benchmarks.md": {"whole runs": whole_run_table},
}


def render(path: str, text: str) -> str:
    """``text`` (the file ``path`` now) with its generated parts as they should be. ``ValueError`` where a
    block's markers are missing."""
    for name, make in TARGETS[path].items():
        if name is None:
            return make()
        begin, end = f"<!-- generated: {name} -->", f"<!-- end: {name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"{path}: no {begin} … {end} block")
        text = pattern.sub(lambda _: f"{begin}\n{make()}\n{end}", text)
    return text


def stale() -> list[str]:
    """The generated files that are not current."""
    out = []
    for path in TARGETS:
        file = ROOT / path
        now = file.read_text(encoding="utf-8") if file.exists() else ""
        if render(path, now) != now:
            out.append(path)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="rewrite the generated parts")
    args = p.parse_args()
    if args.write:
        for path in TARGETS:
            file = ROOT / path
            now = file.read_text(encoding="utf-8") if file.exists() else ""
            new = render(path, now)
            if new != now:
                file.write_text(new, encoding="utf-8")
                print(f"wrote {path}")
        return 0
    old = stale()
    for path in old:
        print(f"{path}: not current (python benchmarks/docs.py --write)", file=sys.stderr)
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
