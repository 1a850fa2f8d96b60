"""The host's side of the framed command protocol (docs/protocol.md): frames, a request/response client
with timeouts and retries, and the board's identity.

It mirrors :class:`~spherecode.hw.host_link.HostLink` and speaks to anything with pyserial's
``read``/``write``/``reset_input_buffer``: a board's serial port or the board twin's pseudo-terminal.
Every failure, the port's own included, is a :class:`BoardError` with a one-line message.
"""

from __future__ import annotations

import dataclasses

import numbers
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..hw import protocol as p
from ..hw.config import CoreConfig
from ..hw.fixed import Q
from ..hw.protocol import Capability, Command, State, Status

try:
    from termios import error as _TermiosError  # pyserial's reset_input_buffer() raises it on a dead tty
except ImportError:  # pragma: no cover (not POSIX)
    _TermiosError = OSError

__all__ = [
    "BoardError",
    "Reset",
    "Lost",
    "Refused",
    "Busy",
    "PortError",
    "Identity",
    "Response",
    "Link",
    "Board",
    "Loosened",
    "request_frame",
    "response_frame",
    "open_port",
]

#: Coordinates per LOAD or READ frame: a retry resends at most this many.
CHUNK = 512


class BoardError(Exception):
    """Anything that went wrong on the link, as one line for the user."""


class Reset(BoardError):
    """The board lost its configuration, loaded vectors or result: it was reset (or reprogrammed)."""


class Lost(BoardError):
    """The response to a request that must not be repeated (RUN) was lost or garbled."""


class Refused(BoardError):
    """The board refused a request with :attr:`status` (not a damaged request, not a lost state)."""

    def __init__(self, message: str, status: Status | None = None):  # a default: exceptions must unpickle
        super().__init__(message)
        self.status = status


class Busy(BoardError):
    """The board is in a LOOSEN run (``BUSY``): the request was not executed."""


class PortError(BoardError):
    """The serial port itself failed: it could not be opened, is in use, or closed under the host."""


#: What pyserial (and termios under it) raise for a port that cannot be opened or read, or died: its
#: ``SerialException`` is an ``OSError``; a baud rate beyond a C int is an ``OverflowError``.
_PORT_ERRORS = (OSError, ValueError, OverflowError, _TermiosError)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class Identity:
    """A board's answer to IDENTIFY: protocol version, its core's configuration, clock and baud rate, and
    its capabilities."""

    version: int
    config: CoreConfig
    clock_hz: int
    baud: int
    capabilities: Capability = Capability(0)

    @property
    def fmt(self) -> Q:
        return self.config.fmt

    @property
    def lanes(self) -> int:
        return self.config.lanes

    @property
    def dmax(self) -> int:
        return self.config.dmax

    @property
    def nmax(self) -> int:
        return self.config.nmax

    @property
    def loosens(self) -> bool:
        """Whether the board runs whole loosening runs (LOOSEN)."""
        return bool(self.capabilities & Capability.LOOSEN)

    @classmethod
    def parse(cls, payload: bytes) -> Identity:
        """The identity's 20 bytes (protocol version 4; older boards are refused: rebuild and flash)."""
        if len(payload) < 5 or payload[:4] != p.MAGIC:
            raise BoardError("the device answered, but it is not a spherecode board (wrong identity)")
        version = payload[4]
        if version not in p.VERSIONS:
            raise BoardError(
                f"the board speaks protocol version {version}, this host "
                f"{' or '.join(map(str, p.VERSIONS))}: rebuild and flash"
            )
        if len(payload) != p.Layout.identity:
            raise BoardError("the device answered, but it is not a spherecode board (wrong identity)")
        core = payload[5 : 5 + CoreConfig.IDENTIFY_BYTES]
        try:
            config = CoreConfig.from_identify(core)
        except ValueError as exc:
            raise BoardError(f"the board reports a core this host cannot compute with: {exc}") from None
        rest = payload[5 + CoreConfig.IDENTIFY_BYTES :]
        caps = Capability(rest[8] & Capability.LOOSEN)
        if caps & Capability.LOOSEN:  # the core with the loosening ports (CoreConfig.loosening)
            config = dataclasses.replace(config, loosening=True)
        return cls(version, config, int.from_bytes(rest[:4], "little"), int.from_bytes(rest[4:8], "little"), caps)


@dataclass(frozen=True)
class Response:
    cmd: int
    seq: int
    status: Status
    state: State
    payload: bytes


def _crc(body: bytes) -> bytes:
    return p.CRC.compute(body).to_bytes(2, "big")


def request_frame(cmd: int, seq: int, payload: bytes = b"") -> bytes:
    body = bytes([cmd, seq]) + len(payload).to_bytes(2, "little") + payload
    return bytes([p.SYNC_REQUEST]) + body + _crc(body)


def response_frame(cmd: int, seq: int, status: int, state: int, payload: bytes = b"") -> bytes:
    """A board's response (for tests and fault injection)."""
    body = bytes([cmd, seq, status, state]) + len(payload).to_bytes(2, "little") + payload
    return bytes([p.SYNC_RESPONSE]) + body + _crc(body)


def open_port(port: str, baud: int):
    """Open a serial port with pyserial, exclusively: pyserial's ``exclusive=True`` takes a ``flock`` on it,
    which every other spherecode host (and anything else that locks the port) meets as "in use". A clear
    :class:`PortError` when that fails.

    Not also ``TIOCEXCL``: root ignores it, and on the twin's pty (whose slave the twin itself keeps open) it
    outlives the host that set it — measured: after the host closed the pty, a non-root open still failed
    with EBUSY — so one killed host would lock everyone else out until the twin restarts."""
    import serial

    try:
        return serial.Serial(port, baud, timeout=0.05, write_timeout=10, exclusive=True)
    except _PORT_ERRORS as exc:
        if isinstance(exc, serial.SerialException) and "exclusively lock" in str(exc):
            raise PortError(f"serial port {port} is in use by another process") from None
        raise PortError(f"cannot open serial port {port}: {_line(exc)}") from None


class _Again(Exception):
    """One exchange failed in a way a new attempt may cure; ``lost``: the request may have been executed
    (no answer, or a garbled one), not only refused as damaged."""

    def __init__(self, reason: str, lost: bool):
        super().__init__(reason)
        self.lost = lost


def _bits(state: int) -> str:
    return "+".join(flag.name.lower() for flag in State if state & flag) or "none"


class Link:
    """Requests and responses over ``port``.

    ``timeout`` — seconds to wait for a response beyond the time its bytes need on the wire;
    ``retries`` — extra attempts after a lost, garbled or rejected (BAD_CRC, TIMEOUT, BUSY) exchange. A
    request the board rejected was not executed, so it is retried whatever the command — after BUSY once
    the board's run has ended (:meth:`wait_idle`); after a lost or garbled response only idempotent
    commands (all but RUN and LOOSEN) are repeated — RUN and LOOSEN raise :class:`Lost`, and the caller
    repeats the whole iteration or run from its own copy of the vectors.

    Sequence numbers start at a random value per link, so that the answers to another host's requests
    (which may reach this one on a shared line) rarely carry this host's (command, sequence number).
    """

    def __init__(self, port, baud: int = 3_000_000, timeout: float = 5.0, retries: int = 3):
        self.port, self.baud, self.timeout, self.retries = port, baud, timeout, retries
        self.name = getattr(port, "port", None) or "?"
        self._seq = secrets.randbelow(256)
        self.retried = 0  # exchanges repeated so far (reported in statistics)

    def _wire(self, nbytes: int) -> float:
        return nbytes * 10 / self.baud

    def _port(self, method: str, *args):
        try:
            return getattr(self.port, method)(*args)
        except _PORT_ERRORS as exc:
            raise PortError(f"the serial port {self.name} closed or failed: {_line(exc)}") from None

    def request(
        self,
        cmd: Command,
        payload: bytes = b"",
        expect: int | tuple[int, ...] = 0,
        extra: float = 0.0,
        state: tuple[int, int] | None = None,
        token: bytes | None = None,
    ) -> Response:
        """Send one request, return the board's OK response (``expect`` payload bytes, or one of the lengths
        of a tuple; with ``token``, the payload without the token it ends with), with retries."""
        name = _name(cmd)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            try:
                return self.exchange(cmd, payload, expect, extra, state, token)
            except _Again as exc:
                if exc.lost and cmd not in p.IDEMPOTENT:
                    raise Lost(f"{name}: {exc}") from None
                last = str(exc)
            except Busy as exc:
                self.wait_idle()
                last = str(exc)
        raise BoardError(f"{name}: {last}, {self.retries + 1} attempts")

    def exchange(
        self,
        cmd: Command,
        payload: bytes = b"",
        expect: int | tuple[int, ...] = 0,
        extra: float = 0.0,
        state: tuple[int, int] | None = None,
        token: bytes | None = None,
    ) -> Response:
        """One attempt of :meth:`request`: raises :class:`_Again` where a new attempt may help, else
        :class:`Reset`, :class:`Refused` or :class:`BoardError`. ``state`` = (mask, value): the state bits
        that this host's own requests imply; an OK response whose ``state & mask`` differs shows that
        someone else's requests reached the board in between, and is a :class:`Reset`. ``token``: this
        host's token (:data:`~spherecode.hw.protocol.TOKEN_BYTES` bytes), which the OK response's payload
        must end with (else someone else's CONFIGURE came in between: a :class:`Reset`); it is cut off."""
        name = _name(cmd)
        self._seq = (self._seq + 1) & 0xFF
        frame = request_frame(cmd, self._seq, payload)
        self._port("reset_input_buffer")  # stale bytes of an earlier, abandoned exchange
        self._port("write", frame)
        longest = max(expect) if isinstance(expect, tuple) else expect
        deadline = time.monotonic() + self.timeout + extra + 2 * self._wire(len(frame) + longest + 9)
        try:
            resp = self._receive(cmd, self._seq, deadline)
        except TimeoutError:
            raise _Again(f"no answer within {self.timeout:g} s", lost=True) from None
        if resp.status in (Status.BAD_CRC, Status.TIMEOUT):  # the request was damaged: not executed
            raise _Again(f"the board received a damaged request ({resp.status.name})", lost=False)
        if resp.status == Status.BUSY:
            raise Busy(f"{name}: the board is busy with a loosening run")
        if resp.status in (Status.NOT_LOADED, Status.NO_RESULT, Status.NOT_CONFIGURED):
            raise Reset(f"{name}: the board lost its state ({resp.status.name}): was it reset?")
        if resp.status == Status.BAD_TOKEN:
            raise Reset(
                f"{name}: the board is configured for another token (BAD_TOKEN): is another process using the port?"
            )
        if resp.status != Status.OK:
            raise Refused(f"{name}: the board refused the request ({resp.status.name})", resp.status)
        if len(resp.payload) not in (expect if isinstance(expect, tuple) else (expect,)):
            raise BoardError(f"{name}: {len(resp.payload)} payload bytes, expected {expect}")
        if state is not None and resp.state & state[0] != state[1]:
            raise Reset(
                f"{name}: the board's state is {_bits(resp.state)}, not what this host's requests "
                f"leave ({_bits(state[1])}): is another process using the port?"
            )
        if token is not None:
            if resp.payload[-len(token) :] != token:
                raise Reset(
                    f"{name}: the answer carries another token than this host's: is another process using the port?"
                )
            resp = dataclasses.replace(resp, payload=resp.payload[: -len(token)])
        return resp

    def _read(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            if time.monotonic() > deadline:
                raise TimeoutError
            data += self._port("read", n - len(data))
        return data

    def _receive(self, cmd: int, seq: int, deadline: float) -> Response:
        """The response to (cmd, seq); responses to earlier requests are skipped."""
        while True:
            if self._read(1, deadline)[0] != p.SYNC_RESPONSE:
                continue  # noise between frames
            head = self._read(p.RESPONSE_HEADER - 1, deadline)
            length = int.from_bytes(head[4:6], "little")
            rest = self._read(length + 2, deadline)
            body = head + rest[:-2]
            if _crc(body) != rest[-2:]:
                raise _Again("garbled response (CRC mismatch)", lost=True)
            if head[1] != seq or head[0] != cmd:
                if head[2] in (Status.BAD_CRC, Status.TIMEOUT):
                    return Response(head[0], head[1], Status(head[2]), State(head[3] & 15), rest[:-2])
                continue  # an answer to an earlier request
            try:
                status = Status(head[2])
            except ValueError:
                raise _Again(f"garbled response (unknown status {head[2]})", lost=True) from None
            return Response(head[0], head[1], status, State(head[3] & 15), rest[:-2])

    def status(self) -> tuple[int, bool]:
        """STATUS: (iterations completed in the current or last run, whether a run is in progress)."""
        payload = self.request(Command.STATUS, expect=p.Layout.status).payload
        return int.from_bytes(payload[:4], "little"), bool(payload[4] & 1)

    def wait_idle(self, poll: float = 0.02) -> None:
        """Poll STATUS every ``poll`` s until no run is in progress; :class:`BoardError` when the run's
        progress stands still for ``timeout`` s (an iteration takes milliseconds)."""
        seen, since = None, time.monotonic()
        while True:
            done, running = self.status()
            if not running:
                return
            if done != seen:
                seen, since = done, time.monotonic()
            elif time.monotonic() - since > self.timeout:
                raise BoardError(
                    f"the board's run has made no progress for {self.timeout:g} s ({done} iterations done)"
                )
            time.sleep(poll)


def new_token() -> bytes:
    """A fresh token for one CONFIGURE (docs/protocol.md, "One host per port"): random, so that another
    process's CONFIGURE or LOAD, which cannot know it, shows in the answers."""
    return secrets.token_bytes(p.TOKEN_BYTES)


def _name(cmd: int) -> str:
    return Command(cmd).name if cmd in set(Command) else f"command 0x{cmd:02x}"


class Board:
    """A spherecode board behind a :class:`Link`: identity, configuration, one iteration (:meth:`iterate`) or a
    whole loosening run (:meth:`loosen`, a board with the LOOSEN capability)."""

    def __init__(self, link: Link):
        self.link = link
        self.identity = Identity.parse(
            link.request(Command.IDENTIFY, expect=(p.Layout.identity, p.Layout.identity_v1)).payload
        )
        self.config = self.identity.config
        self.dp = self.config.datapath
        self.layout = p.Layout.of(self.dp)

    def iterate(self, raw: np.ndarray, half_beta: int, step: int) -> tuple[np.ndarray, int, int, int]:
        """One iteration on raw coordinates (N, D) → (new raw coordinates, cycles, raw S, raw δ_min).

        Raises :class:`Reset` (repeat the iteration) where the board's answers show that its state is not
        what this host's requests left: a lost state, state bits or a RUN cycle count that another
        configuration produced (another process on the port)."""
        lay, link = self.layout, self.link
        n, d = raw.shape
        held = (7, State.CONFIGURED | State.RESULT)
        token = new_token()
        link.request(
            Command.CONFIGURE,
            n.to_bytes(2, "little")
            + bytes([d])
            + int(half_beta).to_bytes(lay.half_beta, "little")
            + int(step).to_bytes(lay.step, "little")
            + token,
            state=(7, State.CONFIGURED),
        )
        flat = raw.ravel()
        self._load(flat, token)
        expected = self.config.cycles(n, d)
        stats = link.request(
            Command.RUN, expect=lay.stats, state=held, token=token, extra=expected / max(self.identity.clock_hz, 1)
        ).payload
        cycles = int.from_bytes(stats[:4], "little")
        if cycles != expected:
            raise Reset(
                f"RUN: the board counted {cycles} cycles, N = {n}, D = {d} takes "
                f"{expected}: is another process using the port?"
            )
        new = self._read(n, d, held, token)
        s = int.from_bytes(stats[4 : 4 + lay.move_norm], "little")
        dmin = int.from_bytes(stats[4 + lay.move_norm :], "little")
        return new, cycles, s, dmin

    def loosen(
        self,
        raw: np.ndarray,
        iterations: int,
        n: int = 1,
        l: int = 2 << p.L_FRACTION,
        progress: Callable[[int, int], None] | None = None,
        poll: float = 0.02,
    ) -> Loosened:
        """A whole loosening run on chip (LOOSEN): CONFIGURE, LOAD, LOOSEN, STATUS every ``poll`` s until
        the run ends (``progress(done, iterations)`` after each), RESULT, READ. ``raw`` (N, D): raw
        coordinates; ``iterations`` K ≥ 1; ``n`` and ``l`` (raw UQ18.48) the starting state (the run's
        usual start: n = 1, l = 2).

        Raises :class:`Reset` (repeat the run) where the board's answers show that it lost its state or
        that another host's requests came in between (state bits, or a final n other than n + K),
        :class:`Lost` when LOOSEN's answer is lost (it may have started), :class:`BoardError` when the
        board has no LOOSEN (:attr:`Identity.loosens`) or its run stands still for ``timeout`` s."""
        if not self.identity.loosens:
            raise BoardError(
                "the board runs no whole loosening runs (its IDENTIFY lists no LOOSEN): use --loosening host"
            )
        for name, value, top in (
            ("iterations", iterations, (1 << 32) - 1),
            ("n", n, (1 << 16) - 1),
            ("l", l, (1 << p.L_BITS) - 1),
        ):
            low = 0 if name == "l" else 1
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= top:
                raise ValueError(f"{name} must be an int in {low}..{top}, not {value!r}")
        lay, link = self.layout, self.link
        points, d = raw.shape
        token = new_token()
        link.request(
            Command.CONFIGURE,
            points.to_bytes(2, "little") + bytes([d]) + bytes(lay.half_beta + lay.step) + token,
            state=(15, State.CONFIGURED),
        )
        self._load(raw.ravel(), token)
        link.request(
            Command.LOOSEN,
            int(iterations).to_bytes(4, "little") + int(n).to_bytes(2, "little") + int(l).to_bytes(p.L_BYTES, "little"),
            expect=p.TOKEN_BYTES,
            state=(15, State.CONFIGURED | State.RUNNING),
            token=token,
        )
        seen, since = None, time.monotonic()
        while True:
            resp = link.request(Command.STATUS, expect=lay.status)
            done, running = int.from_bytes(resp.payload[:4], "little"), bool(resp.payload[4] & 1)
            if not running and resp.state & 15 == State.CONFIGURED | State.RUNNING:
                continue  # the run ended between the header's state and the payload's flag: ask again
            want = State.CONFIGURED | (State.RUNNING if running else State.RESULT)
            if resp.state & 15 != want:
                raise Reset(f"STATUS: the board's state is {_bits(resp.state)}, not {_bits(want)}: was it reset?")
            if progress is not None:
                progress(min(done, iterations), iterations)
            if not running:
                break
            if done != seen:
                seen, since = done, time.monotonic()
            elif time.monotonic() - since > link.timeout:
                raise BoardError(
                    f"LOOSEN: the run has made no progress for {link.timeout:g} s "
                    f"({done} of {iterations} iterations done)"
                )
            time.sleep(poll)
        held = (15, State.CONFIGURED | State.RESULT)
        out = link.request(Command.RESULT, expect=lay.result, state=held, token=token).payload
        fields = np.cumsum([0, 6, lay.move_norm, lay.delta_min, 2, p.L_BYTES])
        cycles, s, dmin, final_n, final_l = (
            int.from_bytes(out[a:b], "little") for a, b in zip(fields[:-1], fields[1:])
        )
        if final_n != (n + iterations) & 0xFFFF:
            raise Reset(
                f"RESULT: the run ended at n = {final_n}, not {n} + {iterations}: is another process using the port?"
            )
        return Loosened(self._read(points, d, held, token), cycles, s, dmin, final_n, final_l % (1 << p.L_BITS))

    def _read(self, n: int, d: int, held: tuple[int, int], token: bytes) -> np.ndarray:
        """READ all N·D coordinates of the held result of ``token``, CHUNK per request → raw (N, D)."""
        link, lay = self.link, self.layout
        out = []
        for k in range(0, n * d, CHUNK):
            count = min(CHUNK, n * d - k)
            data = link.request(
                Command.READ,
                k.to_bytes(2, "little") + count.to_bytes(2, "little"),
                expect=lay.read(count),
                state=held,
                token=token,
            ).payload
            out.append(np.frombuffer(data, dtype=np.uint8).reshape(count, lay.coord))
        return _words(np.concatenate(out), self.dp.fmt).reshape(n, d)

    def _load(self, flat: np.ndarray, token: bytes) -> None:
        """LOAD all coordinates, CHUNK per request, each quoting ``token``. A failed LOAD makes the board forget its
        loaded prefix
        (docs/protocol.md), so after any failure — a damaged request (BAD_CRC, TIMEOUT), a lost or garbled
        answer, or BAD_RANGE for a LOAD past the first (the prefix is gone) — the load starts again from
        index 0, at most ``retries`` times."""
        link, lay = self.link, self.layout
        mask = (1 << (8 * lay.coord)) - 1
        chunks = [
            token
            + k.to_bytes(2, "little")
            + b"".join((int(x) & mask).to_bytes(lay.coord, "little") for x in flat[k : k + CHUNK])
            for k in range(0, flat.size, CHUNK)
        ]
        i, failures = 0, 0
        while i < len(chunks):
            last = i == len(chunks) - 1
            try:  # before the last chunk the prefix may already be whole, from an earlier pass
                link.exchange(
                    Command.LOAD,
                    chunks[i],
                    state=(7, State.CONFIGURED | State.LOADED)
                    if last
                    else (State.CONFIGURED | State.RESULT, State.CONFIGURED),
                )
                i += 1
            except (_Again, Refused) as exc:
                if isinstance(exc, Refused) and (exc.status != Status.BAD_RANGE or i == 0):
                    raise
                failures += 1
                reason = str(exc).removeprefix("LOAD: ")
                if failures > link.retries:
                    raise BoardError(f"LOAD: {reason}, {failures} attempts from index 0") from None
                link.retried += 1
                i = 0


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


def _words(octets: np.ndarray, fmt) -> np.ndarray:
    """Little-endian byte rows → raw values of the format ``fmt`` (:class:`~spherecode.hw.fixed.Q`; int64)."""
    value = np.zeros(len(octets), dtype=np.int64)
    for b in range(octets.shape[1] - 1, -1, -1):
        value = (value << 8) | octets[:, b].astype(np.int64)
    return fmt.from_bits(value)
