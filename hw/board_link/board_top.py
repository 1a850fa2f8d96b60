"""BoardTop: everything a board carries between its UART pins and the updater — UART receiver, a request
FIFO, :class:`~.host_link.HostLink`, :class:`~.core.UpdaterCore`, UART transmitter. The board files in
:mod:`spherecode.boards` add only clocking and pins; the board twin simulates exactly this."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out, connect

from ..config import CoreConfig
from ..dataflow.core import UpdaterCore
from .host_link import HostLink
from .uart import UARTReceiver, UARTTransmitter, divisor_for

__all__ = ["BoardTop"]

#: Depth of the request FIFO: bytes that arrive while a request executes wait here.
RX_FIFO = 32


class BoardTop(wiring.Component):
    """Ports: ``rx`` (UART line in, idle high), ``tx`` (UART line out), ``busy`` (a request is in progress
    or waiting: drives an LED, and tells the board twin when simulated time may pause).

    Parameters: the core's ``config`` (:class:`~.config.CoreConfig`; default ``CoreConfig()``); ``clock_hz`` and
    ``baud`` (the UART
    divisor is their rounded ratio unless ``divisor`` is given — the twin uses a small one); ``timeout``
    (cycles of silence that abandon a request; default 20 ms of the clock, at least 256 byte times);
    ``core``: the core component (default :class:`~.core.UpdaterCore` of ``config``; another one — a core
    with the loosening ports, or a test's stand-in — with the UpdaterCore's ports and ``config``/``dp``
    attributes; ``config`` is then its own).
    """

    def __init__(
        self,
        config: CoreConfig | None = None,
        *,
        clock_hz: int = 50_000_000,
        baud: int = 3_000_000,
        divisor: int | None = None,
        timeout: int | None = None,
        core: wiring.Component | None = None,
    ):
        if core is not None and config is not None and config != core.config:
            raise ValueError(f"config must be the core's ({core.config}) when a core is given, not {config!r}")
        self.core = core
        config = core.config if core is not None else config
        self.config = config if config is not None else CoreConfig()
        self.clock_hz, self.baud = clock_hz, baud
        self.divisor = divisor if divisor is not None else divisor_for(clock_hz, baud)
        self.timeout = timeout if timeout is not None else max(clock_hz // 50, 2560 * self.divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core if self.core is not None else UpdaterCore(self.config)
        m.submodules.link = link = HostLink(core, self.clock_hz, self.baud, self.timeout)
        m.submodules.uart_rx = urx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = utx = UARTTransmitter(self.divisor)
        m.submodules.rx_fifo = rxq = fifo.SyncFIFOBuffered(width=8, depth=RX_FIFO)
        connect(m, link.core, core)
        m.d.comb += [
            urx.rx.eq(self.rx),
            self.tx.eq(utx.tx),
            rxq.w_data.eq(urx.o.payload),
            rxq.w_en.eq(urx.o.valid),  # a full FIFO drops: the CRC tells
            link.rx.payload.eq(rxq.r_data),
            link.rx.valid.eq(rxq.r_rdy),
            rxq.r_en.eq(link.rx.ready),
            self.busy.eq(link.busy | rxq.r_rdy),
        ]
        connect(m, link.tx, utx.i)
        return m
