"""The ``board`` backend: every update runs on an FPGA board (or its twin) over a serial port.

The board's identity fixes the format, Nmax, Dmax and lanes; the host converts vectors and β exactly as
the ``model`` backend does, so results are bit-identical to ``--backend model --format <the board's>``.
An iteration is repeated from the host's own copy of the vectors when the board lost its state (a reset,
or answers that show another process's requests in between) or the answer to RUN was lost; every other
failure, the serial port's own included, is a :class:`~spherecode.host.link.BoardError`. The port is
opened exclusively (:func:`~spherecode.host.link.open_port`).
"""

from __future__ import annotations

import sys

import numpy as np

from .backend import Update
from .link import Board, BoardError, Link, Lost, PortError, Reset, open_port

__all__ = ["BoardBackend"]


class BoardBackend:
    """Parameters: ``port`` (a serial device or the twin's pty), ``baud``, ``timeout`` (s, per response
    beyond its wire time), ``retries`` (per request, and per iteration after a reset); ``fmt`` and
    ``lanes``, when given, must match the board's."""

    name = "board"

    def __init__(self, port: str | None = None, baud: int = 3_000_000, timeout: float = 5.0, retries: int = 3,
                 fmt: str | None = None, lanes: int | None = None, **_):
        if not port:
            raise BoardError("--backend board needs --port (the board's serial port or the twin's pty)")
        self._serial = open_port(port, baud)
        self.retries = retries
        try:
            self.board = Board(Link(self._serial, baud, timeout, retries))
        except PortError:
            self.close()
            raise
        except BoardError as exc:
            self.close()
            raise BoardError(f"{port}: {exc}") from None
        ident = self.board.identity
        self.dp = self.board.dp
        if fmt is not None and str(fmt) != str(ident.fmt):
            self.close()
            raise BoardError(f"the board at {port} computes in {ident.fmt}, not {fmt}")
        if lanes is not None and lanes != ident.lanes:
            self.close()
            raise BoardError(f"the board at {port} has {ident.lanes} lane(s), not {lanes}")
        self.resets = 0

    def close(self):
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        dp, ident = self.dp, self.board.identity
        n, d = vectors.shape
        if n > ident.nmax or d > ident.dmax:
            raise BoardError(f"N = {n}, D = {d} does not fit the board (Nmax = {ident.nmax}, Dmax = {ident.dmax})")
        raw, hb, c = dp.inputs(vectors, beta)
        for attempt in range(self.retries + 1):
            try:
                new, cycles, s, dmin = self.board.iterate(raw, hb, c)
                break
            except (Reset, Lost) as exc:
                if attempt == self.retries:
                    raise BoardError(f"{exc} (iteration tried {attempt + 1} times)") from None
                self.resets += 1
                print(f"spherecode: {exc}; repeating the iteration", file=sys.stderr)
        return Update(
            new * dp.fmt.ulp,
            s * dp.s_fmt.ulp,
            None,
            {"cycles": cycles, "delta_min": dmin * dp.d2_fmt.ulp},
        )
