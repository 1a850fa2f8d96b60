"""RequestParser under Verilator (testbench ``tests/benches/tb_streams.py``): frames built by the host's
own ``request_frame``, with junk between them, gaps on the input, random ``ready`` on both outputs, bad
CRCs, frames cut short (timeouts) and long back-pressure stalls that must not count as silence.

Three parsers side by side in one simulation (one Verilator build): ``exact`` (no gaps, always ready:
cycle-exact latencies), ``random`` and ``stall``."""

import numpy as np
import pytest

from spherecode.host.link import request_frame
from spherecode.hw.board_link.protocol import SYNC_REQUEST, Status
from spherecode.hw.board_link.request_parser import RequestParser

from ...benches.streams import Channel, Item, run_channels

TIMEOUT = 12
ARGS = 12


class Stimulus:
    """Bytes for ``i`` with their gaps, and what the parser must make of them."""

    def __init__(self, seed, max_gap):
        self.rng = np.random.default_rng(seed)
        self.max_gap = max_gap
        self.items, self.requests, self.payloads = [], [], []
        self.silence = 0  # idle cycles owed before the next byte (after a frame cut short)

    def send(self, data, gaps=None):
        gaps = self.rng.integers(0, self.max_gap + 1, len(data)).tolist() if gaps is None else list(gaps)
        if data:
            gaps[0] = max(gaps[0], self.silence)
            self.silence = 0
        self.items += [Item(b, g) for b, g in zip(data, gaps)]

    def junk(self, n):
        self.send([b for b in self.rng.integers(0, 256, n).tolist() if b != SYNC_REQUEST])

    def frame(self, cmd, payload, seq=None, bad_crc=False, cut=None, gaps=None):
        """A request frame; ``bad_crc``: one CRC bit flipped; ``cut``: only its first ``cut`` bytes, then
        silence beyond the timeout."""
        seq = int(self.rng.integers(0, 256)) if seq is None else seq
        frame = bytearray(request_frame(cmd, seq, payload))
        if bad_crc:
            frame[-1 - int(self.rng.integers(0, 2))] ^= 1 << int(self.rng.integers(0, 8))
        sent = bytes(frame if cut is None else frame[:cut])
        self.send(sent, gaps)
        received = sent[5 : 5 + len(payload)]
        self.requests.append(
            {
                "cmd": sent[1] if len(sent) > 1 else 0,
                "seq": sent[2] if len(sent) > 2 else 0,
                "length": int.from_bytes(sent[3:5], "little"),
                "status": Status.TIMEOUT if cut is not None else Status.BAD_CRC if bad_crc else Status.OK,
                "payload": received,
            }
        )
        self.payloads.append([{"data": b, "offset": k, "cmd": cmd} for k, b in enumerate(received)])
        if cut is not None:
            self.silence = TIMEOUT + 1 + int(self.rng.integers(0, 4))


def build_stimulus(seed, max_gap, long_payloads=False):
    """Frames of every kind with junk between them: OK, bad CRC, cut short anywhere from the sync byte to
    the last CRC byte; then a stray sync byte alone and a last good frame."""
    s = Stimulus(seed, max_gap)
    rng = s.rng
    for k in range(6 if long_payloads else 14):
        s.junk(int(rng.integers(0, 4)))
        length = int(rng.integers(40, 80)) if long_payloads else int(rng.choice([0, 1, 4, 12, 13, 30]))
        payload = rng.integers(0, 256, length).astype(np.uint8).tobytes()
        cmd = int(rng.integers(1, 8))
        kind = 0 if long_payloads else k % 7
        if kind == 3:
            s.frame(cmd, payload, bad_crc=True)
        elif kind in (5, 6):
            s.frame(cmd, payload, cut=int(rng.integers(1, 7 + length)))  # 1 … all but the last byte
        else:
            s.frame(cmd, payload)
    s.frame(0, b"", cut=1)  # a stray sync byte alone: TIMEOUT, nothing received
    s.junk(3)  # after the timeout: ignored
    s.frame(2, bytes(range(12)), seq=7)
    return s


CASES = {
    "exact": (build_stimulus(1, 0), {"payload": 1.0, "request": 1.0}),
    "random": (build_stimulus(2, 3), {"payload": 0.5, "request": 0.3}),
    "stall": (build_stimulus(3, 2, long_payloads=True), {"payload": 0.04, "request": 0.5}),
}


@pytest.fixture(scope="module")
def results():
    units = {name: RequestParser(TIMEOUT, ARGS) for name in CASES}
    channels = {
        name: Channel(inputs={"i": s.items}, ready=ready, watch=["busy"], seed=k, drain=2 * TIMEOUT + 8)
        for k, (name, (s, ready)) in enumerate(CASES.items())
    }
    return run_channels(units, channels)


@pytest.mark.parametrize("name", CASES)
def test_requests_and_payload_bytes(results, name):
    s, _ = CASES[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert len(out["inputs"]["i"]) == len(s.items)  # every byte taken, junk included
    got = [r for _, _, r in out["outputs"]["request"]]
    assert len(got) == len(s.requests)
    for k, (g, e) in enumerate(zip(got, s.requests)):
        assert (g["cmd"], g["seq"], g["length"], g["status"]) == (e["cmd"], e["seq"], e["length"], e["status"]), k
        if e["status"] != Status.TIMEOUT:
            tail = e["payload"][-ARGS:]
            assert g["args"] >> (8 * (ARGS - len(tail))) == int.from_bytes(tail, "little"), k
    assert [p for _, _, p in out["outputs"]["payload"]] == [b for frame in s.payloads for b in frame]


@pytest.mark.parametrize("name", CASES)
def test_no_byte_is_taken_while_a_request_waits(results, name):
    out = results[name]
    taken = np.array(out["inputs"]["i"])
    for offered, accepted, _ in out["outputs"]["request"]:
        assert not np.any((taken >= offered) & (taken <= accepted))


@pytest.mark.parametrize("name", CASES)
def test_payload_bytes_pass_in_the_cycle_they_are_taken(results, name):
    taken = set(results[name]["inputs"]["i"])
    assert all(cycle in taken for _, cycle, _ in results[name]["outputs"]["payload"])


def test_exact_latencies(results):
    """No gaps, always ready: each request is offered the cycle after its last byte (CRC) or
    ``timeout`` + 2 cycles after the last byte of a frame cut short; busy from the cycle after the sync
    byte until the request is taken."""
    s, _ = CASES["exact"]
    out = results["exact"]
    taken = out["inputs"]["i"]
    index = {cycle: k for k, cycle in enumerate(taken)}
    busy = [(c, v) for c, v in out["watch"]["busy"]]
    rises = [c for c, v in busy if v == 1]
    falls = [c for c, v in busy if v == 0 and c > 0]
    assert len(rises) == len(out["outputs"]["request"])
    for (offered, accepted, req), rise, fall in zip(out["outputs"]["request"], rises, falls):
        last = max(c for c in taken if c < offered)
        delay = TIMEOUT + 2 if req["status"] == Status.TIMEOUT else 1
        assert offered - last == delay
        assert accepted == offered  # request.ready always high
        assert s.items[index[rise - 1]].value == SYNC_REQUEST
        assert fall == accepted + 1
    assert all(offered == cycle for offered, cycle, _ in out["outputs"]["payload"])


def test_stalls_are_not_silence(results):
    """payload.ready is high 4 % of cycles: stalls far beyond the timeout, yet no request times out."""
    out = results["stall"]
    waits = [taken - offered for offered, taken, _ in out["outputs"]["payload"]]
    assert max(waits) > 3 * TIMEOUT
    statuses = [r["status"] for _, _, r in out["outputs"]["request"]]
    assert statuses == [Status.OK] * 6 + [Status.TIMEOUT, Status.OK]  # the stray sync byte's timeout only


@pytest.mark.parametrize(
    "args, message",
    [
        ({"timeout": 0, "args": 4}, "timeout must be a positive int, not 0"),
        ({"timeout": 1.5, "args": 4}, "timeout must be a positive int, not 1.5"),
        ({"timeout": 10, "args": True}, "args must be a positive int, not True"),
    ],
)
def test_bad_parameters(args, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        RequestParser(**args)


def test_integer_parameters_of_any_kind():
    parser = RequestParser(np.int64(20), np.uint8(4))
    assert (parser.timeout, parser.args) == (20, 4) and type(parser.timeout) is int
