"""docs/protocol.md's board as an executable model: the response to each request, for a core whose behaviour
is a parameter.

:class:`ProtocolModel` holds what the board holds (N, D, β/2, 1/(2β), the token, the loaded prefix, the
vector buffer, the held result, a LOOSEN run in progress) and answers each request as
:class:`~.host_link.HostLink` does: the same status, state byte and payload. What the core does to the
vectors is a :class:`CoreBehaviour`: the bit-exact model of the real core, or a test core's predictable
rule. The model has no clock: a LOOSEN run goes on until :meth:`ProtocolModel.advance` (or
:meth:`~ProtocolModel.finish`) says that its iterations are done.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..config import CoreConfig
from . import protocol as p
from .protocol import Capability, Command, State, Status

__all__ = ["Updated", "Loosened", "CoreBehaviour", "ProtocolModel"]


@dataclass(frozen=True)
class Updated:
    """An update's result, raw: ``vectors`` (N, D) in the board's format, the core's ``cycles`` (start to
    done), S and δ_min."""

    vectors: np.ndarray
    cycles: int
    move_norm: int
    delta_min: int


@dataclass(frozen=True)
class Loosened:
    """A LOOSEN run's result, raw: ``vectors`` (N, D), ``cycles`` (start to done), S and δ_min of the last
    iteration, the final ``n`` and ``l`` (UQ18.48)."""

    vectors: np.ndarray
    cycles: int
    move_norm: int
    delta_min: int
    n: int
    l: int


class CoreBehaviour(Protocol):
    """What a core does to the vectors. ``vectors``: raw (N, D) int64 in the board's format, N and D within
    its range. Each method returns the result, or None where the core refuses the run (its ``error``
    flag): the board then answers ``BAD_CONFIG``. Fields wider than the core's ports are cut to them."""

    def update(self, vectors: np.ndarray, half_beta: int, step: int) -> Updated | None:
        """One update with the raw β/2 and 1/(2β) (RUN)."""

    def loosen(self, vectors: np.ndarray, iterations: int, n: int, l: int) -> Loosened | None:
        """A whole loosening run of K = ``iterations`` ≥ 1 from the state ``n`` ≥ 1, raw ``l`` (LOOSEN; only
        a core that loosens)."""


class _Held(enum.Enum):
    """Which command's result the board holds."""

    NONE = 0
    RUN = 1
    LOOSEN = 2


class ProtocolModel:
    """The board of docs/protocol.md, as a Python model.

    Parameters: ``config`` — the core's :class:`~spherecode.hw.config.CoreConfig` (Nmax, Dmax, the field
    widths, the identity); ``core`` — its :class:`CoreBehaviour`; ``clock_hz``, ``baud`` — as IDENTIFY
    reports them (1 … 2^32 − 1); ``loosening`` — whether the board runs LOOSEN (its capability; default
    ``config.loosening``; a board without it answers LOOSEN and RESULT ``UNKNOWN_COMMAND``).

    :meth:`answer` takes a whole request frame and gives the response frame; :meth:`execute` takes a request
    as the board's parser hands it on (command, payload length, the parser's verdict, the payload bytes
    that arrived) and gives (status, payload), after which :meth:`state` is the response's state byte.
    """

    def __init__(
        self, config: CoreConfig, core: CoreBehaviour, clock_hz: int, baud: int, loosening: bool | None = None
    ):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        loosening = config.loosening if loosening is None else loosening
        if not isinstance(loosening, bool):
            raise TypeError(f"loosening must be True, False or None, not {loosening!r}")
        for name in ("update", "loosen") if loosening else ("update",):
            if not callable(getattr(core, name, None)):
                raise TypeError(f"core must have a {name} method (a CoreBehaviour), not {core!r}")
        for name, value in (("clock_hz", clock_hz), ("baud", baud)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 1 << 32:
                raise ValueError(f"{name} must be an int in 1..{(1 << 32) - 1}, not {value!r}")
        self.config, self.core, self.loosening = config, core, loosening
        self.dp = config.datapath
        self.layout = p.Layout.of(self.dp)
        capabilities = Capability.LOOSEN if loosening else Capability(0)
        self.identity = p.identity(config, clock_hz, baud, capabilities)
        self.n = self.d = self.half_beta = self.step = self.token = 0
        self.configured = False
        self.prefix = 0  #: P, the loaded prefix
        self.buffer = np.zeros(self.dp.nmax * self.dp.dmax, dtype=np.int64)  #: raw coordinates
        self._held = _Held.NONE
        self.stats = self.outcome = b""  # the held RUN's statistics, LOOSEN's outcome (without the token)
        self.running = False  #: a LOOSEN run is in progress
        self.progress = self.iterations = 0  #: STATUS's progress, and the current or last run's K
        self._pending: np.ndarray | None = None  # the run's final vectors, written when it ends
        self._foreign = self._outside = False  # the LOAD being received: another token, a word not written
        #: The last answer was a STATUS during a run: its progress (at most the run's K) depends on how long
        #: the run has had, which a model without a clock does not know.
        self.progress_varies = False

    @property
    def nd(self) -> int:
        return self.n * self.d

    def state(self) -> State:
        """The state byte: configured, loaded (P = N·D), a result held, a run in progress."""
        return (
            (State.CONFIGURED if self.configured else State(0))
            | (State.LOADED if self.nd and self.prefix == self.nd else State(0))
            | (State.RESULT if self._held != _Held.NONE else State(0))
            | (State.RUNNING if self.running else State(0))
        )

    def advance(self, iterations: int = 1) -> None:
        """The run in progress completes ``iterations`` more; it ends with its K-th (its vectors replace the
        loaded ones and its result is held)."""
        if not self.running:
            return
        self.progress = min(self.progress + iterations, self.iterations)
        if self.progress == self.iterations:
            self.buffer[: self.nd] = self._pending
            self.running, self._held = False, _Held.LOOSEN

    def finish(self) -> None:
        """The run in progress ends (if any)."""
        self.advance(self.iterations)

    def answer(self, frame: bytes) -> bytes:
        """The response frame to a whole request ``frame`` (``BAD_CRC`` where its CRC does not check)."""
        if len(frame) < p.REQUEST_HEADER + 2 or frame[0] != p.SYNC_REQUEST:
            raise ValueError(f"frame must be a request frame, not {frame!r}")
        cmd, seq, length = frame[1], frame[2], int.from_bytes(frame[3:5], "little")
        if len(frame) != p.REQUEST_HEADER + length + 2:
            raise ValueError(f"frame must hold its {length} payload bytes and the CRC, not {len(frame)} bytes")
        received = Status.OK if p.CRC.compute(frame[1:]) == 0 else Status.BAD_CRC
        status, payload = self.execute(cmd, length, received, frame[p.REQUEST_HEADER : -2])
        return p.response_frame(cmd, seq, status, self.state(), payload)

    def execute(self, cmd: int, length: int, received: Status, data: bytes) -> tuple[Status, bytes]:
        """(status, payload) for the request ``cmd`` with the payload length field ``length``, after the
        parser's verdict ``received`` (OK, ``BAD_CRC``, or ``TIMEOUT``: then ``data`` holds the bytes that
        arrived). A LOAD's coordinates are written as they arrive, before the verdict."""
        if received != Status.OK and received not in p.DAMAGED:
            raise ValueError(f"received must be OK, BAD_CRC or TIMEOUT (the parser's verdicts), not {received!r}")
        self.progress_varies = False
        if cmd == Command.LOAD:
            self._receive_load(data)
        if received in p.DAMAGED:
            if cmd == Command.LOAD:
                self.prefix = 0
            return received, b""
        if self.running and cmd not in (Command.IDENTIFY, Command.STATUS):
            return Status.BUSY, b""
        commands = {
            Command.IDENTIFY: self._identify,
            Command.CONFIGURE: self._configure,
            Command.LOAD: self._load,
            Command.RUN: self._run,
            Command.READ: self._read,
            Command.STATS: self._stats,
            Command.STATUS: self._status,
            **({Command.LOOSEN: self._loosen, Command.RESULT: self._result} if self.loosening else {}),
        }
        if cmd not in commands:
            return Status.UNKNOWN_COMMAND, b""
        return commands[cmd](length, data)

    def _quote(self) -> bytes:
        """The token, as the answers to RUN, STATS, READ, LOOSEN and RESULT end with it."""
        return self.token.to_bytes(p.TOKEN_BYTES, "little")

    def _identify(self, length, data):
        return (Status.BAD_LENGTH, b"") if length else (Status.OK, self.identity)

    def _configure(self, length, data):
        lay, dp = self.layout, self.dp
        if length != lay.configure:
            return Status.BAD_LENGTH, b""
        n, d, half_beta, step = p.unpack(lay.configure_fields, data)
        if not (2 <= n <= dp.nmax and 2 <= d <= dp.dmax):
            return Status.BAD_CONFIG, b""
        self.n, self.d = n, d
        self.half_beta = _cut(half_beta, dp.half_beta_fmt.width)  # the bits above the formats' widths are ignored
        self.step = _cut(step, dp.step_fmt.width)
        self.token = int.from_bytes(data[-p.TOKEN_BYTES :], "little")
        self.configured, self.prefix, self._held = True, 0, _Held.NONE
        return Status.OK, b""

    def _receive_load(self, data: bytes) -> None:
        """A LOAD's bytes as they arrive: the token compared, then each coordinate written where the LOAD is
        allowed to write it (else remembered as out of range)."""
        if not data:
            return
        quoted = data[: p.TOKEN_BYTES]
        self._foreign = quoted != self._quote()[: len(quoted)]
        self._outside = False
        if len(data) < p.LOAD_PREFIX:
            return
        index = int.from_bytes(data[p.TOKEN_BYTES : p.LOAD_PREFIX], "little")
        coord = self.layout.coord
        words = data[p.LOAD_PREFIX : p.LOAD_PREFIX + (len(data) - p.LOAD_PREFIX) // coord * coord]
        allowed = self.configured and not self._foreign and index <= self.prefix and not self.running
        for k in range(len(words) // coord):
            if allowed and index + k < self.nd:
                word = int.from_bytes(words[k * coord : (k + 1) * coord], "little")
                self.buffer[index + k] = self.dp.fmt.from_bits(word)
            else:
                self._outside = True

    def _load(self, length, data):
        old, self.prefix = self.prefix, 0
        if length < p.LOAD_PREFIX or (length - p.LOAD_PREFIX) % self.layout.coord:
            return Status.BAD_LENGTH, b""
        if not self.configured:
            return Status.NOT_CONFIGURED, b""
        if self._foreign:
            return Status.BAD_TOKEN, b""
        index = int.from_bytes(data[p.TOKEN_BYTES : p.LOAD_PREFIX], "little")
        if self._outside or index > old:
            return Status.BAD_RANGE, b""
        self.prefix = max(old, index + (length - p.LOAD_PREFIX) // self.layout.coord)
        return Status.OK, b""

    def _vectors(self) -> np.ndarray:
        return self.buffer[: self.nd].reshape(self.n, self.d).copy()

    def _start(self) -> bool:
        """Whether a RUN or LOOSEN may start (all N·D loaded); either consumes the load and the result."""
        loaded = self.configured and self.prefix == self.nd
        if loaded:
            self.prefix, self._held = 0, _Held.NONE
        return loaded

    def _run(self, length, data):
        dp = self.dp
        if length:
            return Status.BAD_LENGTH, b""
        if not self._start():
            return Status.NOT_LOADED, b""
        out = self.core.update(self._vectors(), self.half_beta, self.step)
        if out is None:
            return Status.BAD_CONFIG, b""
        self.progress = 0
        self.buffer[: self.nd] = dp.fmt.from_bits(np.asarray(out.vectors).ravel())
        self.stats = p.pack(
            self.layout.stats_fields,
            _cut(out.cycles, 32),  # the counter's low 32 bits
            _cut(out.move_norm, dp.s_fmt.width),
            _cut(out.delta_min, dp.d2_fmt.width),
        )
        self._held = _Held.RUN
        return Status.OK, self.stats + self._quote()

    def _loosen(self, length, data):
        dp, lay = self.dp, self.layout
        if length != lay.loosen:
            return Status.BAD_LENGTH, b""
        if not (self.configured and self.prefix == self.nd):
            return Status.NOT_LOADED, b""
        k, n, l = p.unpack(lay.loosen_fields, data)
        if k == 0 or n == 0:
            return Status.BAD_CONFIG, b""
        self._start()
        out = self.core.loosen(self._vectors(), k, n, _cut(l, p.L_BITS))
        if out is None:
            return Status.BAD_CONFIG, b""
        self._pending = dp.fmt.from_bits(np.asarray(out.vectors).ravel())
        self.iterations, self.progress, self.running = k, 0, True
        self.outcome = p.pack(
            lay.result_fields,
            _cut(out.cycles, 48),
            _cut(out.move_norm, dp.s_fmt.width),
            _cut(out.delta_min, dp.d2_fmt.width),
            _cut(out.n, 16),
            _cut(out.l, p.L_BITS),
        )
        return Status.OK, self._quote()

    def _read(self, length, data):
        coord = self.layout.coord
        if length != sum(self.layout.read_fields):
            return Status.BAD_LENGTH, b""
        if self._held == _Held.NONE:
            return Status.NO_RESULT, b""
        first, count = p.unpack(self.layout.read_fields, data)
        if first + count > self.nd or count > 0xFFFF // coord:  # the answer's length must fit its field
            return Status.BAD_RANGE, b""
        words = [_cut(w, 8 * coord) for w in self.buffer[first : first + count]]  # sign-extended to W bytes
        return Status.OK, p.pack((coord,) * count, *words) + self._quote()

    def _stats(self, length, data):
        return self._held_fields(length, _Held.RUN, self.stats)

    def _result(self, length, data):
        return self._held_fields(length, _Held.LOOSEN, self.outcome)

    def _held_fields(self, length: int, held: _Held, fields: bytes) -> tuple[Status, bytes]:
        """STATS's and RESULT's answer: ``fields`` and the token where the result held is ``held``'s."""
        if length:
            return Status.BAD_LENGTH, b""
        return (Status.OK, fields + self._quote()) if self._held == held else (Status.NO_RESULT, b"")

    def _status(self, length, data):
        if length:
            return Status.BAD_LENGTH, b""
        self.progress_varies = self.running
        return Status.OK, p.pack(self.layout.status_fields, self.progress, self.running)


def _cut(value: int, bits: int) -> int:
    """``value`` cut to a port of ``bits`` bits (two's complement)."""
    return int(value) % (1 << bits)
