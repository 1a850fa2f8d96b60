"""The UART under Verilator (testbench ``tests/benches/tb_uart.py``): loopback at full rate with exact
line timing, a receiver against a bit-banged line off by ±3 %, framing errors, glitches and a break.

Every case is a channel of one bench design, simulated once for the module: one Verilator build, one
simulator start."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.board_link.uart import UARTReceiver, UARTTransmitter, divisor_for
from spherecode.sim.verilator import build

from ...benches.streams import Bench
from ...benches.testbench import run_testbench

PERIOD_PS = 10_000  # the testbench's clock
EDGE_BYTES = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80, 0xFE, 0x7F]
LOOPBACK_DIVISORS = [4, 5, 8, 217]
SKEW_DIVISORS = [16, 217]
ERRORS_DIVISOR = 16


class Loopback(wiring.Component):
    """A transmitter whose line drives a receiver; ``tx`` shows the line."""

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__(
            {
                "i": In(stream.Signature(8)),
                "tx": Out(1, init=1),
                "o": Out(stream.Signature(8, always_ready=True)),
                "error": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.transmitter = transmitter = UARTTransmitter(self.divisor)
        m.submodules.receiver = receiver = UARTReceiver(self.divisor)
        wiring.connect(m, wiring.flipped(self.i), transmitter.i)
        wiring.connect(m, receiver.o, wiring.flipped(self.o))
        m.d.comb += [receiver.rx.eq(transmitter.tx), self.tx.eq(transmitter.tx), self.error.eq(receiver.error)]
        return m


def frame_bits(byte: int, stop: int = 1) -> list[int]:
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


def line(*parts) -> list[list[int]]:
    """Line segments ``[level, ps]``, adjacent equal levels merged. Each part is ``(bits, bit_ps)``."""
    segments = []
    for bits, bit_ps in parts:
        for bit in bits:
            if segments and segments[-1][0] == bit:
                segments[-1][1] += bit_ps
            else:
                segments.append([bit, bit_ps])
    return segments


def loopback_case(divisor):
    """Random bytes (and edge patterns) offered back to back."""
    rng = np.random.default_rng(divisor)
    sent = EDGE_BYTES + rng.integers(0, 256, 48 if divisor > 100 else 300).tolist()
    return Loopback(divisor), {"mode": "loopback", "bytes": sent, "drain": 12 * divisor}, {"sent": sent}


def skew_case(divisor):
    """Back-to-back frames 3 % fast, then 3 % slow, edges unaligned to the clock."""
    rng = np.random.default_rng(divisor)
    fast, slow = round(divisor * 0.97 * PERIOD_PS), round(divisor * 1.03 * PERIOD_PS)
    count = 12 if divisor > 100 else 60
    first, second = (EDGE_BYTES + rng.integers(0, 256, count).tolist() for _ in range(2))
    bits = lambda data: [bit for byte in data for bit in frame_bits(byte)]
    bit = divisor * PERIOD_PS
    segments = line(([1], 3 * bit + 1234), (bits(first), fast), ([1], 20 * bit), (bits(second), slow), ([1], 12 * bit))
    return UARTReceiver(divisor), {"mode": "line", "segments": segments}, {"sent": first + second}


def errors_case(divisor):
    """A framing error, glitches on an idle line and a break, between good frames."""
    bit = divisor * PERIOD_PS
    idle = ([1], 15 * bit + 777)
    good = [0xA5, 0x3C, 0x00, 0xFF]
    segments = line(
        idle,
        (frame_bits(good[0]), bit),
        idle,
        (frame_bits(0x5A, stop=0), bit),
        idle,  # framing error
        ([0], PERIOD_PS // 3),
        idle,  # glitches: a third of a clock, 1 cycle, just under half a bit
        ([0], PERIOD_PS),
        idle,
        ([0], (divisor // 2 - 3) * PERIOD_PS),
        idle,
        (frame_bits(good[1]), bit),
        idle,
        ([0], 35 * bit),
        idle,  # a break: one framing error, then nothing until the line rises
        (frame_bits(good[2]), bit),
        (frame_bits(good[3]), bit),
        idle,
    )
    bad_stop = 2 * idle[1] + 10 * bit + 9.5 * bit  # the middle of the framing error's stop bit
    return UARTReceiver(divisor), {"mode": "line", "segments": segments}, {"sent": good, "bad_stop": bad_stop}


@pytest.fixture(scope="module")
def bench():
    """Every case's result (the testbench's, plus the case's expectations) by channel name."""
    cases = {f"loopback{d}": loopback_case(d) for d in LOOPBACK_DIVISORS}
    cases |= {f"skew{d}": skew_case(d) for d in SKEW_DIVISORS}
    cases["errors"] = errors_case(ERRORS_DIVISOR)
    sim = build(Bench({name: unit for name, (unit, _, _) in cases.items()}))
    channels = [{"prefix": f"{name}__", **stim} for name, (_, stim, _) in cases.items()]
    results = run_testbench(sim, "tb_uart", {"channels": channels})["channels"]
    return {name: {**result, **expect} for (name, (_, _, expect)), result in zip(cases.items(), results)}


@pytest.mark.parametrize("divisor", LOOPBACK_DIVISORS)
def test_loopback_back_to_back(bench, divisor):
    out = bench[f"loopback{divisor}"]
    sent, accepts = out["sent"], out["accepts"]
    assert len(accepts) == len(sent)
    assert set(np.diff(accepts).tolist()) == {10 * divisor}
    # The line, exactly: each frame's start bit begins the cycle after its handshake, bits are `divisor`
    # cycles long, frames follow without a gap.
    levels = [bit for byte in sent for bit in frame_bits(byte) for _ in range(divisor)]
    changes = [[accepts[0] + 1 + k, v] for k, v in enumerate(levels) if v != (levels[k - 1] if k else 1)]
    assert out["tx"] == changes
    assert [b for _, b in out["received"]] == sent
    assert out["errors"] == []
    # o.valid: 3 + divisor // 2 + 9·divisor cycles after the first cycle of the start bit.
    latency = 3 + divisor // 2 + 9 * divisor
    assert [c for c, _ in out["received"]] == [a + 1 + latency for a in accepts]


@pytest.mark.parametrize("divisor", SKEW_DIVISORS)
def test_receiver_baud_mismatch(bench, divisor):
    out = bench[f"skew{divisor}"]
    assert [b for _, b in out["received"]] == out["sent"]
    assert out["errors"] == []


def test_receiver_errors_and_recovery(bench):
    """No byte from a framing error, a glitch or a break; an error pulse for the framing error and for the
    break; every good byte around them received."""
    out = bench["errors"]
    assert [b for _, b in out["received"]] == out["sent"]
    assert len(out["errors"]) == 2
    assert abs(out["errors"][0] - out["bad_stop"]) < 6 * PERIOD_PS
    received_at = [t for t, _ in out["received"]]
    assert received_at[0] < out["errors"][0] < received_at[1] < out["errors"][1] < received_at[2]


@pytest.mark.parametrize("unit", [UARTTransmitter, UARTReceiver])
@pytest.mark.parametrize("divisor", [3, 0, -5, 4.0, True, "8"])
def test_bad_divisor(unit, divisor):
    with pytest.raises(ValueError):
        unit(divisor)


def test_divisor_for():
    assert divisor_for(100e6, 115_200) == 868
    assert divisor_for(12e6, 115_200) == 104  # 0.16 % off
    assert divisor_for(48e6, 3_000_000) == 16
    with pytest.raises(ValueError):
        divisor_for(1e6, 115_200)  # 9 → 111 111 baud, 3.5 % off
    with pytest.raises(ValueError):
        divisor_for(350e3, 100_000)  # 4 → 87 500 baud, 12.5 % off
    with pytest.raises(ValueError):
        divisor_for(300, 100)  # divisor 3
    with pytest.raises(ValueError):
        divisor_for(0, 9600)
