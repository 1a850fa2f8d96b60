"""The best-known minimum angles shipped with the package (``data/best_known.tsv`` and
``data/best_known_d45.tsv``).

Sources, as the tables' headers record them: N. J. A. Sloane with R. H. Hardin, W. D. Smith and others,
*Tables of spherical codes* (D = 3, N ≤ 130); X. Lai, D. Yue, J.-K. Hao, F. Glover, Z. Lv, Computers &
Operations Research 151:106121 (2023), angles recomputed from their published coordinates; and exact
constructions (simplex, cross-polytope, 24-cell, 600-cell, …) computed from coordinates. The exactly known
D = 4, 5 cases come from ``best_known_d45.tsv``, each row with its own source (the Rankin bound, Wang
arXiv:0805.0776, Cohn's table notes, the error-correction zoo), and take precedence over the same rows of
the first table.
"""

from __future__ import annotations

import csv
import math
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
    rows = {}
    for name in ("best_known.tsv", "best_known_d45.tsv"):
        text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        for row in csv.DictReader(lines, delimiter="\t"):
            angle = float(row["min_angle_deg"])
            distance = float(row["min_distance"]) if "min_distance" in row else 2 * math.sin(math.radians(angle) / 2)
            source = row["source"] if "configuration" not in row else f"{row['configuration']}: {row['source']}"
            entry = BestKnown(
                int(row["D"]), int(row["N"]), angle, distance, float(row["max_cosine"]), source, row["status"]
            )
            rows[entry.dim, entry.points] = entry
    return rows


def best_known(dim: int, points: int) -> BestKnown | None:
    """The best-known code for (D, N), or None where the table has none."""
    return table().get((dim, points))
