"""The host's side of the framed command protocol (docs/protocol.md): frames, a request/response client
with timeouts and retries, and the board's identity.

It mirrors :class:`~spherecode.hw.host_link.HostLink` and speaks to anything with pyserial's
``read``/``write``/``reset_input_buffer``: a board's serial port or the board twin's pseudo-terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..hw import protocol as p
from ..hw.fixed import Q
from ..hw.protocol import Command, State, Status

__all__ = ["BoardError", "Reset", "Lost", "Identity", "Response", "Link", "request_frame", "response_frame", "open_port"]

#: Coordinates per LOAD or READ frame: a retry resends at most this many.
CHUNK = 512


class BoardError(Exception):
    """Anything that went wrong on the link, as one line for the user."""


class Reset(BoardError):
    """The board lost its configuration, loaded vectors or result: it was reset (or reprogrammed)."""


class Lost(BoardError):
    """The response to a request that must not be repeated (RUN) was lost or garbled."""


@dataclass(frozen=True)
class Identity:
    version: int
    fmt: Q
    lanes: int
    dmax: int
    nmax: int
    clock_hz: int
    baud: int

    @classmethod
    def parse(cls, payload: bytes) -> Identity:
        if len(payload) != p.Layout.identity or payload[:4] != p.MAGIC:
            raise BoardError("the device answered, but it is not a spherecode board (wrong identity)")
        version, i, f, lanes, dmax = payload[4:9]
        if version != p.VERSION:
            raise BoardError(f"the board speaks protocol version {version}, this host {p.VERSION}: rebuild and flash")
        return cls(version, Q(i, f), lanes, dmax, int.from_bytes(payload[9:11], "little"),
                   int.from_bytes(payload[11:15], "little"), int.from_bytes(payload[15:19], "little"))


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
    """Open a serial port with pyserial; a clear :class:`BoardError` when that fails."""
    import serial

    try:
        return serial.Serial(port, baud, timeout=0.05, write_timeout=10)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise BoardError(f"cannot open serial port {port}: {exc}") from None


class _Garbled(Exception):
    pass


class Link:
    """Requests and responses over ``port``.

    ``timeout`` — seconds to wait for a response beyond the time its bytes need on the wire;
    ``retries`` — extra attempts after a lost, garbled or rejected (BAD_CRC, TIMEOUT) exchange. A request
    the board rejected was not executed, so it is retried whatever the command; after a lost or garbled
    response only idempotent commands (all but RUN) are repeated — RUN raises, and the caller repeats the
    whole iteration from its own copy of the vectors.
    """

    def __init__(self, port, baud: int = 3_000_000, timeout: float = 5.0, retries: int = 3):
        self.port, self.baud, self.timeout, self.retries = port, baud, timeout, retries
        self._seq = 0
        self.retried = 0  # exchanges repeated so far (reported in statistics)

    def _wire(self, nbytes: int) -> float:
        return nbytes * 10 / self.baud

    def request(self, cmd: Command, payload: bytes = b"", expect: int = 0, extra: float = 0.0) -> Response:
        """Send one request, return the board's OK response (``expect`` payload bytes)."""
        last = "no answer"
        name = Command(cmd).name if cmd in set(Command) else f"command 0x{cmd:02x}"
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            self._seq = (self._seq + 1) & 0xFF
            frame = request_frame(cmd, self._seq, payload)
            self.port.reset_input_buffer()  # stale bytes of an earlier, abandoned exchange
            self.port.write(frame)
            deadline = time.monotonic() + self.timeout + extra + 2 * self._wire(len(frame) + expect + 9)
            try:
                resp = self._receive(cmd, self._seq, deadline)
            except TimeoutError:
                last = f"no answer within {self.timeout:g} s"
                if cmd in p.IDEMPOTENT:
                    continue
                raise Lost(f"{name}: {last}") from None
            except _Garbled as exc:
                last = f"garbled response ({exc})"
                if cmd in p.IDEMPOTENT:
                    continue
                raise Lost(f"{name}: {last}") from None
            if resp.status in (Status.BAD_CRC, Status.TIMEOUT):  # the request was damaged: not executed
                last = f"the board received a damaged request ({resp.status.name})"
                continue
            if resp.status in (Status.NOT_LOADED, Status.NO_RESULT, Status.NOT_CONFIGURED):
                raise Reset(f"{name}: the board lost its state ({resp.status.name}): was it reset?")
            if resp.status != Status.OK:
                raise BoardError(f"{name}: the board refused the request ({resp.status.name})")
            if len(resp.payload) != expect:
                raise BoardError(f"{name}: {len(resp.payload)} payload bytes, expected {expect}")
            return resp
        raise BoardError(f"{name}: {last}, {self.retries + 1} attempts")

    def _read(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            if time.monotonic() > deadline:
                raise TimeoutError
            data += self.port.read(n - len(data))
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
                raise _Garbled("CRC mismatch")
            if head[1] != seq or head[0] != cmd:
                if head[2] in (Status.BAD_CRC, Status.TIMEOUT):
                    return Response(head[0], head[1], Status(head[2]), State(head[3] & 7), rest[:-2])
                continue  # an answer to an earlier request
            try:
                status = Status(head[2])
            except ValueError:
                raise _Garbled(f"unknown status {head[2]}") from None
            return Response(head[0], head[1], status, State(head[3] & 7), rest[:-2])


class Board:
    """A spherecode board behind a :class:`Link`: identity, configuration, one iteration."""

    def __init__(self, link: Link):
        self.link = link
        self.identity = Identity.parse(link.request(Command.IDENTIFY, expect=p.Layout.identity).payload)
        from ..hw.datapath import Datapath

        ident = self.identity
        self.dp = Datapath(ident.fmt, ident.nmax, ident.dmax)
        self.layout = p.Layout.of(self.dp)

    def iterate(self, raw: np.ndarray, half_beta: int, step: int) -> tuple[np.ndarray, int, int, int]:
        """One iteration on raw coordinates (N, D) → (new raw coordinates, cycles, raw S, raw δ_min)."""
        lay, link = self.layout, self.link
        n, d = raw.shape
        link.request(Command.CONFIGURE, n.to_bytes(2, "little") + bytes([d])
                     + int(half_beta).to_bytes(lay.half_beta, "little") + int(step).to_bytes(lay.step, "little"))
        flat = raw.ravel()
        mask = (1 << (8 * lay.coord)) - 1
        for k in range(0, flat.size, CHUNK):
            words = b"".join((int(x) & mask).to_bytes(lay.coord, "little") for x in flat[k:k + CHUNK])
            link.request(Command.LOAD, k.to_bytes(2, "little") + words)
        cycles_bound = n * d + (n + 1) * n + 1000  # L = 1 and a generous tail: only sets the deadline
        stats = link.request(Command.RUN, expect=lay.stats,
                             extra=cycles_bound / max(self.identity.clock_hz, 1)).payload
        out = []
        for k in range(0, flat.size, CHUNK):
            count = min(CHUNK, flat.size - k)
            data = link.request(Command.READ, k.to_bytes(2, "little") + count.to_bytes(2, "little"),
                                expect=count * lay.coord).payload
            out.append(np.frombuffer(data, dtype=np.uint8).reshape(count, lay.coord))
        new = _words(np.concatenate(out), self.dp.fmt.width).reshape(n, d)
        cycles = int.from_bytes(stats[:4], "little")
        s = int.from_bytes(stats[4:4 + lay.move_norm], "little")
        dmin = int.from_bytes(stats[4 + lay.move_norm:], "little")
        return new, cycles, s, dmin


def _words(octets: np.ndarray, width: int) -> np.ndarray:
    """Little-endian byte rows → signed raw values of ``width`` bits (int64)."""
    value = np.zeros(len(octets), dtype=np.int64)
    for b in range(octets.shape[1] - 1, -1, -1):
        value = (value << 8) | octets[:, b].astype(np.int64)
    value &= (1 << width) - 1
    return np.where(value >> (width - 1), value - (1 << width), value)
