"""The backend interface that force loosening, multi-start and the CLI are written against — a leaf
module: it imports nothing of spherecode, so every backend (host, sim, a board) can import it.

A backend computes one Jacobi iteration of the variable-repulsion-force method (the paper's steps 1–5,
every new vector from the old set) for a given β. Like Glasgow's applets, each backend also owns its
command-line options: :meth:`Backend.add_arguments` declares them, :meth:`Backend.options` turns the
parsed arguments into the plain keyword options of its constructor (picklable: they travel in a
:class:`~spherecode.host.starts.StartTask` to worker processes), and :meth:`Backend.report` turns the
statistics of a run into the figures the CLI prints (``cycles_per_iteration`` and the like).

Backends subclass :class:`Backend` to inherit its defaults (no options, nothing reported, nothing to
close); the registry of names is :mod:`spherecode.host.backends`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

__all__ = ["Update", "Backend", "add_shared", "add_loosening_argument", "loosening_mode"]


@dataclass(frozen=True)
class Update:
    """The result of one iteration.

    Attributes
    ----------
    vectors : ndarray, shape (N, D), float64
        The new vectors r'_j, unit length.
    move_norm : float
        S = Σ_j |r'_j − r_j|² (paper eq. 13).
    delta : ndarray, shape (N,), float64, or None
        δ_j = min_{i≠j} |r_j − r_i|² of the *old* set (paper eq. 9); None where the hardware returns only
        their minimum (``stats["delta_min"]``).
    stats : dict
        Backend-specific figures (hardware: ``cycles`` of the iteration, ``delta_min``).
    """

    vectors: np.ndarray
    move_norm: float
    delta: np.ndarray | None
    stats: dict = field(default_factory=dict)


class Backend(Protocol):
    """What force loosening and the CLI need from an execution of the method.

    Class attributes: ``name`` (the registry's), ``parallel`` (independent starts may run in separate
    processes: False for a board, whose one serial port the starts share in turn), ``beta_range`` (the
    (lowest, highest) β it computes with, checked before a run; None: any β > 0) and ``fixed_config``
    (its fixed-point configuration is a device's, not chosen by options: with ``--vs``, the other
    backend takes its format and lanes).
    """

    name: ClassVar[str]
    parallel: ClassVar[bool] = True
    beta_range: ClassVar[tuple[float, float] | None] = None
    fixed_config: ClassVar[bool] = False

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare this backend's command-line options on ``parser``. Options several backends share are
        declared by each of them in the same way (see :func:`add_shared`)."""

    @classmethod
    def options(cls, args: argparse.Namespace, threads: int) -> dict[str, Any]:
        """The constructor's keyword options for a run of ``args.points`` vectors of ``args.dim``
        coordinates, from the parsed ``args``; ``threads``: the threads one backend may use (1 in worker
        processes). Raises ``ValueError`` (or the backend's own error) for options it cannot compute
        with, before any work."""
        return {}

    @classmethod
    def from_args(cls, args: argparse.Namespace, threads: int = 1) -> Backend:
        """The backend built from parsed ``args``."""
        return cls(**cls.options(args, threads))

    @classmethod
    def report(cls, options: dict[str, Any], stats: dict) -> dict[str, Any]:
        """What a run prints about this backend: ``format`` and ``lanes`` (None in float64), and figures
        from ``stats`` — the sums over a run's updates that force loosening collects (``updates``,
        ``update_seconds``, ``cycles`` where the backend counts them)."""
        return {"format": None, "lanes": None}

    @classmethod
    def modelled_board(cls, options: dict[str, Any]):
        """The :class:`~spherecode.boards.BoardConfig` whose modelled time ``spherecode run`` prints beside
        the measured ones: None, the default board, unless the backend runs on a board."""
        return None

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        """One iteration of steps 1–5 with repulsion exponent ``beta`` (> 0) on ``vectors`` (N, D)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (a simulator, a serial port). Idempotent."""

    # A backend that runs whole force-loosening runs itself (the choice on chip) has ``loosening = "chip"``
    # and ``loosen(vectors, iterations, on_iteration, keep_trace) -> LooseningResult``;
    # :func:`spherecode.host.loosening.force_loosening` then hands the run to it.


def add_shared(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """``parser.add_argument(*flags, **kwargs)`` unless another backend already declared these flags (a
    shared option such as ``--format``: every backend that takes it declares it with the same meaning)."""
    try:
        parser.add_argument(*flags, **kwargs)
    except argparse.ArgumentError:
        pass


#: Where force loosening runs: ``host`` (the paper's system: two updates per iteration, the choice in float64)
#: or ``chip`` (the choice and β in fixed point, one sweep per iteration, in the core).
LOOSENING_MODES = ("host", "chip")


def add_loosening_argument(parser: argparse.ArgumentParser) -> None:
    """``--loosening chip|host``, declared by the backends that offer ``chip`` (default: None, each
    backend's own default — see :func:`loosening_mode`)."""
    add_shared(
        parser,
        "--loosening",
        choices=LOOSENING_MODES,
        default=None,
        help="force loosening on chip (the choice and β in fixed point, one sweep per iteration; "
        "--backend model, its default, and sim) or on the host (the paper's: two updates per "
        "iteration; every backend, sim's default)",
    )


def loosening_mode(
    args: argparse.Namespace, backend: str, modes: tuple[str, ...] = ("host",), default: str | None = None
) -> str:
    """The loosening mode of a run on ``backend``, which offers ``modes`` (of :data:`LOOSENING_MODES`):
    ``--loosening`` if given, else ``default`` (the first of ``modes`` if None). ``ValueError`` (one line)
    for a mode the backend does not offer."""
    mode = getattr(args, "loosening", None)
    if mode is None:
        return modes[0] if default is None else default
    if mode not in modes:
        raise ValueError(
            f"--loosening {mode} is not offered by backend {backend} (only "
            f"{', '.join(modes)})"
            + ("; on-chip loosening runs on --backend model, sim, or a board that offers it" if mode == "chip" else "")
        )
    return mode
