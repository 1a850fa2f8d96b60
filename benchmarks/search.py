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
``--idns-points`` for as many seeds (IDNS runs in the background from the start, beside the searches);
its own summary line (best, mean and worst d, runs at its best, mean
time to its final value) is printed as it gives it. ``--write FILE`` writes the tables as Markdown with a
header (command, commit, date, machine, load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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
    cmd = [
        sys.executable,
        "-m",
        "spherecode",
        "search",
        "-d",
        str(dim),
        "-n",
        str(n),
        "--time",
        f"{seconds:g}",
        "-j",
        str(jobs),
        "--seed",
        str(seed),
        "--json",
    ]
    t0, cpu0 = time.perf_counter(), _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    r = json.loads(done.stdout)
    known = best_known(dim, n)
    gap = known.min_angle_deg - r["min_angle_deg"] if known else None
    return {
        "dim": dim,
        "points": n,
        "seed": seed,
        "budget": seconds,
        "angle": r["min_angle_deg"],
        "gap": gap,
        "known": known.min_angle_deg if known else None,
        "reached": gap is not None and gap <= TOL,
        "wall": wall,
        "cpu": cpu,
        "seconds": r["seconds"],
        "starts": r["starts"],
        "rounds": r["rounds"],
        "accepted": r["accepted"],
    }


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (and their own waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Idns:
    """IDNS at N = ``n``, ``runs`` runs of ``limit`` seconds, started now in a folder of its own (it runs beside
    the searches: its limit and times are CPU seconds); :meth:`result` waits for it and gives its summary line."""

    def __init__(self, path: Path, n: int, runs: int, limit: float):
        self.folder = tempfile.TemporaryDirectory(prefix="idns-")
        exe = Path(self.folder.name, "IDNS")
        exe.write_bytes(Path(path).read_bytes())
        exe.chmod(0o755)
        self.n, self.runs, self.t0 = n, runs, time.perf_counter()
        self.process = subprocess.Popen(
            [str(exe), str(n), str(runs), f"{limit:g}"],
            cwd=self.folder.name,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def result(self) -> str:
        _, _, usage = os.wait4(self.process.pid, 0)  # its own CPU seconds (the searches run beside it)
        self.process.returncode = 0
        wall, cpu = time.perf_counter() - self.t0, usage.ru_utime + usage.ru_stime
        results = [p for p in Path(self.folder.name).iterdir() if p.suffix == ".txt" and p.stem != str(self.n)]
        line = " / ".join(p.read_text().strip().splitlines()[-1] for p in results) or "no results file"
        self.folder.cleanup()
        return f"{line}` ({wall:.0f} s wall, {cpu:.0f} s CPU for the {self.runs} runs, beside the searches)"


def _row(r: dict) -> str:
    known = f"{r['known']:.9f}°" if r["known"] is not None else "—"
    gap = f"{r['gap']:.2e}°" if r["gap"] is not None else "—"
    return (
        f"| {r['dim']} | {r['points']} | {r['seed']} | {known} | {r['angle']:.9f}° | {gap} | "
        f"{'yes' if r['reached'] else '**no**'} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['starts']} | {r['rounds']} | "
        f"{r['accepted']} |"
    )


HEAD = (
    "| D | N | seed | best known | found | short by | reached | wall s | CPU s | starts | rounds | accepted |\n"
    "|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|"
)


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
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [HEAD]
    print(HEAD, flush=True)
    rows = []
    idns = [Idns(args.idns, n, args.idns_runs, args.time) for n in args.idns_points] if args.idns else []
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
        lines.append(
            f"\nBeside IDNS (`IDNS N {args.idns_runs} {args.time:g}`, started with the first search and run "
            "beside them: one process, its runs in turn, each to its time limit; its line: N, best d, mean d, "
            "worst d, runs at the best, σ, mean seconds to its final value):\n"
        )
        for n, peer in zip(args.idns_points, idns):
            ours = [r for r in rows if r["points"] == n and r["dim"] == 3]
            ours += [run_search(3, n, args.time, args.jobs, s) for s in range(len(ours), args.idns_runs)]
            reached = [r for r in ours if r["reached"]]
            med = (
                f"median {statistics.median(r['wall'] for r in ours):.1f} s wall, "
                f"{statistics.median(r['cpu'] for r in ours):.1f} s CPU"
                if len(reached) == len(ours)
                else "no median (not every seed reached it)"
            )
            lines.append(
                f"- N = {n}, `search` seeds {', '.join(str(r['seed']) for r in ours)}: reached in "
                f"{len(reached)} of {len(ours)}; wall {', '.join(format(r['wall'], '.1f') for r in ours)} s; "
                f"CPU {', '.join(format(r['cpu'], '.1f') for r in ours)} s; {med}"
            )
            print(lines[-1], flush=True)
            lines.append(f"- N = {n}, IDNS: `{peer.result()}")
            print(lines[-1], flush=True)
    load1 = os.getloadavg()
    if args.write:
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
        header = (
            f"# `spherecode search`: time to the best known\n\n"
            f"Generated by `{command}`\n\n"
            f"- commit {commit or 'unknown'}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n"
            f"- machine: {platform.node()}, {os.cpu_count()} cores, {platform.python_version()}; "
            f"load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end (a shared machine: "
            f"wall times are upper bounds)\n"
            f"- CPU s: user + system seconds of the command and its workers (on a shared machine the steadier "
            f"figure)\n"
            f"- each row one command, `spherecode search -d D -n N --time T -j {args.jobs} --seed S`; "
            f"reached: within {TOL:g}° of the shipped best known\n\n"
        )
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
