"""The best-known minimum angles shipped with the package (``data/best_known.tsv``).

Sources, as the table's header records them: N. J. A. Sloane with R. H. Hardin, W. D. Smith and others,
*Tables of spherical codes* (D = 3, N ≤ 130); X. Lai, D. Yue, J.-K. Hao, F. Glover, Z. Lv, Computers &
Operations Research 151:106121 (2023), angles recomputed from their published coordinates; and exact
constructions (simplex, cross-polytope, 24-cell, 600-cell, …) computed from coordinates.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["BestKnown", "best_known", "table"]


@dataclass(frozen=True)
class BestKnown:
    dim: int
    points: int
    min_angle_deg: float
    min_distance: float
    max_cosine: float
    source: str
    status: str


@cache
def table() -> dict[tuple[int, int], BestKnown]:
    """All rows, keyed by (D, N)."""
    text = resources.files(__package__).joinpath("data/best_known.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        entry = BestKnown(
            int(row["D"]),
            int(row["N"]),
            float(row["min_angle_deg"]),
            float(row["min_distance"]),
            float(row["max_cosine"]),
            row["source"],
            row["status"],
        )
        rows[entry.dim, entry.points] = entry
    return rows


def best_known(dim: int, points: int) -> BestKnown | None:
    """The best-known code for (D, N), or None where the table has none."""
    return table().get((dim, points))
