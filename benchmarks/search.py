"""Time to the best known with ``spherecode search``: each (D, N) a whole command, its wall time measured.

    python benchmarks/search.py [--points 5 7 8 ...] [--dim 3] [--time 60] [--jobs 2] [--seeds 0]
                                [--case D:N:SECONDS ...] [--idns PATH --idns-points 130 --idns-runs 5]
                                [--write docs/results/search.md]

For each N of ``--points`` (D = ``--dim``; default: docs/quality.md's D = 3 list) and each seed, runs
``spherecode search -d D -n N --time T -j J --seed S --json`` and records whether it reached the shipped
best-known angle within 1e−6° (the command stops there, within 1e−8°), the angle it ends with and the command's
wall time. ``--case D:N:SECONDS`` adds a case with its own budget (the 24-cell: ``4:24:300``). ``--idns``: the
path of IDNS's Linux executable (Lai et al., 2023, repository XiangjingLai/Tammes-problem; fetched to run, never
kept here), run as ``IDNS N RUNS LIMIT`` with LIMIT = ``--time`` beside ``search`` at each N of
``--idns-points`` for as many seeds; its own summary line (best, mean and worst d, runs at its best, mean
time to its final value) is printed as it gives it. ``--write FILE`` writes the tables as Markdown with a
header (command, commit, date, machine, load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from spherecode.host.bestknown import best_known

TARGETS = [5, 7, 8, 13, 17, 19, 24, 30, 40, 48, 60, 72, 90, 110, 120, 130]
#: A run reaches the best known when its angle is within this many degrees of it.
TOL = 1e-6


def run_search(dim: int, n: int, seconds: float, jobs: int, seed: int) -> dict:
    cmd = [sys.executable, "-m", "spherecode", "search", "-d", str(dim), "-n", str(n), "--time", f"{seconds:g}",
           "-j", str(jobs), "--seed", str(seed), "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    r = json.loads(done.stdout)
    known = best_known(dim, n)
    gap = known.min_angle_deg - r["min_angle_deg"] if known else None
    return {"dim": dim, "points": n, "seed": seed, "budget": seconds, "angle": r["min_angle_deg"], "gap": gap,
            "known": known.min_angle_deg if known else None, "reached": gap is not None and gap <= TOL,
            "wall": wall, "seconds": r["seconds"], "starts": r["starts"], "rounds": r["rounds"],
            "accepted": r["accepted"]}


def run_idns(path: Path, n: int, runs: int, limit: float) -> str:
    """IDNS's summary line for ``runs`` runs of ``limit`` seconds at N = ``n`` (its results file)."""
    with tempfile.TemporaryDirectory(prefix="idns-") as folder:
        exe = Path(folder, "IDNS")
        exe.write_bytes(Path(path).read_bytes())
        exe.chmod(0o755)
        subprocess.run([str(exe), str(n), str(runs), f"{limit:g}"], cwd=folder, capture_output=True, check=True)
        results = [p for p in Path(folder).iterdir() if p.suffix == ".txt" and p.stem != str(n)]
        return " / ".join(p.read_text().strip().splitlines()[-1] for p in results)


def _row(r: dict) -> str:
    known = f"{r['known']:.9f}°" if r["known"] is not None else "—"
    gap = f"{r['gap']:.2e}°" if r["gap"] is not None else "—"
    return (f"| {r['dim']} | {r['points']} | {r['seed']} | {known} | {r['angle']:.9f}° | {gap} | "
            f"{'yes' if r['reached'] else '**no**'} | {r['wall']:.1f} | {r['starts']} | {r['rounds']} | "
            f"{r['accepted']} |")


HEAD = ("| D | N | seed | best known | found | short by | reached | wall s | starts | rounds | accepted |\n"
        "|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--points", type=int, nargs="*", default=TARGETS)
    p.add_argument("--time", type=float, default=60.0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--case", nargs="*", default=[], help="D:N:SECONDS, run with the first seed")
    p.add_argument("--idns", type=Path, help="IDNS's executable, to run beside search")
    p.add_argument("--idns-points", type=int, nargs="*", default=[130])
    p.add_argument("--idns-runs", type=int, default=5)
    p.add_argument("--write", type=Path, help="write the tables here (Markdown)")
    args = p.parse_args()
    load0 = os.getloadavg()
    lines = [HEAD]
    print(HEAD, flush=True)
    rows = []
    for n in args.points:
        for seed in args.seeds:
            rows.append(run_search(args.dim, n, args.time, args.jobs, seed))
            lines.append(_row(rows[-1]))
            print(lines[-1], flush=True)
    for case in args.case:
        d, n, seconds = case.split(":")
        rows.append(run_search(int(d), int(n), float(seconds), args.jobs, args.seeds[0]))
        lines.append(_row(rows[-1]))
        print(lines[-1], flush=True)
    d3 = [r for r in rows if r["dim"] == args.dim and r["points"] in args.points]
    if d3:
        hit = sum(r["reached"] for r in d3)
        lines.append(f"\nReached: {hit} of {len(d3)} runs (D = {args.dim}, `--time {args.time:g}`).")
        print(lines[-1], flush=True)
    if args.idns:
        lines.append(f"\nBeside IDNS (`IDNS N {args.idns_runs} {args.time:g}`: one process, its runs in turn; "
                     "its line: N, best d, mean d, worst d, runs at the best, σ, mean seconds to its final value):\n")
        for n in args.idns_points:
            ours = [r for r in rows if r["points"] == n and r["dim"] == 3]
            ours += [run_search(3, n, args.time, args.jobs, s) for s in range(len(ours), args.idns_runs)]
            walls = [r["wall"] for r in ours if r["reached"]]
            med = f"{statistics.median(walls):.1f} s" if len(walls) == len(ours) else "—"
            lines.append(f"- N = {n}, `search` seeds {', '.join(str(r['seed']) for r in ours)}: reached in "
                         f"{len(walls)} of {len(ours)}, wall {', '.join(format(r['wall'], '.1f') for r in ours)} s, "
                         f"median {med}")
            print(lines[-1], flush=True)
            lines.append(f"- N = {n}, IDNS: `{run_idns(args.idns, n, args.idns_runs, args.time)}`")
            print(lines[-1], flush=True)
    load1 = os.getloadavg()
    if args.write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
        header = (f"# `spherecode search`: time to the best known\n\n"
                  f"Generated by `{command}`\n\n"
                  f"- commit {commit or 'unknown'}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
                  f"- machine: {platform.node()}, {os.cpu_count()} cores, {platform.python_version()}; "
                  f"load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end (a shared machine: "
                  f"wall times are upper bounds)\n"
                  f"- each row one command, `spherecode search -d D -n N --time T -j {args.jobs} --seed S`; "
                  f"reached: within {TOL:g}° of the shipped best known\n\n")
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
