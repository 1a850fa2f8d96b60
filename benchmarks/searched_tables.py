"""The project's own best codes: check the rows of `table --search` sweeps against their codes and ship them.

    python benchmarks/searched_tables.py --sweep d4-search.tsv d4-codes [--sweep d5-search.tsv d5-codes ...]
        [--write host/data/searched_d45.tsv] [--report docs/results/searched.md]

Each sweep is a table written by ``spherecode table --search S --codes DIR``. The best row of each (D, N) is
checked as ``spherecode verify`` checks a code: its code file (in the sweep's codes folder) reads as unit
vectors, its Gram matrix passes Wang's four checks, and its minimum angle is the row's to 1e−9°. With
``--write``, the rows go to the package's table (``host/data/searched_d45.tsv``, which
:mod:`spherecode.host.bestknown` reads below the outside tables) with the sweep's command, and each code is
copied beside it (``host/data/searched/dD-nN.txt``). Printed: every row, and each exactly known case of
``best_known_d45.tsv`` in a sweep's range with the angle the sweep reached; ``--report`` writes the same as a
results file with its header.

A code of N + 1 points less one point is a code of N points at least as good, so where a sweep's N + 1 beats
its N (one search per N can miss), the row of N becomes the N + 1 code less the point whose removal leaves
the largest minimum angle, then polished (``spherecode polish``), from the largest N down; its source says
so. The table then never rises with N.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import numpy as np
from results import header
from results import write as write_results

from spherecode.host.bestknown import OWN_STATUS, outside_table
from spherecode.host.codefile import read_code, write_code
from spherecode.host.methods.polish import polish
from spherecode.host.metrics import gram_checks, summary
from spherecode.host.sweeps.table import best_rows, code_name, read_rows

#: A row's angle and its code's must agree to this many degrees (both are computed from the same vectors).
ANGLE_TOL = 1e-9
#: The exactly known cases count as reached within this many degrees (docs/quality.md's criterion).
REACHED_TOL = 1e-6


def sweep_command(rows: list[dict]) -> str:
    """The ``spherecode table`` command that made a sweep's rows (their parameters and range of N)."""
    r = rows[0]
    points = sorted(row["points"] for row in rows)
    return (
        f"spherecode table -d {r['dim']} -n {points[0]}..{points[-1]} --search {r['search']:g} -m {r['method']} "
        f"--seed {r['seed']}"
    )


def checked_rows(table: Path, codes: Path) -> list[dict]:
    """The best row of each N of a sweep, each with ``vectors`` and ``max_cosine`` from its checked code;
    ``SystemExit`` (one line) where a code is missing, not a code, or not the row's."""
    rows = read_rows(table)
    if not rows or any(not row["search"] for row in rows):
        raise SystemExit(f"{table}: not a table of searches (table --search)")
    out = []
    for row in best_rows(rows):
        path = codes / code_name(row)
        if not path.is_file():
            raise SystemExit(f"{path}: missing: the sweep must run with --codes from its start")
        vectors = read_code(path, row["dim"])
        angle = summary(vectors)["min_angle_deg"]
        if not gram_checks(vectors)["valid"] or abs(angle - row["min_angle_deg"]) > ANGLE_TOL:
            raise SystemExit(f"{path}: not the code of its row ({angle!r}° against {row['min_angle_deg']!r}°)")
        out.append({**row, "vectors": vectors, "max_cosine": math.cos(math.radians(angle))})
    return out


def one_point_fewer(rows: list[dict]) -> None:
    """Where N + 1's code beats N's, replace N's row (in place) by N + 1's code less one point, polished
    (the module docstring); largest N first, so that a derived code can seed the next."""
    by_n = {r["points"]: r for r in rows}
    for n in sorted(by_n, reverse=True):
        above, row = by_n.get(n + 1), by_n[n]
        if above is None or above["min_angle_deg"] <= row["min_angle_deg"] + ANGLE_TOL:
            continue
        vectors = above["vectors"]
        dropped = max(range(n + 1), key=lambda k: summary(np.delete(vectors, k, axis=0))["min_distance"])
        code, _ = polish(np.delete(vectors, dropped, axis=0))
        s = summary(code)
        if s["min_angle_deg"] > row["min_angle_deg"] + ANGLE_TOL:
            row.update(
                vectors=code,
                min_angle_deg=s["min_angle_deg"],
                min_distance=s["min_distance"],
                max_cosine=math.cos(math.radians(s["min_angle_deg"])),
                derived=f"the N = {n + 1} code less point {dropped}, polished",
            )


def exact_cases(rows: list[dict]) -> list[str]:
    """A line for each exactly known case (outside tables) in the rows' range: the angle reached."""
    lines, reached = [], {(r["dim"], r["points"]): r["min_angle_deg"] for r in rows}
    for (dim, n), known in sorted(outside_table().items()):
        if (dim, n) in reached and dim >= 4:
            gap = known.min_angle_deg - reached[dim, n]
            verdict = "reached" if gap <= REACHED_TOL else f"NOT reached, short by {gap:.3g}°"
            lines.append(f"D = {dim}, N = {n} ({known.source.split(':')[0]}): {reached[dim, n]:.9f}°, {verdict}")
    return lines


def write(path: Path, sweeps: list[tuple[str, list[dict]]]) -> None:
    """The package table at ``path`` and the codes in ``path.parent / "searched"`` (replaced whole)."""
    folder = path.parent / "searched"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    lines = [
        "# The project's own D = 4, 5 codes: the best of one iterated search per N, not an outside source.",
        "# " + header("", sys.argv).split("\n\n", 1)[1].strip(),
        "# Each row's code is searched/dD-nN.txt beside this file; its angle, min_distance and max_cosine are computed"
        " from it.",
        "D\tN\tmin_angle_deg\tmin_distance\tmax_cosine\tsource\tstatus",
    ]
    for command, rows in sweeps:
        for r in rows:
            name = f"d{r['dim']}-n{r['points']}.txt"
            write_code(folder / name, r["vectors"])
            how = r.get("derived") or f"start {r['start']}, {r['seconds']:.0f} s"
            lines.append(
                f"{r['dim']}\t{r['points']}\t{r['min_angle_deg']:.9f}\t{r['min_distance']:.12f}\t{r['max_cosine']:.12f}"
                f"\t{command}: {how}\t{OWN_STATUS} (searched/{name})"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sweep", nargs=2, action="append", metavar=("TABLE", "CODES"), required=True)
    p.add_argument("--write", type=Path, help="the package table to write (its codes go to searched/ beside it)")
    p.add_argument("--report", type=Path, help="also write the printed table here, with its header")
    args = p.parse_args()
    sweeps, lines = [], []
    for table, codes in args.sweep:
        rows = checked_rows(Path(table), Path(codes))
        one_point_fewer(rows)
        command = sweep_command(rows)
        sweeps.append((command, rows))
        lines += [f"`{command}`: {len(rows)} rows, each checked against its code.", ""]
        lines += ["| D | N | min angle (°) | search (s) | code |", "|---:|---:|---:|---:|---|"]
        lines += [
            f"| {r['dim']} | {r['points']} | {r['min_angle_deg']:.9f} | {r['seconds']:.1f} | "
            f"{r.get('derived') or 'its search'} |"
            for r in rows
        ]
        lines += ["", "The exactly known cases in its range:", ""]
        lines += [f"- {line}" for line in exact_cases(rows)] + [""]
    print(*lines, sep="\n")
    if args.write:
        write(args.write, sweeps)
    if args.report:
        write_results(args.report, "The project's own codes: iterated searches, one per N", lines)


if __name__ == "__main__":
    main()
