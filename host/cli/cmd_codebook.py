"""``spherecode codebook``: an IVF codebook: k-means++ beside MSE + a packing-gap penalty."""

from __future__ import annotations

import argparse

import numpy as np

from ..argtypes import integer, real_in
from ..codefile import SUFFIXES
from .common import (
    UsageError,
    out_path,
    progress,
    write_out,
)

NAME = "codebook"
HELP = "an IVF codebook: k-means++ beside MSE + a packing-gap penalty"


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="data set: .npy of shape (M, dim); rows are normalised")
    source.add_argument("--synthetic", metavar="MxDIM", help="clustered synthetic data, e.g. 50000x128")
    p.add_argument(
        "--clusters",
        type=integer("--clusters", 1),
        default=None,
        help="clusters of --synthetic (100, or the rows where fewer)",
    )
    p.add_argument(
        "--spread",
        type=real_in("--spread", 0, 1000),
        default=3.0,
        help="--synthetic noise: cosine to the centre ≈ 1/√(1 + spread²) (3)",
    )
    p.add_argument("--codewords", "-n", type=integer("--codewords", 2), required=True, help="codebook size N")
    p.add_argument(
        "--lambda", dest="lam", type=real_in("--lambda", 0, 1e6), default=2.0, help="gap penalty weight λ (2; 0 … 1e6)"
    )
    p.add_argument("--steps", "-k", type=integer("--steps", 1), default=5000, help="Adam steps (5000)")
    p.add_argument(
        "--batch",
        type=integer("--batch", 1),
        default=2048,
        help="data rows per Adam step (2048; at least M: all rows)",
    )
    p.add_argument("--probe", type=integer("--probe", 1), default=4, help="IVF lists scanned per query (4)")
    p.add_argument(
        "--queries", type=integer("--queries", 1), default=1000, help="held-out queries for recall@10 (1000)"
    )
    p.add_argument("--seed", type=integer("--seed", 0), default=0, help="random seed (0)")
    p.add_argument("--out", "-o", type=out_path, help=f"write the joint codebook ({', '.join(SUFFIXES)})")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def execute(args) -> tuple[dict, str, int]:
    from .. import codebook as cb

    try:
        if args.data is not None:
            if args.clusters is not None:
                raise ValueError("--clusters applies to --synthetic data only")
            data = cb.load_data(args.data)
            order = np.random.default_rng([args.seed, 0x9E]).permutation(len(data))
            if args.queries >= len(data):
                raise ValueError(f"--queries must be below the data's {len(data)} rows, not {args.queries}")
            data, queries = data[order[args.queries :]], data[order[: args.queries]]
            source = args.data
        else:
            m, dim = cb.parse_shape(args.synthetic)
            clusters = args.clusters or min(100, m + args.queries)  # the default: no more centres than rows
            all_rows = cb.synthetic(m + args.queries, dim, clusters, args.seed, args.spread)
            data, queries = all_rows[:m], all_rows[m:]
            source = f"synthetic {m}x{dim}, {clusters} clusters, spread {args.spread:g}"
        with progress(None, "step") as bar:
            result, joint = cb.compare(
                data,
                queries,
                args.codewords,
                args.lam,
                args.steps,
                args.seed,
                args.probe,
                args.batch,
                on_progress=bar.update,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = {
        "command": "codebook",
        "data": source,
        "points": len(data),
        "dim": data.shape[1],
        "queries": len(queries),
        "codewords": args.codewords,
        "lambda": args.lam,
        "steps": args.steps,
        "batch": min(args.batch, len(data)),
        "probe": args.probe,
        "seed": args.seed,
        **result,
        "out": None,
    }
    km, jt, ch = result["kmeans"], result["joint"], result["change"]
    text = [
        f"spherecode codebook: {source}, {len(queries)} queries; N={args.codewords}, λ={args.lam:g}, "
        f"{args.steps} steps, probe {args.probe}, seed {args.seed}",
        "              MSE        min distance   recall@10   seconds",
        f"  k-means++   {km['mse']:.6f}   {km['min_distance']:.6f}       {km['recall']:.4f}      {km['seconds']:.1f}",
        f"  joint       {jt['mse']:.6f}   {jt['min_distance']:.6f}       {jt['recall']:.4f}      {jt['seconds']:.1f}",
        f"  change      {ch['mse_pct']:+.2f} %    {ch['min_distance_pct']:+.2f} %        "
        f"{ch['recall_points']:+.2f} pt   (target min distance {result['target']:.6f})",
    ]
    write_out(args, result, text, joint, {"codebook": source, "lambda": args.lam, "seed": args.seed}, "  wrote       ")
    return result, "\n".join(text), 0
