"""Iterated local search: perturb the best code found, re-optimise, polish, keep what is better.

Independent random starts run out where the best-known basin is small (D = 3, N = 60, 90, 110, 120 within 64
starts of ``cg`` + polish). :class:`Search` instead works on the best code it has, as iterated local search
does (H. R. Lourenço, O. C. Martin, T. Stützle, *Iterated local search*, 2003; for the Tammes problem,
X. Lai, D. Yue, J.-K. Hao, F. Glover, Z. Lv, *Iterated dynamic neighborhood search for packing equal circles
on a sphere*, Computers & Operations Research 151:106121, 2023):

1. **starts**: :data:`STARTS` (at least one per worker) random starts (:mod:`.starts`' seeds: start k of seed
   X) are optimised by the method (``cg`` or ``vrf``, :mod:`.methods`; ``overlap`` starts as ``cg``) and
   polished (:mod:`.polish`); the best becomes the current code;
2. **rounds**, each a task of its own on a worker: a *move* perturbs the current code (below), the method
   re-optimises the result with :data:`ITERATIONS` of its iterations, polish climbs to the local max–min
   optimum. ``overlap`` re-optimises by L-BFGS on the overlap energy at the fixed target chord
   t = d·(1 + δ), d the current code's minimum distance and δ drawn log-uniformly from
   :data:`OVERLAP_MARGIN` per round (:mod:`..methods.overlap`: IDNS's formulation);
3. **acceptance**: a round's code replaces the current one when its minimum distance is larger by more than
   :data:`ACCEPT_REL` (relative); otherwise it is dropped. After :data:`STALL` rounds in a row without
   acceptance the current code is replaced by a new random start (optimised and polished), whatever its
   quality: the chain begins again elsewhere. The best code seen is kept apart from the current one, so a stop
   at any moment returns it;
4. **stop**: at the time budget, or when the minimum angle reaches the target within :data:`REACHED_DEG`.

Moves (d = the current minimum distance; each round draws one, with the probabilities of :data:`MOVES`):

- ``shake``: every point moves by ``σ·d`` times a standard Gaussian vector of its tangent space, σ drawn
  log-uniformly from :data:`SHAKE` per round — the whole code is displaced, its structure kept;
- ``cluster``: a random point and every point within ``1.5 d`` of it move by a random tangent displacement of
  size ``0.5 d`` — a local rearrangement around one contact;
- ``hole``: 1 to :data:`HOLE_POINTS` points (rattlers first, then random ones) are taken out and each put back at
  the largest hole of the rest (the best of :data:`HOLE_SAMPLES` random points on the sphere, by its distance
  to the nearest point) — the "replace one point" move.

The method's own start exponent (``cg``: drawn at random in 8 … 128 per round) or loosening schedule
(``vrf``) then relaxes the perturbed code; polish restores the max–min optimum of whatever basin it landed in.

Measured (D = 3, one process, a shared 2-core machine): N = 60, from the better of two starts (0.0155° short of
the best known) a ``cluster`` and a ``shake`` round reached the best known in 4.1 s. N = 110, from a ``cg`` +
polish optimum 0.0152° short, 9 rounds (3 of each move): with ``cg``'s start exponents 8 … 128, 8 rounds came
back to the same code and one ended 0.047° below; with start exponents 512 … 1024 every round ended on another
optimum 1e−5 … 7e−5° below (one 0.12° below) and none above; polish alone after the move (no ``cg``): 29 rounds,
none above. Hence the method's own low start exponents (the moves must leave the energy's basin) and the
restarts after :data:`STALL` rounds; 60 s searches at N = 90, 110, 120 ended on the same angles with
``STALL`` = 10 and without restarts (22.140781847°, 20.096120236°, 19.26472–19.26474°), so 10 rests on the
rounds' cost (a restart costs about two rounds) rather than on a measured gain.

``overlap`` against ``cg`` (docs/quality.md, one core each, 60 s, 3 seeds): two to four times as many
rounds, no better best of three at N = 90, 110, 120, 130. IDNS's own loop — kicks of 1 … N/10 random points
by 0.5·d, each followed by an energy descent at the fixed target and kept when the energy is lower — was
measured in this module's setting and left out: a descent after a kick is far from converged after 200 or 300
L-BFGS iterations (N = 90: its energy still falls by a factor of 2 … 20 up to 3000 iterations, 0.08 against
0.36 s), so the comparison of energies rejects nearly every kick, and from the ``cg`` + polish optima at
N = 90 (0.061° short) and N = 130 (0.023° short) 800 … 870 kicked descents in 40 s found no better code.

Rounds run on ``jobs`` worker processes (spawned, one BLAS thread each, SIGINT ignored, ended with their
parent, as :mod:`.starts`), ``jobs`` rounds in flight: when one finishes the next perturbs the code current
then. The outcome therefore depends on timing when ``jobs`` > 1; round k's move and perturbation come from
``SeedSequence(seed, spawn_key=(STARTS_KEY, index, k, …))``, so ``jobs = 1`` is reproducible for the same
number of rounds. Interrupts (Ctrl-C, SIGTERM, the time budget): the running rounds are terminated, and
:attr:`Search.best` holds the best code so far.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

import numpy as np

from ..bestknown import best_known
from ..methods import get_method
from ..pairs import min_distance
from ..methods.polish import contacts, polish
from ..backends.reference import random_start

__all__ = ["Search", "Round", "run_round", "perturb", "MOVES", "METHODS", "angle_deg"]

#: The methods a search re-optimises with (the registry's fast, general ones, and the overlap energy).
METHODS = ("cg", "vrf", "overlap")
#: Random starts before the rounds (at least one per worker).
STARTS = 4
#: Method iterations per round (the perturbed code is near an optimum: fewer than a random start's 3000).
ITERATIONS = {"cg": 1500, "vrf": 1500, "overlap": 300}
#: Move name → probability of being drawn.
MOVES = {"shake": 0.4, "cluster": 0.3, "hole": 0.3}
#: ``shake`` strength σ/d: log-uniform in this range.
SHAKE = (0.02, 0.3)
#: ``hole``: the most points moved, and the random sample that finds the largest hole.
HOLE_POINTS = 3
HOLE_SAMPLES = 4000
#: Rounds in a row without acceptance after which the current code is replaced by a new random start.
STALL = 10
#: A round's code is accepted when d_min > d_current × (1 + ACCEPT_REL).
ACCEPT_REL = 1e-12
#: The target counts as reached within this many degrees (the table's angles are rounded to 1e−9°).
REACHED_DEG = 1e-8
#: ``overlap`` rounds: the target's relative margin δ above the code's d_min, log-uniform in this range.
OVERLAP_MARGIN = (1e-4, 1e-2)
#: spawn_key of the rounds' seeds (starts use (k,), as :mod:`.starts`).
STARTS_KEY = 1 << 20


def angle_deg(d: float) -> float:
    """The angle (degrees) of the chord ``d`` on the unit sphere."""
    return math.degrees(2.0 * math.asin(min(1.0, d / 2.0)))


@dataclass(frozen=True)
class Round:
    """One unit of work: a random start (``base`` None) or a move on ``base``; both end optimised and
    polished."""

    dim: int
    points: int
    method: str
    seed: int
    index: int
    base: np.ndarray | None = None
    move: str | None = None
    stream: int = 0  #: the search's index (:class:`Search`)


def _tangent_noise(r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    g = rng.standard_normal(r.shape)
    return g - np.sum(g * r, axis=1, keepdims=True) * r


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _largest_hole(rest: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The best of :data:`HOLE_SAMPLES` random unit vectors by its distance to the nearest row of ``rest``."""
    sample = random_start(HOLE_SAMPLES, rest.shape[1], rng)
    nearest = np.max(sample @ rest.T, axis=1)  # largest cosine = nearest point
    return sample[np.argmin(nearest)]


def perturb(r: np.ndarray, move: str, rng: np.random.Generator) -> np.ndarray:
    """The code ``r`` (N, D unit rows) after ``move`` (see the module docstring); ``ValueError`` for an
    unknown move."""
    r = np.array(r, dtype=np.float64)
    d = min_distance(r)
    if move == "shake":
        lo, hi = SHAKE
        sigma = lo * (hi / lo) ** rng.random()
        return _unit(r + sigma * d * _tangent_noise(r, rng))
    if move == "cluster":
        centre = rng.integers(len(r))
        near = np.flatnonzero(np.linalg.norm(r - r[centre], axis=1) < 1.5 * d)
        noise = _tangent_noise(r[near], rng)
        r[near] = _unit(r[near] + 0.5 * d * noise / np.linalg.norm(noise, axis=1, keepdims=True).clip(1e-300))
        return r
    if move == "hole":
        count = int(rng.integers(1, HOLE_POINTS + 1))
        rattlers = list(contacts(r)["rattlers"])
        rng.shuffle(rattlers)
        others = [int(k) for k in rng.permutation(len(r)) if k not in rattlers]
        for k in (rattlers + others)[:count]:
            rest = np.delete(r, k, axis=0)
            r[k] = _largest_hole(rest, rng)
        return r
    raise ValueError(f"unknown move {move!r} (available: {', '.join(MOVES)})")


def run_round(task: Round) -> tuple[np.ndarray, float]:
    """Run one round (in a worker): (polished unit vectors, their minimum distance)."""
    method = get_method("cg" if task.method == "overlap" else task.method)  # overlap starts as cg
    if task.base is None:
        key = (task.index,) if task.stream == 0 else (STARTS_KEY + 1, task.stream, task.index)
        rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=key))
        vectors = random_start(task.points, task.dim, rng)
        iterations = 3000
    else:
        rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(STARTS_KEY, task.stream, task.index)))
        vectors = perturb(task.base, task.move, rng)
        iterations = ITERATIONS[task.method]
    if task.method == "overlap" and task.base is not None:
        from ..methods.overlap import overlap_minimize

        lo, hi = OVERLAP_MARGIN
        target = min(2.0, min_distance(task.base) * (1.0 + lo * (hi / lo) ** rng.random()))
        vectors, _ = overlap_minimize(vectors, target, iterations)
    elif method.host_only:
        if method.name == "cg":
            from ..methods.cg import cg_optimize

            vectors, _ = cg_optimize(vectors, iterations, rng=rng)
        else:
            vectors, _, _ = method.optimize(vectors, iterations, None)
    else:
        from ..backends import get_backend

        backend = get_backend("reference", threads=1)
        try:
            vectors, _, _ = method.optimize(vectors, iterations, None, backend=backend)
        finally:
            getattr(backend, "close", lambda: None)()
    vectors, _ = polish(vectors)
    return vectors, min_distance(vectors)


def _worker_round(task: Round) -> tuple[np.ndarray, float]:
    try:
        return run_round(task)
    except SystemExit as exc:  # SIGTERM (see starts._worker_init): leave without taking another task
        os._exit(exc.code if isinstance(exc.code, int) else 143)


class Search:
    """An iterated local search for D = ``dim``, N = ``points`` (see the module docstring).

    ``seconds``: the time budget (> 0); ``method``: one of :data:`METHODS`; ``target``: the minimum angle
    (degrees) at which to stop, None for the shipped best-known angle where there is one; ``stop``: False to
    go on until the time budget whatever the angle; ``jobs``: worker processes (default: all cores);
    ``index``: searches of the same seed and different index draw different starts and moves (a table's
    searches per N); ``processes``: False runs the rounds in this process, one after another (in a worker of
    a cluster, which may not start processes of its own: the budget is then checked between rounds);
    ``on_progress(search)`` is told after every round and about every :data:`TICK` seconds. Constructor
    arguments are checked (``ValueError``, one line). After :meth:`run`, or after it was interrupted,
    :attr:`best` holds the best code so far (None before the first start finished), :attr:`starts` and
    :attr:`rounds` the starts and rounds finished, :attr:`accepted` the rounds whose code was accepted. No
    start finished within the budget, the search waits for the first one.
    """

    #: Seconds between progress calls while no round finishes.
    TICK = 0.5

    def __init__(
        self,
        dim: int,
        points: int,
        seconds: float,
        *,
        method: str = "cg",
        target: float | None = None,
        stop: bool = True,
        jobs: int | None = None,
        seed: int = 0,
        index: int = 0,
        processes: bool = True,
        on_progress: Callable[[Search], None] | None = None,
    ):
        if not (isinstance(dim, int) and dim >= 2 and isinstance(points, int) and points >= 2):
            raise ValueError(f"a search needs D ≥ 2 and N ≥ 2, not D = {dim!r}, N = {points!r}")
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"the time budget must be a positive number of seconds, not {seconds!r}")
        if method not in METHODS:
            raise ValueError(f"a search re-optimises with {', '.join(METHODS[:-1])} or {METHODS[-1]}, not {method!r}")
        if target is not None and not (math.isfinite(target) and 0 < target <= 180):
            raise ValueError(f"the target angle must be in (0, 180] degrees, not {target!r}")
        if jobs is not None and not (isinstance(jobs, int) and jobs >= 1):
            raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
        if not (isinstance(index, int) and index >= 0):
            raise ValueError(f"a search's index must be a non-negative integer, not {index!r}")
        self.dim, self.points, self.seconds, self.method, self.seed = dim, points, float(seconds), method, seed
        known = best_known(dim, points)
        self.target = target if target is not None else (known.min_angle_deg if known else None)
        self.stop = stop
        self.index, self.processes = index, processes
        self.jobs = (jobs or os.cpu_count() or 1) if processes else 1
        self.on_progress = on_progress
        self.best: np.ndarray | None = None
        self.best_distance = 0.0
        self.starts = self.rounds = self.accepted = 0
        self.current: np.ndarray | None = None  # the code the rounds perturb
        self.current_distance = 0.0
        self.handed_starts = self.handed_rounds = self.stalled = 0
        self.restart = False
        self.t0 = time.monotonic()

    @property
    def angle(self) -> float | None:
        """The best code's minimum angle (degrees), None before the first start finished."""
        return angle_deg(self.best_distance) if self.best is not None else None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    @property
    def reached(self) -> bool:
        """Whether the best angle is at the target (within :data:`REACHED_DEG`)."""
        return self.best is not None and self.target is not None and self.angle >= self.target - REACHED_DEG

    def _next(self) -> Round:
        """The next task: the first starts, a restart when the chain has stalled, else a round on the current
        code."""
        if self.handed_starts < max(STARTS, self.jobs) or self.current is None or self.restart:
            self.restart = False
            k, self.handed_starts = self.handed_starts, self.handed_starts + 1
            return Round(self.dim, self.points, self.method, self.seed, k, stream=self.index)
        k, self.handed_rounds = self.handed_rounds, self.handed_rounds + 1
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(STARTS_KEY, self.index, k, 1)))
        move = str(rng.choice(list(MOVES), p=np.array(list(MOVES.values())) / sum(MOVES.values())))
        return Round(self.dim, self.points, self.method, self.seed, k, self.current, move, self.index)

    def _take(self, task: Round, vectors: np.ndarray, distance: float) -> None:
        """Count a finished task and apply the acceptance rule to its code."""
        if task.base is None:
            self.starts += 1
            first = self.starts <= max(STARTS, self.jobs)  # of the first starts, the best becomes current
            if not first or self.current is None or distance > self.current_distance:
                self.current, self.current_distance, self.stalled = vectors, distance, 0
        else:
            self.rounds += 1
            if distance > self.current_distance * (1.0 + ACCEPT_REL):
                self.accepted += 1
                self.current, self.current_distance, self.stalled = vectors, distance, 0
            else:
                self.stalled += 1
                if self.stalled >= STALL:
                    self.restart, self.stalled = True, 0
        if self.best is None or distance > self.best_distance * (1.0 + ACCEPT_REL):
            self.best, self.best_distance = vectors, distance

    def _done(self) -> bool:
        return self.elapsed >= self.seconds or (self.stop and self.reached)

    def run(self) -> np.ndarray:
        """Search until the time budget is spent or the target reached; return the best code (N, D).
        Worker processes are stopped on every way out (an interrupt included)."""
        from .starts import stop_pool, worker_pool

        self.t0 = time.monotonic()
        if not self.processes:
            while self.best is None or not self._done():
                task = self._next()
                self._take(task, *run_round(task))
                if self.on_progress is not None:
                    self.on_progress(self)
            return self.best
        from ...sim.process import children_start_deaf

        with worker_pool(self.jobs) as pool:
            running = {}
            with children_start_deaf():  # the workers are spawned by these submits (starts.run_starts)
                for task in [self._next() for _ in range(self.jobs)]:
                    running[pool.submit(_worker_round, task)] = task
            while self.best is None or not self._done():
                timeout = max(0.0, min(self.TICK, self.seconds - self.elapsed)) if self.best is not None else self.TICK
                finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in finished:
                    self._take(running.pop(future), *future.result())
                    if not self._done():
                        task = self._next()
                        running[pool.submit(_worker_round, task)] = task
                if self.on_progress is not None:
                    self.on_progress(self)
            stop_pool(pool)  # the rounds still running are dropped: the budget is spent or the target reached
        return self.best
