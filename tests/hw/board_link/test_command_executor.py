"""CommandExecutor under Verilator (testbench ``tests/benches/tb_streams.py``): scripted requests — every
command and every status of docs/protocol.md — offered as a RequestParser would (payload bytes, then the
request, with gaps), answered through a ResponseWriter with random ``ready`` on its output, and checked
byte for byte against a Python model of the board (:class:`~spherecode.hw.board_link.protocol_model.ProtocolModel`,
written from docs/protocol.md).

The core is :class:`~.board_model.FakeCore`: the UpdaterCore's signature with a simple, checkable behaviour (so that the
executor's RUN — feed with back-pressure, write-back, done, error — is tested without the updater's build);
the real core behind the real executor is tested end to end through the board twin (tests/boards)."""

import re

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from spherecode.hw.board_link.command_executor import CommandExecutor, args_bytes, runs_loosening
from spherecode.hw.board_link.protocol import Capability, Command, Status, response_frame
from spherecode.hw.board_link.request_parser import PAYLOAD, request_layout
from spherecode.hw.board_link.response_writer import ResponseWriter

from ...benches.streams import Channel, Item, run_channels
from ..board_model import BAUD, CLOCK_HZ, CORE, LAY, LOOSENING_CORE, WAIT, FakeCore, matches, protocol_model, script


class ExecutorBench(wiring.Component):
    """A CommandExecutor on a FakeCore, answering through a ResponseWriter."""

    def __init__(self):
        self.executor = CommandExecutor(LOOSENING_CORE, CLOCK_HZ, BAUD)
        super().__init__(
            {
                "payload": In(stream.Signature(PAYLOAD)),
                "request": In(stream.Signature(request_layout(self.executor.args))),
                "o": Out(stream.Signature(8)),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.executor = ex = self.executor
        m.submodules.writer = wr = ResponseWriter()
        m.submodules.core = core = FakeCore()
        connect(m, flipped(self.payload), ex.payload)
        connect(m, flipped(self.request), ex.request)
        connect(m, ex.header, wr.header)
        connect(m, ex.body, wr.body)
        connect(m, wr.o, flipped(self.o))
        connect(m, ex.core, core)
        m.d.comb += self.busy.eq(ex.busy)
        return m


def channel_stimulus(seed, max_gap):
    rng = np.random.default_rng(seed)
    gap = lambda: int(rng.integers(0, max_gap + 1))
    board, payload_items, request_items, expected, wild = protocol_model(), [], [], [], []
    for k, (cmd, data, length, status, wait) in enumerate(script(rng)):
        seq = int(rng.integers(0, 256))
        if wait:
            board.finish()
        for j, b in enumerate(data):
            payload_items.append(
                Item(
                    {"data": b, "offset": j, "cmd": cmd},
                    gap() + (WAIT if wait and not j else 0),
                    ("request", k) if j == 0 else None,
                )
            )
        tail = data[-ARGS:]
        junk = int.from_bytes(rng.bytes(ARGS - len(tail)), "little")  # earlier bytes: ignored
        args = junk | int.from_bytes(tail, "little") << (8 * (ARGS - len(tail)))
        request_items.append(
            Item(
                {"cmd": cmd, "seq": seq, "length": length, "status": status, "args": args},
                gap() + (WAIT if wait and not data else 0),
                ("payload", len(payload_items)),
            )
        )
        code, body = board.execute(cmd, length, status, data)
        expected.append(response_frame(cmd, seq, code, board.state(), body))
        wild.append(board.progress_varies)
    return payload_items, request_items, expected, wild


ARGS = CommandExecutor(LOOSENING_CORE, CLOCK_HZ, BAUD).args
CASES = {"fast": (1, 0, 1.0), "random": (2, 3, 0.4), "slow": (3, 1, 0.08)}
STIMULI = {name: channel_stimulus(seed, gap) for name, (seed, gap, _) in CASES.items()}


@pytest.fixture(scope="module")
def results():
    units = {name: ExecutorBench() for name in CASES}
    channels = {
        name: Channel(
            inputs={"payload": STIMULI[name][0], "request": STIMULI[name][1]},
            ready={"o": ready},
            seed=k,
            drain=64,
            limit=200_000,
        )
        for k, (name, (_, _, ready)) in enumerate(CASES.items())
    }
    return run_channels(units, channels)


def frames_of(out, expected):
    o = out["outputs"]["o"]
    cuts = np.cumsum([0] + [len(f) for f in expected])
    return [o[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


@pytest.mark.parametrize("name", CASES)
def test_responses_match_the_model(results, name):
    _, requests, expected, wild = STIMULI[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert len(out["outputs"]["o"]) == sum(map(len, expected))
    frames = [bytes(v for _, _, v in f) for f in frames_of(out, expected)]
    mismatches = [
        (k, requests[k].value["cmd"], f.hex(), e.hex())
        for k, (f, e, w) in enumerate(zip(frames, expected, wild))
        if not matches(f, e, w)
    ]
    assert not mismatches, mismatches[:3]
    assert sum(wild) >= 1  # STATUS met the run in progress


def test_every_status_is_exercised():
    statuses = {frame[3] for frame in STIMULI["random"][2]}
    assert statuses == {int(s) for s in Status}


@pytest.mark.parametrize("name", CASES)
def test_request_is_taken_as_its_response_goes_out(results, name):
    """The request is taken in the cycle its response's last byte enters the writer's output register."""
    _, _, expected, _ = STIMULI[name]
    out = results[name]
    for frame, taken in zip(frames_of(out, expected), out["inputs"]["request"]):
        assert frame[-1][0] == taken + 1


def test_answers_at_once(results):
    """``fast``: a response's sync byte is on ``o`` two cycles after its request is offered (RUN: after
    the core; a LOOSEN the core takes: three), i.e. the checks take the cycle the request is offered."""
    payload, requests, expected, _ = STIMULI["fast"]
    out = results["fast"]
    payload_taken, request_taken = out["inputs"]["payload"], out["inputs"]["request"]
    for k, (frame, item) in enumerate(zip(frames_of(out, expected), requests)):
        if item.value["cmd"] == Command.RUN and frame_status(expected[k]) in (Status.OK, Status.BAD_CONFIG):
            continue
        ready = max([request_taken[k - 1] if k else -1] + payload_taken[: item.after[1]][-1:]) + item.gap
        args = item.value["args"] >> 8 * (args_bytes(LAY) - LAY.loosen)  # LOOSEN's K, n, l
        started = (
            item.value["cmd"] == Command.LOOSEN
            and frame_status(expected[k]) in (Status.OK, Status.BAD_CONFIG)
            and args & 0xFFFF_FFFF
            and args >> 32 & 0xFFFF
        )  # the core started: K ≥ 1, n ≥ 1
        # LOOSEN: one cycle more, for the core's error after start
        assert frame[0][0] == ready + 1 + 2 + bool(started), k


def frame_status(frame):
    return frame[3]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"clock_hz": 0, "baud": 3}, "clock_hz must be an int in 1..4294967295 (IDENTIFY sends it in 4 bytes), not 0"),
        (
            {"clock_hz": 1 << 32, "baud": 3},
            "clock_hz must be an int in 1..4294967295 (IDENTIFY sends it in 4 bytes), not 4294967296",
        ),
        ({"clock_hz": 10, "baud": 2.5}, "baud must be an int in 1..4294967295 (IDENTIFY sends it in 4 bytes), not 2.5"),
    ],
)
def test_bad_parameters(args, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CommandExecutor(CORE, **args)


def test_integer_parameters_of_any_kind():
    assert CommandExecutor(CORE, np.int64(60_000_000), np.uint32(3_000_000)).clock_hz == 60_000_000


def test_capabilities_follow_the_core():
    """LOOSEN and RESULT only for a core with the loosening ports (docs/protocol.md, IDENTIFY)."""
    assert CommandExecutor(LOOSENING_CORE, CLOCK_HZ, BAUD).capabilities == Capability.LOOSEN
    assert CommandExecutor(CORE, CLOCK_HZ, BAUD).capabilities == Capability(0)
    assert runs_loosening(LOOSENING_CORE.signature) and not runs_loosening(CORE.signature)
