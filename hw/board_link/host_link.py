"""HostLink: the board's side of the framed command protocol (:mod:`.protocol`, docs/protocol.md) in front
of an :class:`~.core.UpdaterCore` — a :class:`~.request_parser.RequestParser`, a
:class:`~.command_executor.CommandExecutor` (with the vector buffer that LOAD fills, RUN streams through
the core and back, and READ drains) and a :class:`~.response_writer.ResponseWriter`, in a row."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .command_executor import CommandExecutor
from .request_parser import RequestParser
from .response_writer import ResponseWriter

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """Ports:

    - ``rx`` — request bytes (from the UART receiver, through a FIFO); ``tx`` — response bytes (to the
      UART transmitter; payload and valid are registers);
    - ``core`` — the flipped signature of the :class:`~.core.UpdaterCore` it drives;
    - ``busy`` — high from a request's first byte until the last byte of its response is taken by ``tx``.

    One request is handled at a time: received whole (LOAD's coordinates go to the buffer as they
    arrive), checked (CRC, length, state), executed, answered; ``rx`` is not read from the end of a request
    until its response's last byte is on its way. A request that stops arriving for ``timeout`` cycles is
    answered with ``TIMEOUT``. The parts' docstrings state each one's contract.

    Parameters: ``core`` (the core, for its configuration and signature), ``clock_hz`` and ``baud``
    (reported by IDENTIFY), ``timeout`` (cycles).
    """

    def __init__(self, core, clock_hz: int, baud: int, timeout: int):
        self.executor = CommandExecutor(core, clock_hz, baud)
        self.parser = RequestParser(timeout, self.executor.args)
        self.writer = ResponseWriter()
        self.config, self.dp, self.lanes = core.config, core.dp, core.lanes
        self.layout = self.executor.layout
        self.clock_hz, self.baud, self.timeout = clock_hz, baud, timeout
        super().__init__(
            {
                "rx": In(stream.Signature(8)),
                "tx": Out(stream.Signature(8)),
                "core": Out(core.signature.flip()),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser = parser = self.parser
        m.submodules.executor = executor = self.executor
        m.submodules.writer = writer = self.writer
        connect(m, flipped(self.rx), parser.i)
        connect(m, parser.payload, executor.payload)
        connect(m, parser.request, executor.request)
        connect(m, executor.header, writer.header)
        connect(m, executor.body, writer.body)
        connect(m, writer.o, flipped(self.tx))
        connect(m, executor.core, flipped(self.core))
        m.d.comb += self.busy.eq(parser.busy | executor.busy | writer.busy)
        return m
