"""The host link's framed command protocol (docs/protocol.md), byte layout shared by gateware and host.

A request is ``A5 cmd seq len_lo len_hi payload… crc_hi crc_lo``; a response is ``5A cmd seq status state
len_lo len_hi payload… crc_hi crc_lo``. The CRC is CRC-16/CCITT-FALSE (Amaranth's ``crc.catalog``) over
every byte after the sync byte, sent most significant byte first so that a receiver running the CRC over
the CRC bytes too ends on the residue 0. Every other multi-byte field is little-endian.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from amaranth.lib import crc

__all__ = ["SYNC_REQUEST", "SYNC_RESPONSE", "VERSION", "MAGIC", "CRC", "Command", "Status", "State",
           "Layout", "REQUEST_HEADER", "RESPONSE_HEADER"]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
VERSION = 1
MAGIC = b"SPHC"
#: poly 0x1021, init 0xFFFF: unlike XMODEM's init 0, a run of leading zero bytes changes the CRC.
CRC = crc.catalog.CRC16_CCITT_FALSE(data_width=8)
#: Bytes before the payload, sync byte included.
REQUEST_HEADER = 5
RESPONSE_HEADER = 7


class Command(enum.IntEnum):
    IDENTIFY = 0x01   #: → identity (:meth:`Layout.identity`)
    CONFIGURE = 0x02  #: N (2), D (1), β/2, 1/(2β) → nothing
    LOAD = 0x03       #: first index (2), coordinates → nothing
    RUN = 0x04        #: → statistics: cycles (4), S, δ_min
    READ = 0x05       #: first index (2), count (2) → coordinates
    STATS = 0x06      #: → statistics of the last RUN


#: Commands a host may repeat after a lost or garbled response: they leave the board as one run would.
IDEMPOTENT = frozenset({Command.IDENTIFY, Command.CONFIGURE, Command.LOAD, Command.READ, Command.STATS})


class Status(enum.IntEnum):
    OK = 0x00
    BAD_CRC = 0x01          #: the request's CRC did not match
    TIMEOUT = 0x02          #: the request stopped before its length was reached
    UNKNOWN_COMMAND = 0x03
    BAD_LENGTH = 0x04       #: payload length wrong for the command
    BAD_CONFIG = 0x05       #: N or D outside the board's range
    NOT_CONFIGURED = 0x06   #: LOAD before CONFIGURE
    NOT_LOADED = 0x07       #: RUN before all N·D coordinates were loaded
    NO_RESULT = 0x08        #: READ or STATS without a RUN since the last CONFIGURE
    BAD_RANGE = 0x09        #: LOAD or READ outside 0 … N·D, or a LOAD that skips ahead of the loaded prefix


class State(enum.IntFlag):
    CONFIGURED = 1
    LOADED = 2
    RESULT = 4


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
        return cls(_bytes(dp.fmt.width), _bytes(dp.half_beta_fmt.width), _bytes(dp.step_fmt.width),
                   _bytes(dp.s_fmt.width), _bytes(dp.d2_fmt.width))

    @property
    def configure(self) -> int:
        return 3 + self.half_beta + self.step

    @property
    def stats(self) -> int:
        return 4 + self.move_norm + self.delta_min

    #: magic (4), version, format i, format f, lanes, dmax, nmax (2), clock Hz (4), baud (4)
    identity = 19


def identity(config, clock_hz: int, baud: int) -> bytes:
    """The IDENTIFY payload of a core ``config`` (:class:`~.config.CoreConfig`, whose
    :meth:`~.config.CoreConfig.to_identify` gives the format, lanes, Dmax and Nmax fields)."""
    return (MAGIC + bytes([VERSION]) + config.to_identify()
            + int(clock_hz).to_bytes(4, "little") + int(baud).to_bytes(4, "little"))
