"""Known codes, built from their coordinates, for the tests."""

import itertools

import numpy as np


def icosahedron() -> np.ndarray:
    phi = (1 + 5**0.5) / 2
    pts = []
    for a, b in itertools.product((-1, 1), repeat=2):
        pts += [(0, a, b * phi), (a, b * phi, 0), (b * phi, 0, a)]
    v = np.array(pts, dtype=float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cross_polytope(dim: int) -> np.ndarray:
    return np.concatenate([np.eye(dim), -np.eye(dim)])


def polygon(n: int) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)
