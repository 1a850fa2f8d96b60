"""The best-known minimum angles shipped with the package (``data/best_known.tsv`` and
``data/best_known_d45.tsv``).

Sources, as the tables' headers record them: N. J. A. Sloane with R. H. Hardin, W. D. Smith and others,
*Tables of spherical codes* (D = 3, N ≤ 130); X. Lai, D. Yue, J.-K. Hao, F. Glover, Z. Lv, Computers &
Operations Research 151:106121 (2023), angles recomputed from their published coordinates; and exact
constructions (simplex, cross-polytope, 24-cell, 600-cell, …) computed from coordinates. The exactly known
D = 4, 5 cases come from ``best_known_d45.tsv``, each row with its own source (the Rankin bound, Wang
arXiv:0805.0776, Cohn's table notes, the error-correction zoo), and take precedence over the same rows of
the first table. Below both, ``data/searched_d45.tsv`` holds the project's own D = 4, 5 codes (the best of
one iterated search per N, each row's code in ``data/searched/``, made and checked by
``benchmarks/searched_tables.py``): a row there counts where no outside table has the (D, N), and says so
in its status.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .codefile import read_code

__all__ = ["BestKnown", "best_known", "table", "outside_table", "searched_table", "searched_code"]

#: The outside tables, each taking precedence over the ones before it.
OUTSIDE = ("best_known.tsv", "best_known_d45.tsv")
#: The project's own rows, below the outside tables.
SEARCHED = "searched_d45.tsv"
#: How the status of each of the project's own rows begins.
OWN_STATUS = "this project's search"


@dataclass(frozen=True)
class BestKnown:
    dim: int
    points: int
    min_angle_deg: float
    min_distance: float
    max_cosine: float
    source: str
    status: str

    @property
    def own(self) -> bool:
        """True for a row of the project's own search (:data:`SEARCHED`), not of an outside table."""
        return self.status.startswith(OWN_STATUS)


@cache
def outside_table() -> dict[tuple[int, int], BestKnown]:
    """The rows of the outside tables (:data:`OUTSIDE`), keyed by (D, N)."""
    rows = {}
    for name in OUTSIDE:
        rows.update(_read(name))
    return rows


@cache
def searched_table() -> dict[tuple[int, int], BestKnown]:
    """The project's own rows (:data:`SEARCHED`), keyed by (D, N)."""
    return _read(SEARCHED)


@cache
def table() -> dict[tuple[int, int], BestKnown]:
    """All rows, keyed by (D, N): the outside tables' over the project's own."""
    return {**searched_table(), **outside_table()}


def searched_code(dim: int, points: int):
    """The code of the project's own row for (D, N), an (N, D) array (:func:`~.codefile.read_code`), or None
    where there is none."""
    path = resources.files(__package__).joinpath("data", "searched", f"d{dim}-n{points}.txt")
    if not path.is_file():
        return None
    with resources.as_file(path) as file:
        return read_code(file, dim)


def _read(name: str) -> dict[tuple[int, int], BestKnown]:
    """The rows of one shipped table (none where it is not there)."""
    path = resources.files(__package__).joinpath("data", name)
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = {}
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
