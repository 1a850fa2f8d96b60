"""Reading and writing code files, chosen by suffix.

- ``.txt``: Sloane's layout — the N·D coordinates, one per line, vector after vector.
- ``.npy``: a float array of shape (N, D) (or flat N·D, reshaped with the given D).
- ``.json``: ``{"dim": D, "points": N, "vectors": [[…], …]}`` (a bare list of vectors is read too).

Every problem with a file raises :class:`CodeFileError` with a one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["CodeFileError", "SUFFIXES", "read_code", "write_code"]

SUFFIXES = (".txt", ".npy", ".json")


class CodeFileError(ValueError):
    """A code file that is missing, unreadable, malformed, non-finite or of the wrong shape."""


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CodeFileError(f"{path}: unknown code file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}")
    return suffix


def _shape(values: np.ndarray, dim: int | None, path: Path) -> np.ndarray:
    if values.ndim == 2:
        if dim is not None and values.shape[1] != dim:
            raise CodeFileError(f"{path}: vectors have {values.shape[1]} coordinates, but --dim is {dim}")
    elif values.ndim == 1:
        if dim is None:
            raise CodeFileError(f"{path}: a flat list of coordinates needs --dim")
        if values.size % dim:
            raise CodeFileError(f"{path}: {values.size} coordinates are not a whole number of {dim}-vectors")
        values = values.reshape(-1, dim)
    else:
        raise CodeFileError(f"{path}: expected N vectors of D coordinates, got an array of shape {values.shape}")
    if values.shape[1] < 2:
        raise CodeFileError(f"{path}: dimension {values.shape[1]} is below 2")
    if values.shape[0] < 2:
        raise CodeFileError(f"{path}: {values.shape[0]} point(s); a code needs at least 2")
    if not np.all(np.isfinite(values)):
        raise CodeFileError(f"{path}: contains non-finite values (nan or inf)")
    return values


def read_code(path: str | Path, dim: int | None = None) -> np.ndarray:
    """Read a code as an (N, D) float64 array; ``dim`` is required for the flat ``.txt`` layout."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise CodeFileError(f"{path}: no such file")
    try:
        if suffix == ".txt":
            words = path.read_text(encoding="utf-8").split()
            try:
                values = np.array([float(word) for word in words], dtype=np.float64)
            except ValueError as exc:
                raise CodeFileError(f"{path}: not a number: {str(exc).split(': ', 1)[-1]}") from None
        elif suffix == ".npy":
            values = np.load(path, allow_pickle=False)
            if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
                raise CodeFileError(f"{path}: array of {values.dtype}, expected real numbers")
            values = values.astype(np.float64)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                if "vectors" not in data:
                    raise CodeFileError(f"{path}: JSON object without a 'vectors' field")
                data = data["vectors"]
            try:
                values = np.array(data, dtype=np.float64)
            except (TypeError, ValueError):
                raise CodeFileError(f"{path}: 'vectors' is not a rectangular array of numbers") from None
    except CodeFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CodeFileError(f"{path}: cannot read: {exc}") from None
    return _shape(values, dim, path)


def write_code(path: str | Path, vectors: np.ndarray, meta: dict | None = None) -> None:
    """Write an (N, D) code in the format the suffix names; ``.txt`` uses 17 significant digits."""
    path = Path(path)
    suffix = _suffix(path)
    vectors = np.asarray(vectors, dtype=np.float64)
    if suffix == ".txt":
        path.write_text("".join(f"{x:.17g}\n" for x in vectors.ravel()), encoding="utf-8")
    elif suffix == ".npy":
        np.save(path, vectors)
    else:
        n, dim = vectors.shape
        doc = {"dim": dim, "points": n, **(meta or {}), "vectors": vectors.tolist()}
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
