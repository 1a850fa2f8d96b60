"""Every registered method on the same cases and starts: minimum angle against the best known, before and
after polish, and wall time — the numbers behind docs/methods.md.

    nice python benchmarks/methods.py [--cases 3:12,3:24,4:24] [--starts 4] [--iters 3000] [--jobs 2]
                                      [--methods vrf,cg,riesz,penalty,rrr] [--raw FILE.tsv] [--no-polish]
                                      [--write docs/results/methods.md]

Each (case, method, start) runs as one task (start k of seed 0 — the same initial vectors as
``spherecode run --seed 0`` start k — float64 ``reference``, one BLAS thread) on ``--jobs`` worker processes:
the method for ``--iters`` of its own iterations (timed), then :func:`~spherecode.host.methods.polish.polish` on its
result (timed apart). Rows go to ``--raw`` as they finish (a finished row is not run again when the script is
rerun with the same file); the summary table (markdown) goes to stdout: per case and method, the best angle of
the starts and its shortfall to the best known, without and with polish, the starts within 1e-6° of the best
known after polish, and the median seconds per start of the method and of the polish. ``--no-polish`` skips
the polish (its columns then repeat the method's angle, with 0 s). ``--write FILE`` also writes the summary
with a header naming the command, commit, date and machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

CASES = "3:12,3:24,3:32,3:48,4:24,5:16,5:40,8:240"
COLUMNS = ("dim", "points", "method", "start", "angle", "seconds", "polished_angle", "polish_seconds")
#: A start "hits" the best known when polish brings it within this many degrees.
HIT = 1e-6


def _one(dim: int, points: int, method: str, start: int, starts: int, iters: int, with_polish: bool = True) -> dict:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from spherecode.host.metrics import summary
    from spherecode.host.methods.polish import polish
    from spherecode.host.sweeps.starts import StartTask, run_start

    task = StartTask("reference", dim, points, iters, 0, start, starts, {"threads": 1}, method)
    t0 = time.perf_counter()
    result = run_start(task)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    polished = polish(result.vectors)[0] if with_polish else result.vectors
    polish_seconds = time.perf_counter() - t0
    return {
        "dim": dim,
        "points": points,
        "method": method,
        "start": start,
        "angle": summary(result.vectors)["min_angle_deg"],
        "seconds": seconds,
        "polished_angle": summary(polished)["min_angle_deg"],
        "polish_seconds": polish_seconds,
    }


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for r in rows:
        for c in ("dim", "points", "start"):
            r[c] = int(r[c])
        for c in ("angle", "seconds", "polished_angle", "polish_seconds"):
            r[c] = float(r[c])
    return rows


def _summary(rows: list[dict], cases, methods) -> str:
    from spherecode.host.bestknown import best_known

    out = [
        "| D | N | best known | method | best angle | short by | + polish | short by | hits | s/start | s polish |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dim, points in cases:
        known = best_known(dim, points)
        ref = known.min_angle_deg if known else None
        for method in methods:
            rs = [r for r in rows if (r["dim"], r["points"], r["method"]) == (dim, points, method)]
            if not rs:
                continue
            a = max(r["angle"] for r in rs)
            p = max(r["polished_angle"] for r in rs)
            hits = f"{sum(ref - r['polished_angle'] <= HIT for r in rs)}/{len(rs)}" if ref is not None else "—"

            def short(x):
                return f"{ref - x:.2e}" if ref is not None else "—"

            out.append(
                f"| {dim} | {points} | {'—' if ref is None else f'{ref:.6f}'} | {method} | {a:.6f} | "
                f"{short(a)} | {p:.6f} | {short(p)} | {hits} | "
                f"{statistics.median(r['seconds'] for r in rs):.2f} | "
                f"{statistics.median(r['polish_seconds'] for r in rs):.2f} |"
            )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=CASES, help="D:N,D:N,…")
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--methods", default=None, help="comma-separated (default: the whole registry)")
    p.add_argument("--raw", type=Path, default=Path("methods-raw.tsv"))
    p.add_argument("--no-polish", action="store_true", help="skip the polish (for sizes where it is too slow)")
    p.add_argument("--write", help="also write the summary, with its header, to this file")
    args = p.parse_args()
    from spherecode.host.methods import METHODS

    methods = args.methods.split(",") if args.methods else list(METHODS)
    cases = [tuple(int(v) for v in c.split(":")) for c in args.cases.split(",")]
    rows = _read(args.raw)
    done = {(r["dim"], r["points"], r["method"], r["start"]) for r in rows}
    todo = [(d, n, m, k) for d, n in cases for m in methods for k in range(args.starts) if (d, n, m, k) not in done]
    todo.sort(key=lambda t: -t[1] * t[0])  # the long ones first
    new = not args.raw.exists()
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    with args.raw.open("a") as fh, ProcessPoolExecutor(args.jobs) as pool:
        if new:
            fh.write("\t".join(COLUMNS) + "\n")
        futures = [pool.submit(_one, d, n, m, k, args.starts, args.iters, not args.no_polish) for d, n, m, k in todo]
        for f in as_completed(futures):
            r = f.result()
            rows.append(r)
            fh.write("\t".join(repr(r[c]) if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) + "\n")
            fh.flush()
    lines = [
        f"{args.starts} starts (seed 0) × {args.iters} iterations per method, float64, "
        f"{'no polish' if args.no_polish else 'polish after each start'}; "
        f"hits: starts within {HIT:g}° of the best known after polish",
        "",
        *_summary(rows, cases, methods).splitlines(),
    ]
    print(*lines, sep="\n")
    if args.write:
        from results import write

        write(args.write, "Every method on the same cases and starts", lines)


if __name__ == "__main__":
    main()
