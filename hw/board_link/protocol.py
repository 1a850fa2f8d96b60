"""The host link's framed command protocol (docs/protocol.md), byte layout shared by gateware and host.

A request is ``A5 cmd seq len_lo len_hi payload… crc_hi crc_lo``; a response is ``5A cmd seq status state
len_lo len_hi payload… crc_hi crc_lo``. The CRC is CRC-16/CCITT-FALSE (Amaranth's ``crc.catalog``) over
every byte after the sync byte, sent most significant byte first so that a receiver running the CRC over
the CRC bytes too ends on the residue 0. Every other multi-byte field is little-endian.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass

from amaranth.lib import crc

__all__ = [
    "SYNC_REQUEST",
    "SYNC_RESPONSE",
    "VERSION",
    "VERSIONS",
    "MAGIC",
    "CRC",
    "Command",
    "Status",
    "DAMAGED",
    "State",
    "Capability",
    "Layout",
    "REQUEST_HEADER",
    "RESPONSE_HEADER",
    "TOKEN_BYTES",
    "LOAD_PREFIX",
    "L_FRACTION",
    "L_BITS",
    "L_BYTES",
    "pack",
    "unpack",
    "frame_crc",
    "request_frame",
    "response_frame",
]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
VERSION = 4
#: Versions a host understands. 1 (the design before LOOSEN, a 19-byte identity) and 2 sent S rounded to
#: f fraction bits; 3 had no token (its frames are 4 bytes shorter); 4 ties answers to the host's token.
VERSIONS = (4,)
MAGIC = b"SPHC"
#: poly 0x1021, init 0xFFFF: unlike XMODEM's init 0, a run of leading zero bytes changes the CRC.
CRC = crc.catalog.CRC16_CCITT_FALSE(data_width=8)
#: The token: 4 bytes that CONFIGURE sets, that every LOAD must quote, and that the answers to RUN, STATS,
#: READ, LOOSEN and RESULT end with.
TOKEN_BYTES = 4
#: Bytes before the payload, sync byte included.
REQUEST_HEADER = 5
RESPONSE_HEADER = 7
#: LOAD's payload before its coordinates: the token, then the first index k (2).
LOAD_PREFIX = TOKEN_BYTES + 2


class Command(enum.IntEnum):
    IDENTIFY = 0x01  #: → identity (:meth:`Layout.identity`)
    CONFIGURE = 0x02  #: N (2), D (1), β/2, 1/(2β), token (4) → nothing
    LOAD = 0x03  #: token (4), first index (2), coordinates → nothing
    RUN = 0x04  #: → statistics: cycles (4), S, δ_min, token (4)
    READ = 0x05  #: first index (2), count (2) → coordinates, token (4)
    STATS = 0x06  #: → statistics of the last RUN, token (4)
    LOOSEN = 0x07  #: iterations K (4), n (2), l (9) → token (4): starts a whole loosening run
    STATUS = 0x08  #: → progress (4), running (1)
    RESULT = 0x09  #: → the last LOOSEN's result: cycles (6), S, δ_min, n (2), l (9), token (4)


#: Commands a host may repeat after a lost or garbled response: they leave the board as one run would.
IDEMPOTENT = frozenset(
    {Command.IDENTIFY, Command.CONFIGURE, Command.LOAD, Command.READ, Command.STATS, Command.STATUS, Command.RESULT}
)


class Status(enum.IntEnum):
    OK = 0x00
    BAD_CRC = 0x01  #: the request's CRC did not match
    TIMEOUT = 0x02  #: the request stopped before its length was reached
    UNKNOWN_COMMAND = 0x03
    BAD_LENGTH = 0x04  #: payload length wrong for the command
    BAD_CONFIG = 0x05  #: N or D outside the board's range
    NOT_CONFIGURED = 0x06  #: LOAD before CONFIGURE
    NOT_LOADED = 0x07  #: RUN before all N·D coordinates were loaded
    NO_RESULT = 0x08  #: READ or STATS without a RUN since the last CONFIGURE
    BAD_RANGE = 0x09  #: LOAD or READ outside 0 … N·D, or a LOAD that skips ahead of the loaded prefix
    BUSY = 0x0A  #: a LOOSEN run is in progress: only IDENTIFY and STATUS are executed
    BAD_TOKEN = 0x0B  #: a LOAD that quotes another token than the last CONFIGURE's: nothing written


#: The parser's verdicts on a damaged request (its CRC, or its bytes stopped arriving): it was not executed,
#: and the answer echoes whatever command and sequence number arrived.
DAMAGED = frozenset({Status.BAD_CRC, Status.TIMEOUT})


class State(enum.IntFlag):
    CONFIGURED = 1
    LOADED = 2
    RESULT = 4
    RUNNING = 8


class Capability(enum.IntFlag):
    """IDENTIFY's capability byte (since protocol version 2)."""

    LOOSEN = 1  #: the core runs whole loosening runs: LOOSEN and RESULT


#: LOOSEN's and RESULT's l: UQ18.48, 66 bits in 9 bytes (the bits above are ignored).
L_FRACTION = 48
L_BITS = 18 + L_FRACTION
L_BYTES = 9


def _bytes(bits: int) -> int:
    return -(-bits // 8)


@dataclass(frozen=True)
class Layout:
    """Byte widths of one configuration's fields (a coordinate, β/2, 1/(2β), S, δ_min)."""

    coord: int
    half_beta: int
    step: int
    move_norm: int
    delta_min: int

    @classmethod
    def of(cls, dp) -> Layout:
        """The layout of a :class:`~spherecode.hw.datapath.Datapath`."""
        return cls(
            _bytes(dp.fmt.width),
            _bytes(dp.half_beta_fmt.width),
            _bytes(dp.step_fmt.width),
            _bytes(dp.s_fmt.width),
            _bytes(dp.d2_fmt.width),
        )

    @property
    def configure_fields(self) -> tuple[int, ...]:
        """CONFIGURE's fields before the token (:func:`pack`, :func:`unpack`): N (2), D (1), β/2, 1/(2β)."""
        return (2, 1, self.half_beta, self.step)

    @property
    def configure(self) -> int:
        """CONFIGURE's payload: N (2), D (1), β/2, 1/(2β), the token."""
        return sum(self.configure_fields) + TOKEN_BYTES

    @property
    def stats_fields(self) -> tuple[int, ...]:
        """RUN's and STATS's fields before the token: cycles (4), S, δ_min."""
        return (4, self.move_norm, self.delta_min)

    @property
    def stats(self) -> int:
        """RUN's and STATS's payload: cycles (4), S, δ_min, the token."""
        return sum(self.stats_fields) + TOKEN_BYTES

    @property
    def result_fields(self) -> tuple[int, ...]:
        """RESULT's fields before the token: cycles (6), S, δ_min, n (2), l."""
        return (6, self.move_norm, self.delta_min, 2, L_BYTES)

    @property
    def result(self) -> int:
        """RESULT's payload: cycles (6), S, δ_min, n (2), l, the token."""
        return sum(self.result_fields) + TOKEN_BYTES

    def read(self, count: int) -> int:
        """READ's payload for ``count`` coordinates: the coordinates, the token."""
        return count * self.coord + TOKEN_BYTES

    #: magic (4), version, format i, format f, lanes, dmax, nmax (2), clock Hz (4), baud (4), capabilities
    identity = 20
    #: version 1's identity (no capability byte): refused, but read, so that the message names the version
    identity_v1 = 19
    #: LOOSEN's fields: iterations K (4), n (2), l
    loosen_fields = (4, 2, L_BYTES)
    loosen = sum(loosen_fields)
    #: STATUS's answer's fields: progress (4), running (1)
    status_fields = (4, 1)
    status = sum(status_fields)
    #: READ's request's fields: first index k (2), count m (2)
    read_fields = (2, 2)


def pack(sizes: tuple[int, ...], *values: int) -> bytes:
    """``values`` as consecutive little-endian fields of ``sizes`` bytes (a :class:`Layout`'s ``…_fields``)."""
    if len(values) != len(sizes):
        raise ValueError(f"values must be {len(sizes)}, one per field, not {len(values)}")
    return b"".join(int(value).to_bytes(size, "little") for value, size in zip(values, sizes))


def unpack(sizes: tuple[int, ...], payload: bytes) -> tuple[int, ...]:
    """The consecutive little-endian fields of ``sizes`` bytes at the start of ``payload``."""
    ends = list(itertools.accumulate(sizes))
    if len(payload) < ends[-1]:
        raise ValueError(f"payload must hold {ends[-1]} bytes, not {len(payload)}")
    return tuple(int.from_bytes(payload[end - size : end], "little") for end, size in zip(ends, sizes))


def identity(config, clock_hz: int, baud: int, capabilities: Capability | int = 0) -> bytes:
    """The IDENTIFY payload of a core ``config`` (:class:`~.config.CoreConfig`, whose
    :meth:`~.config.CoreConfig.to_identify` gives the format, lanes, Dmax and Nmax fields)."""
    return (
        MAGIC
        + bytes([VERSION])
        + config.to_identify()
        + int(clock_hz).to_bytes(4, "little")
        + int(baud).to_bytes(4, "little")
        + bytes([int(capabilities)])
    )


def frame_crc(body: bytes) -> bytes:
    """The CRC of a frame's ``body`` (every byte after the sync byte), most significant byte first."""
    return CRC.compute(body).to_bytes(2, "big")


def request_frame(cmd: int, seq: int, payload: bytes = b"") -> bytes:
    """A request: sync, command, sequence number, payload length, payload, CRC."""
    body = bytes([cmd, seq]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SYNC_REQUEST]) + body + frame_crc(body)


def response_frame(cmd: int, seq: int, status: int, state: int, payload: bytes = b"") -> bytes:
    """A response: sync, command and sequence number echoed, status, state, payload length, payload, CRC."""
    body = bytes([cmd, seq, status, state]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SYNC_RESPONSE]) + body + frame_crc(body)
