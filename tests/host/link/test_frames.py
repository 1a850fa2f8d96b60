"""The board's identity as the host reads it (:class:`~spherecode.host.link.frames.Identity`)."""

import dataclasses

import pytest

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command
from spherecode.host.link import BoardError, Identity


def test_identity():
    from spherecode.hw.config import CoreConfig
    from spherecode.hw.fixed import Q

    config = CoreConfig(Q(2, 20), 1024, 3, 1)
    ident = Identity.parse(p.identity(config, 75_000_000, 3_000_000))
    assert ident.config == config and (ident.clock_hz, ident.baud) == (75_000_000, 3_000_000)
    assert (ident.fmt, ident.lanes, ident.dmax, ident.nmax) == (Q(2, 20), 1, 3, 1024)
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(b"ABCD" + bytes(15))
    bad = bytearray(p.identity(config, 75_000_000, 3_000_000))
    bad[8] = 9  # Dmax 9: no datapath for it
    with pytest.raises(BoardError, match="cannot compute with: dmax must be"):
        Identity.parse(bytes(bad))


def test_identity_versions():
    """Version 4 (tokens) is accepted; 1 and 2 (S rounded to f bits), 3 (no token) and later versions
    are refused."""
    from spherecode.hw.config import CoreConfig

    config = CoreConfig("Q2.20", 1024, 3, 2)
    v4 = Identity.parse(p.identity(config, 60_000_000, 3_000_000, p.Capability.LOOSEN))
    assert v4.version == 4 and v4.loosens and v4.config == dataclasses.replace(config, loosening=True)
    plain = Identity.parse(p.identity(config, 60_000_000, 3_000_000))
    assert not plain.config.loosening and (plain.clock_hz, plain.baud) == (60_000_000, 3_000_000)
    for version, size in ((1, 19), (2, 20), (3, 20), (5, 20)):
        old = bytearray(p.identity(config, 60_000_000, 3_000_000)[:size])
        old[4] = version
        with pytest.raises(BoardError, match=f"protocol version {version}, this host 4: rebuild and flash"):
            Identity.parse(bytes(old))
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(p.identity(config, 60_000_000, 3_000_000) + b"\x00\x00")
    with pytest.raises(BoardError, match="not a spherecode board"):
        Identity.parse(b"SPHX" + p.identity(config, 60_000_000, 3_000_000)[4:])


def test_command_names_and_unknown_commands():
    from spherecode.host.link.frames import command_name

    assert [command_name(c) for c in (Command.IDENTIFY, Command.LOOSEN)] == ["IDENTIFY", "LOOSEN"]
    assert command_name(0x0A) == "command 0x0a" and command_name(0xFF) == "command 0xff"
