"""The iterated local search (host/sweeps/search.py); ``spherecode search``: tests/host/cli."""

import numpy as np
import pytest

from spherecode.host.backends.reference import random_start
from spherecode.host.methods.polish import polish
from spherecode.host.pairs import min_distance
from spherecode.host.sweeps.search import MOVES, Round, Search, angle_deg, perturb, run_round


def test_the_octahedron_is_reached_and_the_search_stops_there():
    search = Search(3, 6, 60.0, jobs=1)
    best = search.run()
    assert search.reached and abs(search.angle - 90.0) < 1e-8
    assert search.elapsed < 60.0  # stopped at the best known, not at the budget
    assert best.shape == (6, 3) and np.allclose(np.linalg.norm(best, axis=1), 1.0)


def test_the_time_budget_is_kept_with_no_stop():
    """--no-stop at a reachable target runs rounds until the budget; the bound is loose (spawn, one round)."""
    search = Search(3, 8, 3.0, stop=False, jobs=1)
    search.run()
    assert 3.0 <= search.elapsed < 3.0 + 30.0
    assert search.starts >= 1 and search.best is not None


def test_a_target_above_the_best_known_runs_to_the_budget():
    search = Search(3, 5, 2.0, target=100.0, jobs=1)  # 90° is the best there is
    search.run()
    assert not search.reached and search.elapsed >= 2.0 and abs(search.angle - 90.0) < 1e-8


def test_overlap_rounds_climb_to_the_best_known_n13():
    """D = 3, N = 13: from a polished random start (56.81°, a local optimum), ``overlap`` rounds of ``cluster``
    moves, each kept when better, reach the best-known 57.136703078° (measured: 4 rounds)."""
    base, _ = polish(random_start(13, 3, np.random.default_rng(1)))
    d = min_distance(base)
    assert angle_deg(d) < 57.0
    for k in range(10):
        vectors, distance = run_round(Round(3, 13, "overlap", 1, k, base, "cluster"))
        assert distance == pytest.approx(min_distance(vectors), abs=1e-15)
        if distance > d:
            base, d = vectors, distance
        if angle_deg(d) > 57.136703078 - 1e-8:
            break
    assert abs(angle_deg(d) - 57.136703078) < 1e-8


@pytest.mark.parametrize("move", MOVES)
def test_each_move_gives_unit_rows_near_the_code(move):
    rng = np.random.default_rng(1)
    r = random_start(40, 3, rng)
    moved = perturb(r, move, rng)
    assert moved.shape == r.shape and np.allclose(np.linalg.norm(moved, axis=1), 1.0)
    assert not np.allclose(moved, r)


def test_an_unknown_move_is_refused():
    with pytest.raises(ValueError, match="unknown move 'swap'"):
        perturb(np.eye(3), "swap", np.random.default_rng(0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 1}, "D ≥ 2 and N ≥ 2, not D = 1"),
        ({"points": 1}, "N = 1"),
        ({"seconds": 0}, "positive number of seconds, not 0"),
        ({"method": "rrr"}, "cg, vrf or overlap, not 'rrr'"),
        ({"target": 181.0}, r"\(0, 180\] degrees, not 181.0"),
        ({"jobs": 0}, "positive integer, not 0"),
    ],
)
def test_constructor_messages(kwargs, message):
    args = {"dim": 3, "points": 6, "seconds": 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        Search(args.pop("dim"), args.pop("points"), args.pop("seconds"), **args)
