"""UpdaterCore: S/P converter → vector updater → P/S converter, the runtime configuration, its checks
and the cycle counter. The same core sits under the simulation testbench and (later) a board's UART."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect

from .config import CoreConfig
from .parallel_to_serial import ParallelToSerial
from .serial_to_parallel import SerialToParallel
from .vector_updater import VectorUpdater

__all__ = ["UpdaterCore"]


class UpdaterCore(wiring.Component):
    """Ports:

    - ``i`` — stream of coordinates (N·D raw values in ``fmt``); ``o`` — stream of the new coordinates;
    - ``n``, ``d``, ``half_beta``, ``step`` — runtime N, D, β/2 (UQ17.16), 1/(2β) (UQ1.(f + 4));
    - ``start`` — a pulse; refused (``error`` set, nothing computed) unless 2 ≤ N ≤ nmax and 2 ≤ D ≤ dmax;
    - ``busy``, ``done`` (a pulse when the last new vector is in the output buffer), ``error``;
    - ``cycles`` — cycles from ``start`` to ``done`` of the last iteration; ``move_norm``, ``delta_min``.

    Parameter: ``config`` (:class:`~.config.CoreConfig`; default ``CoreConfig()``). With coordinates
    offered back to back, ``cycles`` = :meth:`CoreConfig.cycles <.config.CoreConfig.cycles>` (N, D) =
    N·D + N·max(⌈N/L⌉, C) + ⌈N/L⌉ + T, where C is the per-vector step's interval (a row shorter than C
    waits; the last row's result does not wait).
    """

    def __init__(self, config: CoreConfig | None = None):
        self.config = config = config if config is not None else CoreConfig()
        self.dp = dp = config.datapath
        self.lanes = config.lanes
        fmt, nmax, dmax = config.fmt, config.nmax, config.dmax
        super().__init__({
            "i": In(stream.Signature(fmt.shape())),
            "o": Out(stream.Signature(fmt.shape())),
            "n": In(range(1 << (nmax.bit_length() + 1))),
            "d": In(range(1 << ((dmax + 1).bit_length()))),
            "half_beta": In(dp.half_beta_fmt.shape()),
            "step": In(dp.step_fmt.shape()),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
            "cycles": Out(32),
            "move_norm": Out(dp.s_fmt.shape()),
            "delta_min": Out(dp.d2_fmt.shape()),
        })

    def elaborate(self, platform):
        m = Module()
        dp = self.dp
        m.submodules.sp = sp = SerialToParallel(dp.fmt, dp.dmax)
        m.submodules.updater = up = VectorUpdater(dp, self.lanes)
        m.submodules.ps = ps = ParallelToSerial(dp.fmt, dp.nmax, dp.dmax)
        connect(m, wiring.flipped(self.i), sp.i)
        connect(m, sp.o, up.i)
        connect(m, up.o, ps.i)
        connect(m, ps.o, wiring.flipped(self.o))
        d = Signal.like(self.d)
        ok = (self.n >= 2) & (self.n <= dp.nmax) & (self.d >= 2) & (self.d <= dp.dmax)
        go = self.start & ~up.busy & ok
        with m.If(self.start & ~up.busy):
            m.d.sync += self.error.eq(~ok)
        with m.If(go):
            m.d.sync += d.eq(self.d)
        m.d.comb += [
            sp.d.eq(d), ps.d.eq(d), ps.clear.eq(go),
            up.n.eq(self.n), up.half_beta.eq(self.half_beta), up.step.eq(self.step), up.start.eq(go),
            self.busy.eq(up.busy), self.done.eq(up.done),
            self.move_norm.eq(up.move_norm), self.delta_min.eq(up.delta_min),
        ]
        counting = Signal()
        with m.If(go):
            m.d.sync += [counting.eq(1), self.cycles.eq(0)]
        with m.Elif(up.done):
            m.d.sync += counting.eq(0)
        with m.Elif(counting):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m
