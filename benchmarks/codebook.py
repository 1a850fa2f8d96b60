"""The codebook table of the note on packing-gap regularisation for ANN codebooks.

Spherical k-means++ against the joint MSE + gap-penalty codebook (Adam).

    python benchmarks/codebook.py [--points 50000] [--dim 128] [--clusters 100] [--spread 3]
        [--codewords 64 256] [--seeds 0 1 2] [--lambdas 2 5] [--steps 5000] [--batch 2048] [--probe 4]
        [--queries 1000] [--threads 1] [--rows FILE.jsonl] [--write docs/results/codebook.md]
    python benchmarks/codebook.py --summarise FILE.jsonl [--write docs/results/codebook.md]

For each N and seed: one synthetic data set (``codebook.synthetic``, seed-dependent) with held-out
queries, one k-means++ baseline, then one joint codebook per λ with the target 0.9 × the baseline's
minimum distance. Prints one Markdown row per run (changes against that seed's k-means++) and a summary
per (N, λ) over the seeds: mean, minimum and maximum of each change, and whether the note's targets
(min distance ≥ +10 %, MSE ≤ +5 %, recall at most 2 points below k-means++'s) hold for the mean over the
seeds and on every seed. ``--rows`` appends each run as one JSON line as soon as it finishes;
``--summarise`` prints both tables again from such a file, running nothing. ``--write FILE`` also writes
both tables with a header naming the command, commit, date and machine.
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
    p.add_argument("--summarise", metavar="FILE", help="print the tables of the runs in this JSON-lines file")
    p.add_argument("--write", help="also write both tables, with their header, to this file")
    args = p.parse_args()
    if args.summarise:
        with open(args.summarise) as fh:
            runs = [json.loads(line) for line in fh if line.strip()]
        lines = [_header(argparse.Namespace(**runs[0]["args"])), "", HEAD, *map(_row, runs)]
        print(*lines, sep="\n")
    else:
        lines = [_header(args), "", HEAD]
        print(*lines, sep="\n")
        runs = _run(args, lines)
    summary = ["", *_summary(runs)]
    lines += summary
    print(*summary, sep="\n")
    if args.write:
        from results import write

        write(args.write, "IVF codebooks: spherical k-means++ against the joint MSE + gap-penalty codebook", lines)


def _run(args, lines: list[str]) -> list[dict]:
    """Every (N, seed, λ) run of ``args``; each row is printed and appended to ``lines`` as it finishes."""
    runs = []
    with blas().limit(limits=args.threads, user_api="blas"):
        for n in args.codewords:
            for seed in args.seeds:
                rows = cb.synthetic(args.points + args.queries, args.dim, args.clusters, seed, args.spread)
                data, queries = rows[: args.points], rows[args.points :]
                kmeans, _ = cb.kmeans_baseline(data, queries, n, seed, args.probe)
                target = cb.TARGET_RATIO * kmeans["min_distance"]
                for lam in args.lambdas:
                    joint, _ = cb.joint_codebook(
                        data, queries, n, lam, target, args.steps, seed, args.probe, args.batch
                    )
                    ch = cb.change(kmeans, joint)
                    run = {
                        "codewords": n,
                        "seed": seed,
                        "lambda": lam,
                        "target": target,
                        "kmeans": kmeans,
                        "joint": joint,
                        "change": ch,
                        "args": vars(args),
                        "time": time.time(),
                    }
                    runs.append(run)
                    if args.rows:
                        with open(args.rows, "a") as fh:
                            fh.write(json.dumps(run, default=float) + "\n")
                    lines.append(_row(run))
                    print(lines[-1], flush=True)
    return runs


HEAD = (
    "| N | seed | λ | k-means++ MSE | gap | recall | joint MSE | gap | recall | Δgap | ΔMSE | Δrecall | "
    "k-means s | joint s |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _header(args) -> str:
    return (
        f"synthetic {args.points} × {args.dim}, {args.clusters} clusters, spread {args.spread:g}; "
        f"{args.queries} held-out queries, recall@10 with probe {args.probe}; {args.steps} Adam steps, "
        f"batch {args.batch}; BLAS threads {args.threads}; {platform.node()}"
    )


def _row(run: dict) -> str:
    km, jt, ch = run["kmeans"], run["joint"], run["change"]
    return (
        f"| {run['codewords']} | {run['seed']} | {run['lambda']:g} | {km['mse']:.4f} | {km['min_distance']:.4f} | "
        f"{km['recall']:.3f} | {jt['mse']:.4f} | {jt['min_distance']:.4f} | {jt['recall']:.3f} | "
        f"{ch['min_distance_pct']:+.1f} % | {ch['mse_pct']:+.1f} % | {ch['recall_points']:+.1f} pt | "
        f"{km['seconds']:.0f} | {jt['seconds']:.0f} |"
    )


#: The note's targets on the changes against k-means++ (§8.3, §10).
TARGETS = {
    "gap ≥ +10 %": ("min_distance_pct", lambda v: v >= 10),
    "MSE ≤ +5 %": ("mse_pct", lambda v: v <= 5),
    "recall ≥ −2 pt": ("recall_points", lambda v: v >= -2),
}


def _summary(runs: list[dict]) -> list[str]:
    """The summary table's lines: per (N, λ), the changes over the seeds and the note's targets."""
    out = [
        "| N | λ | seeds | Δgap mean [min, max] | ΔMSE mean [min, max] | Δrecall mean [min, max] | "
        "targets: mean / every seed |",
        "|---:|---:|---:|---|---|---|---|",
    ]
    for n, lam in dict.fromkeys((r["codewords"], r["lambda"]) for r in runs):
        group = [r["change"] for r in runs if r["codewords"] == n and r["lambda"] == lam]

        def cell(key, unit):
            v = np.array([g[key] for g in group])
            return f"{v.mean():+.1f} [{v.min():+.1f}, {v.max():+.1f}] {unit}"

        verdict = []
        for name, (key, ok) in TARGETS.items():
            v = [g[key] for g in group]
            mean, every = ok(float(np.mean(v))), all(ok(x) for x in v)
            verdict.append(f"{name} {'met' if mean else 'MISSED'} / {'met' if every else 'MISSED'}")
        out.append(
            f"| {n} | {lam:g} | {len(group)} | {cell('min_distance_pct', '%')} | {cell('mse_pct', '%')} | "
            f"{cell('recall_points', 'pt')} | {'; '.join(verdict)} |"
        )
    return out


if __name__ == "__main__":
    main()
