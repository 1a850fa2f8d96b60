"""Reading and writing code files, chosen by suffix.

- ``.txt``: Sloane's layout — the N·D coordinates, one per line, vector after vector.
- ``.npy``: a float array of shape (N, D) (or flat N·D, reshaped with the given D).
- ``.json``: ``{"dim": D, "points": N, "vectors": [[…], …]}`` (a bare list of vectors is read too).

Every problem with a file raises :class:`CodeFileError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "CodeFileError",
    "SUFFIXES",
    "read_code",
    "write_code",
    "check_writable",
    "probe_create",
    "write_atomically",
    "parse_json",
    "regular_file",
]

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


#: Digits beyond which a JSON integer is refused: 10**309 is past float64's range.
_INT_DIGITS = 309


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _INT_DIGITS - 1:
        raise ValueError("a number is too large for float64")
    return int(text)


def parse_json(text: str, where: str):
    """``text`` parsed as JSON, or ``ValueError`` with one line starting ``where``: not JSON, nested too
    deeply (Python's recursion limit), or an integer beyond float64's range (refused while parsing: it
    would overflow wherever it is used as a number)."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from None
    except ValueError as exc:  # from _bounded_int
        raise ValueError(f"{where}: {exc}") from None


def regular_file(path: Path, what: str = "") -> None:
    """``ValueError`` unless ``path``, if it exists, is a regular file (after symbolic links): a FIFO would
    block the reader, a device such as /dev/zero would never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ValueError(f"{what}{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what}{path}: not a regular file")


def read_code(path: str | Path, dim: int | None = None) -> np.ndarray:
    """Read a code as an (N, D) float64 array; ``dim`` is required for the flat ``.txt`` layout.

    Every vector must have a finite, non-zero length (a point on the sphere, perhaps unnormalised)."""
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
            values = _read_npy(path)
        else:
            try:
                data = parse_json(path.read_text(encoding="utf-8"), str(path))
            except ValueError as exc:
                raise CodeFileError(str(exc)) from None
            if isinstance(data, dict):
                if "vectors" not in data:
                    raise CodeFileError(f"{path}: JSON object without a 'vectors' field")
                data = data["vectors"]
            _numbers_only(data, path)
            try:
                values = np.array(data, dtype=np.float64)
            except OverflowError:
                raise CodeFileError(f"{path}: a number is too large for float64") from None
            except (TypeError, ValueError, RecursionError):
                raise CodeFileError(f"{path}: 'vectors' is not a rectangular array of numbers") from None
    except CodeFileError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CodeFileError(f"{path}: cannot read: {exc}") from None
    return _lengths(_shape(values, dim, path), path)


def _numbers_only(data, path: Path) -> None:
    """A list of numbers, or of lists of numbers: a string ("1") or a boolean is refused, not converted."""
    for row in data if isinstance(data, list) else [data]:
        for x in row if isinstance(row, list) else [row]:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise CodeFileError(f"{path}: {json.dumps(x)[:40]} is not a number")


def _read_npy(path: Path) -> np.ndarray:
    """A real-valued ``.npy`` array, its header checked against the file's size before anything is read."""
    fmt = np.lib.format
    with open(path, "rb") as fh:
        try:
            version = fmt.read_magic(fh)
            header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if header is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = header(fh)
        except (ValueError, EOFError, SyntaxError) as exc:
            raise CodeFileError(f"{path}: not a .npy array file ({str(exc) or 'empty'})") from None
        if dtype.kind not in "iuf" or dtype.hasobject:  # booleans are not coordinates
            raise CodeFileError(f"{path}: array of {dtype}, expected real numbers")
        size = path.stat().st_size - fh.tell()
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need != size:
            raise CodeFileError(
                f"{path}: the header promises {need} bytes of data for shape {shape}, the file holds {size}"
            )
        fh.seek(0)
        return np.load(fh, allow_pickle=False).astype(np.float64)


def _lengths(values: np.ndarray, path: Path) -> np.ndarray:
    with np.errstate(over="ignore"):
        lengths = np.sqrt(np.einsum("ij,ij->i", values, values))
    bad = np.flatnonzero(~np.isfinite(lengths) | (lengths == 0))
    if bad.size:
        j = int(bad[0])
        what = "length 0" if lengths[j] == 0 else "a length beyond float64's range"
        raise CodeFileError(f"{path}: vector {j} has {what}: not a point on a sphere")
    return values


def write_code(path: str | Path, vectors: np.ndarray, meta: dict | None = None) -> None:
    """Write an (N, D) code in the format the suffix names; ``.txt`` uses 17 significant digits.

    The file is written under a temporary name in the same folder and renamed over ``path`` when complete:
    an existing file survives any failure, and no partial file is left. Raises ``OSError`` (its message
    names ``path``) when the write fails."""
    path = Path(path)
    suffix = _suffix(path)
    vectors = np.asarray(vectors, dtype=np.float64)

    def write(fh) -> None:
        if suffix == ".txt":
            fh.write("".join(f"{x:.17g}\n" for x in vectors.ravel()).encode())
        elif suffix == ".npy":
            np.save(fh, vectors)  # a file object: np.save adds no ".npy" to an upper-case suffix
        else:
            n, dim = vectors.shape
            doc = {"dim": dim, "points": n, **(meta or {}), "vectors": vectors.tolist()}
            fh.write((json.dumps(doc, indent=1) + "\n").encode())

    try:
        write_atomically(path, write)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Fill ``path`` through ``write(file)``: into a temporary file in the same folder, fsynced, then renamed
    over ``path`` with the permissions a plain ``open()`` would give. An existing file survives any failure
    (an exception, a full disk, an interrupt) and no partial file is left."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def check_writable(path: str | Path) -> None:
    """Raise :class:`CodeFileError` unless a code can be written to ``path`` (checked before a long run):
    a known suffix, not a folder, in an existing folder where a file can be created."""
    path = Path(path)
    _suffix(path)
    if path.is_dir():
        raise CodeFileError(f"{path}: is a directory")
    folder = path.parent  # Path("c.txt").parent is Path(".")
    if not folder.is_dir():
        raise CodeFileError(f"{path}: directory {str(folder)!r} does not exist")
    try:
        probe_create(path)
    except OSError as exc:
        raise CodeFileError(f"{path}: cannot write in {str(folder)!r}: {exc.strerror or exc}") from None


def probe_create(path: str | Path) -> None:
    """Create and remove a temporary file beside ``path`` (in its folder): ``OSError`` where no file can be
    created there. The check before a long run that will write ``path``."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    os.unlink(temp)
