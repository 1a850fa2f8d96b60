"""The ``board`` backend: every update runs on an FPGA board (or its twin) over a serial port.

The board's identity fixes the format, Nmax, Dmax and lanes; the host converts vectors and β exactly as
the ``model`` backend does, so results are bit-identical to ``--backend model --format <the board's>``.
An iteration is repeated from the host's own copy of the vectors when the board lost its state (a reset,
or answers that show another process's requests in between) or the answer to RUN was lost; every other
failure, the serial port's own included, is a :class:`~spherecode.host.link.BoardError`. The port is
opened exclusively (:func:`~spherecode.host.link.open_port`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from ...boards import board_for
from ...hw.board_link import protocol as p
from ...hw.config import CoreConfig
from ..argtypes import integer, positive_float
from .base import LOOSENING_MODES, Update, add_loosening_argument, loosening_mode
from .hardware import FixedPointBackend, add_core_arguments
from ..link import Board, BoardError, Identity, Link, Lost, PortError, Reset, open_port
from ..loosening import LooseningResult

__all__ = ["BoardBackend", "BAUD", "TIMEOUT", "RETRIES"]

#: Defaults of ``--baud``, ``--timeout`` (seconds beyond a response's wire time) and ``--retries``.
BAUD, TIMEOUT, RETRIES = 3_000_000, 5.0, 3
#: ``--loosening``: ``chip`` (a whole run per LOOSEN, where the board offers it; then the default) or
#: ``host`` (the paper's system: two RUNs per iteration, the choice in float64).


class BoardBackend(FixedPointBackend):
    """Parameters: ``port`` (a serial device or the twin's pty), ``baud``, ``timeout`` (s, per response
    beyond its wire time), ``retries`` (per request, and per iteration after a reset); ``config`` and
    ``identity`` (:class:`~.link.Identity`), when given, must be the board's (its IDENTIFY answer).

    Options: ``--port``, ``--baud``, ``--timeout``, ``--retries``, and ``--format``/``--lanes``, which
    must match the board's. :meth:`options` asks the board (IDENTIFY) and refuses N or D beyond it; the
    board's configuration then describes the run (``fixed_config``). Starts take turns on the one port
    (``parallel`` is False)."""

    name = "board"
    parallel = False
    fixed_config = True

    def __init__(
        self,
        port: str | None = None,
        baud: int = BAUD,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        config: CoreConfig | None = None,
        loosening: str = "host",
        identity: Identity | None = None,
    ):
        if loosening not in LOOSENING_MODES:
            raise ValueError(f"loosening must be one of {', '.join(LOOSENING_MODES)}, not {loosening!r}")
        self.loosening = loosening
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
        self.port = port
        self.config = self.board.config
        self.dp = self.board.dp
        if config is not None and config != self.config:
            self.close()
            raise BoardError(f"the board at {port} is {self.config}, not {config}")
        if identity is not None and identity != self.board.identity:
            self.close()
            raise BoardError(
                f"the board at {port} is not the one identified before the run: it answers "
                f"{self.board.identity}, not {identity}"
            )
        self.resets = 0
        if loosening == "chip" and not self.config.loosening:
            self.close()
            raise BoardError(
                f"the board at {port} runs no whole loosening runs (its IDENTIFY lists no LOOSEN): use --loosening host"
            )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_core_arguments(parser)
        parser.add_argument(
            "--port", help="serial port of a board, or the pty of `spherecode emulate` (--backend board)"
        )
        parser.add_argument("--baud", type=integer("--baud", 300, 2**31 - 1), default=BAUD, help=f"baud rate ({BAUD})")
        parser.add_argument(
            "--timeout",
            type=positive_float("--timeout"),
            default=TIMEOUT,
            help=f"seconds to wait for a board's answer beyond its transfer time ({TIMEOUT:g})",
        )
        parser.add_argument(
            "--retries",
            type=integer("--retries", 0),
            default=RETRIES,
            help=f"repeats after a damaged or lost exchange, or a board reset ({RETRIES})",
        )
        add_loosening_argument(parser)

    @classmethod
    def options(cls, args: argparse.Namespace, threads: int) -> dict:
        """Ask the board at ``args.port`` who it is; refuse ``--format``/``--lanes`` other than its own and
        N, D beyond its Nmax, Dmax, and ``--loosening chip`` on a board whose IDENTIFY lists no LOOSEN
        (:class:`BoardError`). The loosening mode defaults to ``chip`` where the board offers it."""
        board = cls(args.port, args.baud, args.timeout, args.retries)
        try:
            config, identity = board.config, board.board.identity
        finally:
            board.close()
        if getattr(args, "loosening", None) == "chip" and not config.loosening:
            raise BoardError(
                f"the board at {args.port} runs no whole loosening runs (its IDENTIFY lists no "
                "LOOSEN): use --loosening host"
            )
        modes = LOOSENING_MODES if config.loosening else ("host",)
        loosening = loosening_mode(args, cls.name, modes, "chip" if config.loosening else "host")
        if args.format is not None and args.format != str(config.fmt):
            raise BoardError(f"the board at {args.port} computes in {config.fmt}, not {args.format}")
        if args.lanes is not None and args.lanes != config.lanes:
            raise BoardError(f"the board at {args.port} has {config.lanes} lane(s), not {args.lanes}")
        if not config.fits(args.points, args.dim):
            raise BoardError(
                f"N = {args.points}, D = {args.dim} does not fit the board at {args.port} "
                f"(Nmax = {config.nmax}, Dmax = {config.dmax})"
            )
        return {
            "port": args.port,
            "baud": args.baud,
            "timeout": args.timeout,
            "retries": args.retries,
            "config": config,
            "loosening": loosening,
            "identity": identity,
        }

    @classmethod
    def modelled_board(cls, options: dict):
        """The board identified at the port: the shipped configuration with its core, clock and baud rate
        (:func:`~spherecode.boards.board_for`)."""
        identity = options.get("identity")
        return None if identity is None else board_for(identity.config, identity.clock_hz, identity.baud)

    def close(self):
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _fits(self, vectors: np.ndarray) -> tuple[int, int]:
        """(N, D) of ``vectors``; :class:`BoardError` where the board cannot hold them."""
        n, d = vectors.shape
        if n > self.config.nmax or d > self.config.dmax:
            raise BoardError(
                f"N = {n}, D = {d} does not fit the board (Nmax = {self.config.nmax}, Dmax = {self.config.dmax})"
            )
        return n, d

    def _repeated(self, what: str, call: Callable[[], object]):
        """``call()``, repeated from the start after a reset or a lost answer, at most ``retries`` times
        (each repeat counted in ``resets`` and told on stderr); then :class:`BoardError`."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (Reset, Lost) as exc:
                if attempt == self.retries:
                    raise BoardError(f"{exc} ({what} tried {attempt + 1} times)") from None
                self.resets += 1
                print(f"spherecode: {exc}; repeating the {what}", file=sys.stderr)

    def loosen(
        self,
        vectors: np.ndarray,
        iterations: int,
        on_iteration: Callable[[None], None] | None = None,
        keep_trace: bool = False,
    ) -> LooseningResult:
        """A whole loosening run on the board (LOOSEN, docs/protocol.md) from float64 ``vectors`` (N, D),
        starting at n = 1, l = 2: one LOAD set, one LOOSEN, STATUS polls (``progress(done, iterations)``),
        RESULT and one READ set. Repeated from the host's copy of the vectors after a reset or a lost
        LOOSEN answer (at most ``retries`` times). Statistics: ``iterations``, ``cycles`` (the board's
        counter, start to done), ``load_cycles`` (those outside the iterations, from
        :meth:`CoreConfig.run_cycles`), ``move_norm`` and ``delta_min`` (the last iteration's), ``final_n``.
        ``on_iteration(None)`` is told once per iteration the board reports done (its STATUS polls; the board
        keeps no per-iteration trace, so ``keep_trace`` gives none). :class:`BoardError` for a board without
        LOOSEN."""
        told = [0]

        def progress(done: int, total: int) -> None:
            if on_iteration is not None:
                for _ in range(done - told[0]):
                    on_iteration(None)
            told[0] = max(told[0], done)

        dp, config = self.dp, self.config
        n, d = self._fits(vectors)
        raw, _, _ = dp.inputs(vectors, 4.0)  # the coordinates only: β is the board's own
        out = self._repeated("run", lambda: self.board.loosen(raw, iterations, progress=progress))
        stats = {
            "iterations": iterations,
            "cycles": out.cycles,
            "load_cycles": config.load_cycles(n, d, iterations),
            "move_norm": out.move_norm * dp.s_fmt.ulp,
            "delta_min": out.delta_min * dp.d2_fmt.ulp,
            "final_n": out.n,
        }
        return LooseningResult(out.vectors * dp.fmt.ulp, out.l / (1 << p.L_FRACTION), [], stats)

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        dp = self.dp
        self._fits(vectors)
        raw, hb, c = dp.inputs(vectors, beta)
        new, cycles, s, dmin = self._repeated("iteration", lambda: self.board.iterate(raw, hb, c))
        return Update(
            new * dp.fmt.ulp,
            s * dp.s_fmt.ulp,
            None,
            {"cycles": cycles, "delta_min": dmin * dp.d2_fmt.ulp},
        )
