"""The protocol's frames on the host (docs/protocol.md): a response as received, and the board's identity. The
frames' bytes are built and checked by :mod:`~spherecode.hw.board_link.protocol`'s functions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...hw.board_link import protocol as p
from ...hw.config import CoreConfig
from ...hw.fixed import Q
from ...hw.board_link.protocol import Capability, Command, State, Status
from .errors import BoardError


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


def command_name(cmd: int) -> str:
    return Command(cmd).name if cmd in set(Command) else f"command 0x{cmd:02x}"
