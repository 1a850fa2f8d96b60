"""Quality of the fixed-point model against the float64 reference: best-of-S minimum angles, same seeds.

    python benchmarks/quality.py [--points 12 24 32 48] [--starts 8] [--iters 1000] [--formats Q3.44 Q2.20]
                                 [--seeds 0 1 2 3 4] [--jobs J] [--save FILE.json]

For each seed and N (D = 3) every backend runs the same S starts (same initial vectors, same iterations);
the table gives each best minimum angle and its difference Δ from the reference, and the last lines each
format's mean Δ, mean |Δ| and lowest Δ over all (N, seed) — the quality target is a mean |Δ| of at
most 1e-4° and no Δ below −0.01°. ``--save`` writes every row as JSON, written as each row completes.
"""

from __future__ import annotations

import argparse
import json
import os

from spherecode.host.bestknown import best_known
from spherecode.host.metrics import summary
from spherecode.host.sweeps.starts import StartTask, run_starts
from spherecode.hw.config import CoreConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--points", type=int, nargs="+", default=[12, 24, 32, 48])
    p.add_argument("--starts", type=int, default=8)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0])
    p.add_argument("--formats", nargs="+", default=["Q3.44", "Q2.20"])
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--save", help="write the rows as JSON to this file")
    args = p.parse_args()
    if args.jobs is not None and args.jobs < 1:
        p.error(f"--jobs must be at least 1, not {args.jobs}")
    seeds = ", ".join(map(str, args.seeds))
    print(f"D = {args.dim}, best of {args.starts} starts × {args.iters} iterations, seeds {seeds}")
    print("| N | seed | best known | reference | " + " | ".join(f"model {f} (Δ)" for f in args.formats) + " |")
    print("|---:|---:|---:|---:|" + "---:|" * len(args.formats))
    rows = []
    for seed in args.seeds:
        for n in args.points:

            def angle(backend, options):
                tasks = [
                    StartTask(backend, args.dim, n, args.iters, seed, k, args.starts, options)
                    for k in range(args.starts)
                ]
                best, _ = run_starts(tasks, jobs=args.jobs)
                return summary(best.vectors)["min_angle_deg"]

            ref = angle("reference", {})
            row = {"n": n, "seed": seed, "reference": ref, "model": {}}
            for fmt in args.formats:
                row["model"][fmt] = angle("model", {"config": CoreConfig(fmt, max(64, n), max(3, args.dim))})
            rows.append(row)
            bk = best_known(args.dim, n)
            cells = [f"{a:.6f}° ({a - ref:+.6f}°)" for a in row["model"].values()]
            known = f"{bk.min_angle_deg:.6f}°" if bk else "—"
            print(f"| {n} | {seed} | {known} | {ref:.6f}° | " + " | ".join(cells) + " |", flush=True)
            if args.save:
                tmp = args.save + ".part"
                with open(tmp, "w") as f:
                    json.dump({"dim": args.dim, "starts": args.starts, "iters": args.iters, "rows": rows}, f, indent=1)
                os.replace(tmp, args.save)
    for fmt in args.formats:
        print(stats_line(fmt, [r["model"][fmt] - r["reference"] for r in rows]))


def stats_line(fmt: str, deltas: list[float]) -> str:
    """One format's summary over its (N, seed) differences from the reference, in degrees."""
    mean = sum(deltas) / len(deltas)
    mean_abs = sum(abs(d) for d in deltas) / len(deltas)
    return (
        f"{fmt}: {len(deltas)} (N, seed), mean Δ {mean:+.6f}°, mean |Δ| {mean_abs:.6f}°, lowest Δ {min(deltas):+.6f}°"
    )


if __name__ == "__main__":
    main()
