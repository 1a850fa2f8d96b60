"""ResponseWriter under Verilator (testbench ``tests/benches/tb_streams.py``): random headers and
payloads (0 to 300 bytes), gaps on both inputs, random ``ready`` on the output; every frame must equal the
host's own ``response_frame``, byte for byte.

Writers side by side in one simulation (one Verilator build): ``exact`` (no gaps, always ready:
cycle-exact latencies), ``random`` and ``slow`` (``o.ready`` rare, as behind a UART)."""

import numpy as np
import pytest

from spherecode.host.link import response_frame
from spherecode.hw.board_link.response_writer import ResponseWriter

from ...benches.streams import Channel, Item, run_channels


def frames(seed, count, max_gap):
    rng = np.random.default_rng(seed)
    gap = lambda: int(rng.integers(0, max_gap + 1))
    headers, body, expected = [], [], []
    for k in range(count):
        length = [0, 1, 2, 19, 12][k] if k < 5 else int(rng.choice([0, 3, 7, 40, 300]))
        payload = rng.integers(0, 256, length).astype(np.uint8).tobytes()
        cmd, seq, status, state = (int(x) for x in rng.integers(0, 256, 4))
        headers.append(Item({"cmd": cmd, "seq": seq, "status": status, "state": state, "length": length}, gap()))
        body += [Item(b, gap()) for b in payload]
        expected.append(response_frame(cmd, seq, status, state, payload))
    return headers, body, expected


CASES = {
    "exact": (frames(1, 10, 0), 1.0),
    "random": (frames(2, 14, 3), 0.4),
    "slow": (frames(3, 6, 40), 0.05),
}


@pytest.fixture(scope="module")
def results():
    units = {name: ResponseWriter() for name in CASES}
    channels = {
        name: Channel(inputs={"header": h, "body": b}, ready={"o": p}, watch=["busy"], seed=k, drain=20)
        for k, (name, ((h, b, _), p)) in enumerate(CASES.items())
    }
    return run_channels(units, channels)


def split(out, expected):
    """The output transfers, frame by frame."""
    o = out["outputs"]["o"]
    cuts = np.cumsum([0] + [len(f) for f in expected])
    return [o[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


@pytest.mark.parametrize("name", CASES)
def test_frames_are_byte_identical_to_the_hosts(results, name):
    (headers, body, expected), _ = CASES[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert bytes(v for _, _, v in out["outputs"]["o"]) == b"".join(expected)
    assert len(out["inputs"]["header"]) == len(headers) and len(out["inputs"]["body"]) == len(body)


@pytest.mark.parametrize("name", CASES)
def test_handshakes(results, name):
    """A body byte taken in cycle t is on ``o`` from t + 1; the header is taken in the cycle before the
    frame's last byte is offered, after its last body byte."""
    (headers, body, expected), _ = CASES[name]
    out = results[name]
    per_frame = split(out, expected)
    taken_body = iter(out["inputs"]["body"])
    for frame, header_taken, (h, _) in zip(per_frame, out["inputs"]["header"], zip(headers, expected)):
        length = h.value["length"]
        body_part = frame[7 : 7 + length]
        cycles = [next(taken_body) for _ in range(length)]
        assert [offered for offered, _, _ in body_part] == [c + 1 for c in cycles]
        assert frame[-1][0] == header_taken + 1
        assert all(c <= header_taken for c in cycles)


def test_exact_latencies(results):
    """Always ready, no gaps: sync byte the cycle after the header is offered, then one byte per cycle
    with one idle cycle before the CRC; the next header follows at once (10 + L cycles per frame)."""
    (headers, _, expected), _ = CASES["exact"]
    out = results["exact"]
    starts = [0] + [c + 1 for c in out["inputs"]["header"][:-1]]  # each header is offered when the last was taken
    for start, frame, h in zip(starts, split(out, expected), headers):
        length = h.value["length"]
        want = list(range(start + 1, start + 8 + length)) + [start + 9 + length, start + 10 + length]
        assert [taken for _, taken, _ in frame] == want
    assert out["watch"]["busy"] == [[0, 1], [out["outputs"]["o"][-1][1] + 1, 0]]


def test_busy_until_the_last_byte_is_taken(results):
    """``slow``: busy is high whenever a byte is offered, and falls only in the cycle after a frame's last
    byte is taken (when no header waits)."""
    (headers, body, expected), _ = CASES["slow"]
    out = results["slow"]
    busy = out["watch"]["busy"]
    level = lambda cycle: [v for c, v in busy if c <= cycle][-1]
    assert all(level(c) for offered, taken, _ in out["outputs"]["o"] for c in range(offered, taken + 1))
    falls = [c for c, v in busy if v == 0 and c > 0]
    lasts = [frame[-1][1] for frame in split(out, expected)]
    assert len(falls) >= 2 and all(c - 1 in lasts for c in falls)
