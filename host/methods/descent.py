"""Projected gradient descent on a product of unit spheres, with a backtracking (Armijo) step.

The scheme of the Computational Science Stack Exchange thread "Algorithms for generating spherical codes"
(its answers' "gradient flow": follow the gradient for a short time, project each
point's gradient onto the tangent space of its sphere, renormalise the points), with a step-size rule that
converges: the step is the longest of α, α/2, α/4, … whose move y(α) = normalise(x − α g) (g: the tangent
gradient) lowers the objective f by at least C1 · α · |g|² (Armijo's sufficient decrease); the next trial α
is twice the last accepted one, capped so that no point moves by more than ``max_move`` times the current
smallest distance between the points. The thread's rule,
h = min(1/(7 G_max), step), is the same cap without the decrease test (it need not converge).
f only ever goes down; a descent ends when ``budget`` steps are spent, when no α lowers f (a stationary
point to float precision), or when f fell by less than ``tol`` in ``stall`` steps in a row.

Contract: :func:`descend` takes unit rows ``x`` (N, D) and ``objective(x) -> (f, ∇f, d_min)`` (f a float, +inf
for an unusable point; ∇f (N, D) the Euclidean gradient; d_min the smallest distance between rows of x),
returns unit rows and the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["descend", "staged_descent", "Descent", "tangent", "unit_rows", "C1", "HALVINGS"]

#: Sufficient-decrease constant of the Armijo test.
C1 = 1e-4
#: Halvings of the trial step before the point counts as stationary.
HALVINGS = 40


@dataclass
class Descent:
    x: np.ndarray  #: unit rows (N, D)
    value: float  #: the objective there
    steps: int  #: accepted steps (≤ budget)
    evaluations: int  #: objective evaluations
    converged: bool  #: stopped by the stall or stationarity test, not by the budget


def tangent(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row of ``v`` (N, D) minus its component along the unit row of ``x``."""
    return v - np.einsum("ij,ij->i", v, x)[:, None] * x


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def descend(
    x: np.ndarray,
    objective: Callable[[np.ndarray], tuple[float, np.ndarray, float]],
    budget: int,
    *,
    max_move: float,
    tol: float,
    stall: int = 3,
    on_iteration: Callable[[], None] | None = None,
) -> Descent:
    """Descend from unit rows ``x`` (N, D) for at most ``budget`` steps (module doc); ``on_iteration()`` after each.
    ``max_move`` > 0: the longest move of one point in one step, as a fraction of the smallest distance;
    ``tol`` ≥ 0, ``stall`` ≥ 1: the stall test."""
    if not max_move > 0 or not tol >= 0 or stall < 1 or budget < 0:
        raise ValueError(
            f"descend needs max_move > 0, tol ≥ 0, stall ≥ 1 and budget ≥ 0, not {(max_move, tol, stall, budget)!r}"
        )
    value, grad, d_min = objective(x)
    evals, steps, quiet, alpha = 1, 0, 0, None
    while steps < budget:
        g = tangent(grad, x)
        g2 = float(np.einsum("ij,ij->", g, g))
        longest = float(np.sqrt(np.einsum("ij,ij->i", g, g).max()))
        if not np.isfinite(value) or g2 == 0.0 or not np.isfinite(g2):
            return Descent(x, value, steps, evals, True)
        cap = max_move * d_min / longest
        alpha = cap if alpha is None else min(2.0 * alpha, cap)
        for _ in range(HALVINGS):
            y = _normalise(x - alpha * g)
            new, new_grad, new_d_min = objective(y)
            evals += 1
            if new <= value - C1 * alpha * g2:
                break
            alpha *= 0.5
        else:
            return Descent(x, value, steps, evals, True)
        quiet = quiet + 1 if value - new < tol else 0
        x, value, grad, d_min = y, new, new_grad, new_d_min
        steps += 1
        if on_iteration is not None:
            on_iteration()
        if quiet >= stall:
            return Descent(x, value, steps, evals, True)
    return Descent(x, value, steps, evals, False)


def unit_rows(vectors, iterations, name: str) -> np.ndarray:
    """A method's input checked: ``vectors`` as unit float64 rows (a new array), or ``ValueError`` (one line,
    naming the method ``name``) for N < 2, D < 1, non-finite or zero rows, or ``iterations`` that is not a
    non-negative integer."""
    x = np.array(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name} needs vectors of shape (N ≥ 2, D ≥ 1), not {np.shape(vectors)!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} needs finite vectors: the input has NaN or infinite coordinates")
    lengths = np.linalg.norm(x, axis=1)
    if not np.all(lengths > 0):
        raise ValueError(f"{name} needs nonzero vectors: a row has length 0")
    if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a non-negative integer, not {iterations!r}")
    return x / lengths[:, None]


def staged_descent(
    x: np.ndarray,
    stages: list,
    objective: Callable,
    tol: Callable[[object], float],
    iterations: int,
    on_iteration: Callable[[int], None] | None,
    *,
    max_move: float,
    final: str,
) -> tuple[np.ndarray, dict]:
    """:func:`descend` through ``stages`` in turn (``objective(stage)`` is that stage's objective, ``tol(stage)``
    its tolerance), each stage given an even share of the steps the earlier ones left, on one BLAS thread.
    ``on_iteration`` sees the running step count. Returns (x, stats); ``stats[final]`` is the last stage run."""
    from ..pairs import blas

    stats = {"stages": 0, final: None, "steps": 0, "evaluations": 0, "converged_stages": 0}
    counter = [0]

    def step():
        counter[0] += 1
        if on_iteration is not None:
            on_iteration(counter[0])

    with blas().limit(limits=1, user_api="blas"):
        for index, stage in enumerate(stages):
            budget = (iterations - stats["steps"]) // (len(stages) - index)
            if budget <= 0:
                continue
            result = descend(x, objective(stage), budget, max_move=max_move, tol=tol(stage), on_iteration=step)
            x = result.x
            stats["stages"] += 1
            stats[final] = stage
            stats["steps"] += result.steps
            stats["evaluations"] += result.evaluations
            stats["converged_stages"] += result.converged
    return x, stats
