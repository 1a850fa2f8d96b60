"""The blocked float64 reference iteration against the naive (N, N, D) NumPy broadcast, side by side.

    python benchmarks/reference_vs_naive.py [--points 4096] [--dim 3] [--repeats 5] [--write FILE.md]

Both run on the same vectors in one process, alternating, so machine noise hits both alike. ``--write``
also writes the result as a table with a header naming the command, commit, date and machine.
"""

import argparse
import os
import statistics
import time

import numpy as np

from spherecode.host.backends.reference import naive_update, random_start, reference_update


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=4096)
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--beta", type=float, default=8.0)
    p.add_argument("--write", help="also write the result, with its header, to this file")
    args = p.parse_args()
    r = random_start(args.points, args.dim, np.random.default_rng(0))
    cores = os.cpu_count() or 1
    runs = {
        "blocked, 1 thread": lambda: reference_update(r, args.beta),
        f"blocked, {cores} threads": lambda: reference_update(r, args.beta, threads=cores),
        "naive": lambda: naive_update(r, args.beta),
    }
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, f in runs.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    diff = np.abs(reference_update(r, args.beta).vectors - naive_update(r, args.beta).vectors).max()
    print(f"N={args.points} D={args.dim}, median of {args.repeats}:")
    for k, v in med.items():
        print(f"  {k:20s} {v * 1e3:9.1f} ms/iteration   naive / this = {med['naive'] / v:5.1f}x")
    print(f"  max |blocked − naive| = {diff:.1e}")
    if args.write:
        from results import write

        lines = [
            f"N = {args.points}, D = {args.dim}, β = {args.beta:g}, median of {args.repeats}, alternating in one "
            f"process; max |blocked − naive| = {diff:.1e}.",
            "",
            "| iteration | ms / iteration | naive / this |",
            "|---|---:|---:|",
        ]
        lines += [f"| {k} | {v * 1e3:.1f} | {med['naive'] / v:.1f}× |" for k, v in med.items()]
        write(args.write, "Blocked reference iteration against the naive NumPy broadcast", lines)


if __name__ == "__main__":
    main()
