"""A request/response client over anything with pyserial's ``read``/``write``/``reset_input_buffer`` (a
board's serial port or the twin's pseudo-terminal), with timeouts and retries: :class:`Link`."""

from __future__ import annotations

import dataclasses
import secrets
import time

from ...hw.board_link import protocol as p
from ...hw.board_link.protocol import Command, State, Status, frame_crc, request_frame
from .errors import PORT_ERRORS, BoardError, Busy, Lost, PortError, Refused, Reset, one_line
from .frames import Response, command_name


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
    except PORT_ERRORS as exc:
        if isinstance(exc, serial.SerialException) and "exclusively lock" in str(exc):
            raise PortError(f"serial port {port} is in use by another process") from None
        raise PortError(f"cannot open serial port {port}: {one_line(exc)}") from None


class Again(Exception):
    """One exchange failed in a way a new attempt may cure; ``lost``: the request may have been executed
    (no answer, or a garbled one), not only refused as damaged."""

    def __init__(self, reason: str, lost: bool):
        super().__init__(reason)
        self.lost = lost


def state_bits(state: int) -> str:
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
        except PORT_ERRORS as exc:
            raise PortError(f"the serial port {self.name} closed or failed: {one_line(exc)}") from None

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
        name = command_name(cmd)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            try:
                return self.exchange(cmd, payload, expect, extra, state, token)
            except Again as exc:
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
        """One attempt of :meth:`request`: raises :class:`Again` where a new attempt may help, else
        :class:`Reset`, :class:`Refused` or :class:`BoardError`. ``state`` = (mask, value): the state bits
        that this host's own requests imply; an OK response whose ``state & mask`` differs shows that
        someone else's requests reached the board in between, and is a :class:`Reset`. ``token``: this
        host's token (:data:`~spherecode.hw.board_link.protocol.TOKEN_BYTES` bytes), which the OK response's payload
        must end with (else someone else's CONFIGURE came in between: a :class:`Reset`); it is cut off."""
        name = command_name(cmd)
        self._seq = (self._seq + 1) & 0xFF
        frame = request_frame(cmd, self._seq, payload)
        self._port("reset_input_buffer")  # stale bytes of an earlier, abandoned exchange
        self._port("write", frame)
        longest = max(expect) if isinstance(expect, tuple) else expect
        deadline = time.monotonic() + self.timeout + extra + 2 * self._wire(len(frame) + longest + 9)
        try:
            resp = self._receive(cmd, self._seq, deadline)
        except TimeoutError:
            raise Again(f"no answer within {self.timeout:g} s", lost=True) from None
        if resp.status in p.DAMAGED:  # not executed
            raise Again(f"the board received a damaged request ({resp.status.name})", lost=False)
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
                f"{name}: the board's state is {state_bits(resp.state)}, not what this host's requests "
                f"leave ({state_bits(state[1])}): is another process using the port?"
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
            if frame_crc(body) != rest[-2:]:
                raise Again("garbled response (CRC mismatch)", lost=True)
            if head[1] != seq or head[0] != cmd:
                if head[2] in p.DAMAGED:
                    return Response(head[0], head[1], Status(head[2]), State(head[3] & 15), rest[:-2])
                continue  # an answer to an earlier request
            try:
                status = Status(head[2])
            except ValueError:
                raise Again(f"garbled response (unknown status {head[2]})", lost=True) from None
            return Response(head[0], head[1], status, State(head[3] & 15), rest[:-2])

    def status(self) -> tuple[int, bool]:
        """STATUS: (iterations completed in the current or last run, whether a run is in progress)."""
        done, running = p.unpack(p.Layout.status_fields, self.request(Command.STATUS, expect=p.Layout.status).payload)
        return done, bool(running & 1)

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
