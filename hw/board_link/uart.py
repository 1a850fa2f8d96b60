"""An 8N1 UART: a transmitter and a receiver with a fixed divisor (clock cycles per bit).

Amaranth 0.5 ships no UART (its standard library has streams and CDC, no serial cores), so this is a
small hand-written one. Frames are 8N1, LSB first: a start bit (0), 8 data bits, a stop bit (1); the idle
line is high. Both sides count ``divisor`` clock cycles per bit; :func:`divisor_for` picks it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTTransmitter", "UARTReceiver", "divisor_for", "MIN_DIVISOR", "MAX_BAUD_ERROR"]

#: The smallest divisor: the receiver needs a bit long enough to find its middle after the edge.
MIN_DIVISOR = 4

#: The largest relative baud error :func:`divisor_for` accepts; the receiver tolerates a few % more.
MAX_BAUD_ERROR = 0.02


def _check_divisor(divisor) -> int:
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"divisor must be an int ≥ {MIN_DIVISOR}, not {divisor!r}")
    return divisor


def divisor_for(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clk_hz``: ``round(clk_hz / baud)``.

    Raises ``ValueError`` if the resulting baud rate is off by more than :data:`MAX_BAUD_ERROR` (2 %) or
    the divisor is below :data:`MIN_DIVISOR`.
    """
    if not clk_hz > 0 or not baud > 0:
        raise ValueError(f"clock and baud rate must be positive, not {clk_hz!r} and {baud!r}")
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"{clk_hz} Hz is too slow for {baud} baud (divisor {divisor} < {MIN_DIVISOR})")
    error = abs(clk_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(
            f"{baud} baud from {clk_hz} Hz: divisor {divisor} is off by {error:.1%} (more than {MAX_BAUD_ERROR:.0%})"
        )
    return divisor


class UARTTransmitter(wiring.Component):
    """Sends each byte of ``i`` on ``tx`` as an 8N1 frame, LSB first, ``divisor`` cycles per bit.

    Ports: ``i`` — stream of bytes; ``i.ready`` is high only while the transmitter is idle. ``tx`` — the
    line, a register, idle high.

    Timing: a byte accepted in cycle t drives its start bit on ``tx`` in cycles t+1 … t+divisor, data bit k
    in t+1+(k+1)·divisor …, the stop bit from t+1+9·divisor; ``i.ready`` is high again in cycle
    t+10·divisor, the stop bit's last, so bytes offered back to back are accepted exactly 10·divisor cycles
    apart and the line carries them without a gap.
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__(
            {
                "i": In(stream.Signature(8)),
                "tx": Out(1, init=1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        bits = Signal(range(11))  # bits still to send, counting the one on the line; 0 = idle
        count = Signal(range(d))  # cycles left in the current bit after this one
        shreg = Signal(9)  # the bits after the one on the line, LSB next; ones shift in behind the stop bit
        m.d.comb += self.i.ready.eq(bits == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                self.tx.eq(0),
                shreg.eq(Cat(self.i.payload, 1)),
                bits.eq(10),
                count.eq(d - 1),
            ]
        with m.Elif(bits != 0):
            with m.If(count == 0):
                m.d.sync += [
                    self.tx.eq(shreg[0]),
                    shreg.eq(Cat(shreg[1:], 1)),
                    bits.eq(bits - 1),
                    # The stop bit runs one cycle short in this state: its last cycle is idle (ready, tx
                    # high), which is where the next byte is accepted.
                    count.eq(Mux(bits == 2, d - 2, d - 1)),
                ]
            with m.Else():
                m.d.sync += count.eq(count - 1)
        return m


class UARTReceiver(wiring.Component):
    """Receives 8N1 frames, LSB first, ``divisor`` cycles per bit, from the line ``rx``.

    Ports: ``rx`` — the line, asynchronous to the clock (idle high); ``o`` — stream of received bytes,
    ``o.valid`` a one-cycle pulse per byte (there is no back-pressure); ``error`` — a one-cycle pulse
    instead of ``o.valid`` when the stop bit is sampled low (a framing error; that byte is dropped).

    ``rx`` passes a two-flop synchroniser (reset value 1). A falling edge of the synchronised line starts a
    frame; the start bit is re-checked ``divisor // 2`` cycles later and a frame whose start bit is high
    again there was a glitch, ignored. Data bits and the stop bit are sampled ``divisor`` cycles apart
    from there, in their middles. ``o.valid`` (or ``error``) is high in the cycle after the stop bit is
    sampled, i.e. 3 + divisor // 2 + 9·divisor cycles after the first cycle in which ``rx`` is low;
    ``o.payload`` holds the byte until the next frame's first data bit is sampled. The receiver waits for
    the next start edge right after sampling the stop bit, half a bit early, so it tolerates a few % of
    baud mismatch either way (about (½ − 1/divisor)/10 for a fast sender, 1/18 for a slow one) and back
    to back frames. A line held low (a break) gives one framing error, then nothing until it rises.
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__(
            {
                "rx": In(1, init=1),
                "o": Out(stream.Signature(8, always_ready=True)),
                "error": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        prev = Signal(init=1)
        m.d.sync += prev.eq(line)
        count = Signal(range(d))  # cycles left until the next sample
        index = Signal(range(8))  # data bit being received
        shreg = Signal(8)  # data bits, shifted in from the top: LSB first on the line
        m.d.comb += self.o.payload.eq(shreg)
        m.d.sync += [self.o.valid.eq(0), self.error.eq(0)]
        with m.FSM():
            with m.State("idle"):
                with m.If(prev & ~line):
                    m.d.sync += count.eq(d // 2 - 1)
                    m.next = "start"
            with m.State("start"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [count.eq(d - 1), index.eq(0)]
                    m.next = "data"
                    with m.If(line):  # high again mid start bit: a glitch
                        m.next = "idle"
            with m.State("data"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [count.eq(d - 1), shreg.eq(Cat(shreg[1:], line)), index.eq(index + 1)]
                    with m.If(index == 7):
                        m.next = "stop"
            with m.State("stop"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [self.o.valid.eq(line), self.error.eq(~line)]
                    m.next = "idle"
        return m
