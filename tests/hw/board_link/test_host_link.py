"""HostLink (parser → executor → writer) under Verilator (testbench ``tests/benches/tb_streams.py``):
the script of every command and status as whole frames on ``rx`` — damaged CRCs, requests cut short,
gaps between bytes, the next request's bytes waiting while a response goes out — with random ``ready``
on ``tx``; the response bytes must equal the model's
(:class:`~spherecode.hw.board_link.protocol_model.ProtocolModel`) exactly.

The core is :class:`~.board_model.FakeCore`; the real one behind HostLink is tested through the board twin
(tests/boards/test_system_twin.py)."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from spherecode.hw.board_link.host_link import HostLink
from spherecode.hw.board_link.protocol import SYNC_REQUEST, Status, request_frame, response_frame

from ...benches.streams import Channel, Item, run_channels
from ..board_model import BAUD, CLOCK_HZ, LOOSENING_CORE, WAIT, FakeCore, matches, protocol_model, script

TIMEOUT = 20


class LinkBench(wiring.Component):
    """A HostLink on a FakeCore."""

    def __init__(self):
        self.link = HostLink(LOOSENING_CORE, CLOCK_HZ, BAUD, TIMEOUT)
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = self.link
        m.submodules.core = core = FakeCore()
        connect(m, flipped(self.rx), link.rx)
        connect(m, link.tx, flipped(self.tx))
        connect(m, link.core, core)
        m.d.comb += self.busy.eq(link.busy)
        return m


def stimulus(seed, max_gap):
    """Bytes for ``rx``, the index of each request's first byte, and the expected responses."""
    rng = np.random.default_rng(seed)
    board, items, firsts, expected, wild = protocol_model(), [], [], [], []
    silence = 0
    for cmd, data, length, status, wait in script(rng):
        if wait:
            board.finish()
            silence += WAIT
        seq = int(rng.integers(0, 256))
        if status == Status.TIMEOUT:  # header and part of the payload, then silence
            frame = bytes([SYNC_REQUEST, cmd, seq]) + length.to_bytes(2, "little") + data
        else:
            frame = bytearray(request_frame(cmd, seq, data))
            if status == Status.BAD_CRC:
                frame[-2] ^= 0x10
            frame = bytes(frame)
        firsts.append(len(items))
        gaps = rng.integers(0, max_gap + 1, len(frame)).tolist()
        gaps[0] += silence
        items += [Item(b, g) for b, g in zip(frame, gaps)]
        silence = TIMEOUT + 5 if status == Status.TIMEOUT else 0
        code, body = board.execute(cmd, length, status, data)
        expected.append(response_frame(cmd, seq, code, board.state(), body))
        wild.append(board.progress_varies)
    return items, firsts, expected, wild


CASES = {"random": (stimulus(4, 3), 0.3), "eager": (stimulus(5, 0), 1.0)}


@pytest.fixture(scope="module")
def results():
    units = {name: LinkBench() for name in CASES}
    channels = {
        name: Channel(
            inputs={"rx": items}, ready={"tx": ready}, watch=["busy"], seed=k, drain=2 * TIMEOUT, limit=200_000
        )
        for k, (name, ((items, _, _, _), ready)) in enumerate(CASES.items())
    }
    return run_channels(units, channels)


def frames_of(out, expected):
    tx = out["outputs"]["tx"]
    cuts = np.cumsum([0] + [len(f) for f in expected])
    return [tx[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


@pytest.mark.parametrize("name", CASES)
def test_responses_are_byte_identical_to_the_model(results, name):
    (items, _, expected, wild), _ = CASES[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert len(out["inputs"]["rx"]) == len(items)
    frames = [bytes(v for _, _, v in f) for f in frames_of(out, expected)]
    mismatches = [
        (k, f.hex(), e.hex()) for k, (f, e, w) in enumerate(zip(frames, expected, wild)) if not matches(f, e, w)
    ]
    assert not mismatches, mismatches[:3]


@pytest.mark.parametrize("name", CASES)
def test_one_request_at_a_time(results, name):
    """A request's first byte is taken only once the previous response's last byte is on ``tx``, although
    the bytes were offered earlier (``eager``: back to back); busy is high throughout."""
    (_, firsts, expected, _), _ = CASES[name]
    out = results[name]
    taken = out["inputs"]["rx"]
    frames = frames_of(out, expected)
    for k in range(1, len(firsts)):
        assert taken[firsts[k]] >= frames[k - 1][-1][0]
        assert taken[firsts[k] - 1] < frames[k - 1][0][0]
    busy = out["watch"]["busy"]
    level = lambda cycle: [v for c, v in busy if c <= cycle][-1]
    assert all(level(c) for frame in frames for _, c, _ in frame)
