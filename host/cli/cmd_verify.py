"""``spherecode verify``: metrics and Gram-matrix checks of a code file."""

from __future__ import annotations

import argparse

import numpy as np

from ..argtypes import positive_float
from ..codefile import SUFFIXES, CodeFileError, read_code
from ..metrics import edge_occurrences, gram_checks
from .common import (
    UsageError,
    common_arguments,
    measured_summary,
    quality_table,
)

NAME = "verify"
HELP = "metrics and Gram-matrix checks of a code file"
#: Largest N for which ``verify`` lists edge-length occurrences (they hold N²/2 values).
EDGE_LIST_MAX = 4096


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help=f"code file ({', '.join(SUFFIXES)})")
    common_arguments(p, with_points=False)
    p.add_argument("--tol", type=positive_float("--tol"), default=1e-8, help="Gram check tolerance (1e-8)")
    p.add_argument("--edge-tol", type=positive_float("--edge-tol"), default=1e-6, help="edge grouping (1e-6)")


def execute(args) -> tuple[dict, str, int]:
    try:
        vectors = read_code(args.file, args.dim)
    except CodeFileError as exc:
        raise UsageError(str(exc)) from None
    n = vectors.shape[0]
    metrics = measured_summary(vectors)
    gram = gram_checks(vectors, args.tol)
    edges = edge_occurrences(vectors, args.edge_tol) if n <= EDGE_LIST_MAX else None
    ok = gram["valid"]
    result = {"command": "verify", "file": args.file, **metrics, "gram": gram, "valid": ok}
    result["edge_occurrences"] = edges
    text = [f"spherecode verify: {args.file}: D={args.dim} N={n}", quality_table(result)]
    text.append(f"  max |norm−1|  {result['max_norm_error']:.3e}")
    if edges is not None:
        shown = ", ".join(f"{e['count']}×{e['cosine']:.6f}" for e in edges[:4])
        text.append(f"  edges         {len(edges)} distinct inner products (largest: {shown})")
    else:
        text.append(f"  edges         not listed for N > {EDGE_LIST_MAX}")
    graph = result["contacts"] = _contacts(vectors)
    if graph is not None:
        text.append(
            f"  contacts      {graph['edges']} pairs at the minimum distance, {graph['min_contacts']}–"
            f"{graph['max_contacts']} per point, {len(graph['rattlers'])} rattler(s)"
        )
    checks = [("symmetric", "symmetric"), ("unit diagonal", "unit_diagonal"), ("rank ≤ D", "rank_ok"), ("PSD", "psd")]
    text.append("  Gram          " + ", ".join(f"{label} {'yes' if gram[key] else 'NO'}" for label, key in checks))
    text.append("  valid spherical code" if ok else "  NOT a valid spherical code within the tolerance")
    return result, "\n".join(text), 0 if ok else 1


def _contacts(vectors: np.ndarray) -> dict | None:
    """The contact graph (pairs within 1e−9 of the minimum distance), for N ≤ ``EDGE_LIST_MAX``."""
    from ..methods.polish import contacts

    return contacts(vectors) if len(vectors) <= EDGE_LIST_MAX else None
