"""How close each method (with or without polish) comes to the best-known codes, and in how many starts.

    python benchmarks/best_known.py [--dim 3] [--points 5 7 8 13 ...] [--max-starts 64] [--batch 8]
                                    [--iters 3000] [--method vrf] [--no-polish] [--tol 1e-6]

For each N, starts run in batches (all cores) until the best-known angle is reproduced to ``--tol`` degrees
or ``--max-starts`` have run; the table gives the best minimum angle, its gap to the best known, the
starts used and the wall time. Start k of seed 0 is the same start as in ``spherecode run``/``table``.
"""

from __future__ import annotations

import argparse
import time

from spherecode.host.bestknown import best_known
from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import StartTask, run_starts

TARGETS = [5, 7, 8, 13, 17, 19, 24, 30, 40, 48, 60, 72, 90, 110, 120, 130]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--points", type=int, nargs="+", default=TARGETS)
    p.add_argument("--max-starts", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="vrf")
    p.add_argument("--no-polish", action="store_true")
    p.add_argument("--tol", type=float, default=1e-6, help="degrees")
    args = p.parse_args()
    polish = not args.no_polish
    print(
        f"D = {args.dim}, method {args.method}{' + polish' if polish else ''}, {args.iters} iterations per start, "
        f"batches of {args.batch} up to {args.max_starts} starts, seed {args.seed}, target within {args.tol:g}°"
    )
    print("| N | best known | found | short by | starts | seconds |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.points:
        known = best_known(args.dim, n)
        t0 = time.perf_counter()
        best = None
        used = 0
        while used < args.max_starts:
            k = min(args.batch, args.max_starts - used)
            tasks = [
                StartTask(
                    "reference",
                    args.dim,
                    n,
                    args.iters,
                    args.seed,
                    i,
                    args.max_starts,
                    {"threads": 1},
                    args.method,
                    polish,
                )
                for i in range(used, used + k)
            ]
            found, _ = run_starts(tasks)
            used += k
            if best is None or found.min_squared_distance > best.min_squared_distance:
                best = found
            angle = summary(best.vectors)["min_angle_deg"]
            if known is not None and known.min_angle_deg - angle <= args.tol:
                break
        seconds = time.perf_counter() - t0
        gap = f"{known.min_angle_deg - angle:.2e}°" if known else "—"
        ref = f"{known.min_angle_deg:.9f}°" if known else "—"
        print(f"| {n} | {ref} | {angle:.9f}° | {gap} | {used} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
