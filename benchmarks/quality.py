"""Quality of the fixed-point model against the float64 reference: best-of-S minimum angles, same seeds.

    python benchmarks/quality.py [--points 12 24 32 48] [--starts 8] [--iters 1000] [--formats Q3.44 Q2.20]

For each N (D = 3) every backend runs the same S starts (same initial vectors, same iterations); the
table gives each best minimum angle and its difference from the reference.
"""

from __future__ import annotations

import argparse

from spherecode.host.bestknown import best_known
from spherecode.host.metrics import summary
from spherecode.host.starts import StartTask, run_starts
from spherecode.hw.config import CoreConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--points", type=int, nargs="+", default=[12, 24, 32, 48])
    p.add_argument("--starts", type=int, default=8)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--formats", nargs="+", default=["Q3.44", "Q2.20"])
    args = p.parse_args()
    print(f"D = {args.dim}, best of {args.starts} starts × {args.iters} iterations, seed {args.seed}")
    print("| N | best known | reference | " + " | ".join(f"model {f} (Δ)" for f in args.formats) + " |")
    print("|---:|---:|---:|" + "---:|" * len(args.formats))
    for n in args.points:
        def angle(backend, options):
            tasks = [StartTask(backend, args.dim, n, args.iters, args.seed, k, args.starts, options)
                     for k in range(args.starts)]
            best, _ = run_starts(tasks)
            return summary(best.vectors)["min_angle_deg"]

        ref = angle("reference", {})
        cells = []
        for fmt in args.formats:
            a = angle("model", {"config": CoreConfig(fmt, max(64, n), max(3, args.dim))})
            cells.append(f"{a:.6f}° ({a - ref:+.6f}°)")
        bk = best_known(args.dim, n)
        print(f"| {n} | {bk.min_angle_deg:.6f}° | {ref:.6f}° | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
