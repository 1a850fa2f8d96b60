"""Seed 000's codebook table: spherical k-means++ against the joint MSE + gap-penalty codebook (Adam).

    python benchmarks/codebook.py [--points 50000] [--dim 128] [--clusters 100] [--spread 3]
        [--codewords 64 256] [--seeds 0 1 2] [--lambdas 2 5] [--steps 5000] [--batch 2048] [--probe 4]
        [--queries 1000] [--threads 1] [--rows FILE.jsonl]

For each N and seed: one synthetic data set (``codebook.synthetic``, seed-dependent) with held-out
queries, one k-means++ baseline, then one joint codebook per λ with the target 0.9 × the baseline's
minimum distance. Prints one Markdown row per run (changes against that seed's k-means++) and a summary
per (N, λ) over the seeds: mean, minimum and maximum of each change, and whether the seed's targets hold
(min distance ≥ +10 %, MSE ≤ +5 %, recall at most 2 points below k-means++'s) on every seed. ``--rows`` appends each run
as one JSON line as soon as it finishes.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from spherecode.host import codebook as cb
from spherecode.host.pairs import blas


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=50000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--spread", type=float, default=3.0)
    p.add_argument("--codewords", type=int, nargs="+", default=[64, 256])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--lambdas", type=float, nargs="+", default=[2.0, 5.0])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--probe", type=int, default=4)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (1: best on a shared machine)")
    p.add_argument("--rows", help="append each run to this JSON-lines file")
    args = p.parse_args()
    print(f"synthetic {args.points} × {args.dim}, {args.clusters} clusters, spread {args.spread:g}; "
          f"{args.queries} held-out queries, recall@10 with probe {args.probe}; {args.steps} Adam steps, "
          f"batch {args.batch}; BLAS threads {args.threads}; {platform.node()}, {platform.processor() or ''}")
    print()
    print("| N | seed | λ | k-means++ MSE | gap | recall | joint MSE | gap | recall | Δgap | ΔMSE | Δrecall | "
          "k-means s | joint s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = []
    with blas().limit(limits=args.threads, user_api="blas"):
        for n in args.codewords:
            for seed in args.seeds:
                rows = cb.synthetic(args.points + args.queries, args.dim, args.clusters, seed, args.spread)
                data, queries = rows[:args.points], rows[args.points:]
                kmeans, _ = cb.kmeans_baseline(data, queries, n, seed, args.probe)
                target = cb.TARGET_RATIO * kmeans["min_distance"]
                for lam in args.lambdas:
                    joint, _ = cb.joint_codebook(data, queries, n, lam, target, args.steps, seed, args.probe,
                                                 args.batch)
                    ch = cb.change(kmeans, joint)
                    run = {"codewords": n, "seed": seed, "lambda": lam, "target": target, "kmeans": kmeans,
                           "joint": joint, "change": ch, "args": vars(args), "time": time.time()}
                    runs.append(run)
                    if args.rows:
                        with open(args.rows, "a") as fh:
                            fh.write(json.dumps(run, default=float) + "\n")
                    print(f"| {n} | {seed} | {lam:g} | {kmeans['mse']:.4f} | {kmeans['min_distance']:.4f} | "
                          f"{kmeans['recall']:.3f} | {joint['mse']:.4f} | {joint['min_distance']:.4f} | "
                          f"{joint['recall']:.3f} | {ch['min_distance_pct']:+.1f} % | {ch['mse_pct']:+.1f} % | "
                          f"{ch['recall_points']:+.1f} pt | {kmeans['seconds']:.0f} | {joint['seconds']:.0f} |",
                          flush=True)
    print()
    print("| N | λ | Δgap mean [min, max] | ΔMSE mean [min, max] | Δrecall mean [min, max] | "
          "targets on every seed |")
    print("|---:|---:|---|---|---|---|")
    for n in args.codewords:
        for lam in args.lambdas:
            group = [r["change"] for r in runs if r["codewords"] == n and r["lambda"] == lam]

            def cell(key, unit):
                v = np.array([g[key] for g in group])
                return f"{v.mean():+.1f} [{v.min():+.1f}, {v.max():+.1f}] {unit}"

            met = {"gap ≥ +10 %": all(g["min_distance_pct"] >= 10 for g in group),
                   "MSE ≤ +5 %": all(g["mse_pct"] <= 5 for g in group),
                   "recall ≥ −2 pt": all(g["recall_points"] >= -2 for g in group)}
            verdict = "; ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in met.items())
            print(f"| {n} | {lam:g} | {cell('min_distance_pct', '%')} | {cell('mse_pct', '%')} | "
                  f"{cell('recall_points', 'pt')} | {verdict} |")


if __name__ == "__main__":
    main()
