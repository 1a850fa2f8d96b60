"""The protocol's shared constants and layouts (hw/board_link/protocol.py), against docs/protocol.md's tables."""

import pytest

from spherecode.hw.board_link import protocol as p
from spherecode.hw.config import CoreConfig
from spherecode.hw.board_link.protocol import IDEMPOTENT, Capability, Command, Layout, Status


def test_codes_are_distinct_and_the_documented_ones():
    assert [int(c) for c in Command] == list(range(1, 10))
    assert [int(s) for s in Status] == list(range(0, 12))
    assert Status.BAD_TOKEN == 0x0B and Capability.LOOSEN == 1
    assert (p.SYNC_REQUEST, p.SYNC_RESPONSE) == (0xA5, 0x5A)
    assert IDEMPOTENT == set(Command) - {Command.RUN, Command.LOOSEN}  # the two that change the vectors
    assert p.DAMAGED == {Status.BAD_CRC, Status.TIMEOUT}
    assert (p.REQUEST_HEADER, p.RESPONSE_HEADER, p.TOKEN_BYTES, p.LOAD_PREFIX) == (5, 7, 4, 6)


def test_the_crc_is_ccitt_false():
    assert p.CRC.compute(b"123456789") == 0x29B1
    assert p.frame_crc(b"123456789") == bytes([0x29, 0xB1])  # most significant byte first


def test_frames_layout_and_crc_residue():
    """docs/protocol.md, "Frames": the CRC over everything after the sync byte, the CRC included, is 0."""
    frame = p.request_frame(Command.LOAD, 7, b"\x00\x00\x01\x02\x03")
    assert frame[:5] == bytes([0xA5, 0x03, 7, 5, 0]) and frame[5:-2] == b"\x00\x00\x01\x02\x03"
    assert len(frame) == p.REQUEST_HEADER + 5 + 2 and p.CRC.compute(frame[1:]) == 0  # what the gateware checks
    answer = p.response_frame(Command.READ, 7, Status.BAD_RANGE, 3, b"\x09" * 300)
    assert answer[:7] == bytes([0x5A, 0x05, 7, 0x09, 3]) + (300).to_bytes(2, "little")
    assert len(answer) == p.RESPONSE_HEADER + 300 + 2 and p.CRC.compute(answer[1:]) == 0
    assert p.request_frame(Command.RUN, 0) == bytes([0xA5, 0x04, 0, 0, 0]) + p.frame_crc(bytes([0x04, 0, 0, 0]))


def test_layout_of_the_q344_board_matches_the_documented_widths():
    """docs/protocol.md, "Field widths", for Q3.44 and Nmax 1024: W = 6, 1/(2β) 7 bytes, S 13, δ_min 6."""
    lay = Layout.of(CoreConfig("Q3.44", 1024, 3, 2).datapath)
    assert (lay.coord, lay.half_beta, lay.step, lay.move_norm, lay.delta_min) == (6, 5, 7, 13, 6)
    assert lay.configure == 3 + 5 + 7 + 4
    assert lay.stats == 4 + 13 + 6 + 4
    assert lay.result == 6 + 13 + 6 + 2 + 9 + 4
    assert lay.read(512) == 512 * 6 + 4 and lay.read(0) == 4
    assert (Layout.identity, Layout.identity_v1, Layout.loosen, Layout.status) == (20, 19, 15, 5)


def test_identity_bytes():
    config = CoreConfig("Q2.20", 256, 4, 3)
    ident = p.identity(config, 60_000_000, 3_000_000, Capability.LOOSEN)
    assert len(ident) == Layout.identity and ident[:4] == p.MAGIC and ident[4] == p.VERSION == 4
    assert ident[5:11] == config.to_identify() == bytes([2, 20, 3, 4]) + (256).to_bytes(2, "little")
    assert int.from_bytes(ident[11:15], "little") == 60_000_000 and int.from_bytes(ident[15:19], "little") == 3_000_000
    assert ident[19] == 1 and p.identity(config, 1, 1)[19] == 0
    assert CoreConfig.from_identify(ident[5:11]) == config


def test_fields_are_the_documented_ones():
    """docs/protocol.md, "Commands": each payload's fields, in order, before the token that ends it."""
    lay = Layout.of(CoreConfig("Q3.44", 1024, 3, 2).datapath)
    assert lay.configure_fields == (2, 1, 5, 7) and lay.stats_fields == (4, 13, 6)
    assert lay.result_fields == (6, 13, 6, 2, 9)
    assert (Layout.loosen_fields, Layout.status_fields, Layout.read_fields) == ((4, 2, 9), (4, 1), (2, 2))


def test_pack_and_unpack():
    assert p.pack((2, 1, 4), 0x0102, 3, 0x04050607) == bytes([2, 1, 3, 7, 6, 5, 4])
    assert p.unpack((2, 1, 4), bytes([2, 1, 3, 7, 6, 5, 4, 99])) == (0x0102, 3, 0x04050607)  # the rest: not a field
    l = (1 << p.L_BITS) - 1
    assert p.unpack(Layout.loosen_fields, p.pack(Layout.loosen_fields, 7, 1, l)) == (7, 1, l)
    with pytest.raises(ValueError, match=r"^values must be 2, one per field, not 1$"):
        p.pack((2, 2), 5)
    with pytest.raises(ValueError, match=r"^payload must hold 4 bytes, not 3$"):
        p.unpack((2, 2), b"abc")
    with pytest.raises(OverflowError):
        p.pack((1,), 256)
