"""UpdaterCore: S/P converter → vector updater → P/S converter, the runtime configuration, its checks
and the cycle counter. The same core sits under the simulation testbench and behind a board's UART
(:class:`~.board.BoardTop`)."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from ..config import CoreConfig
from .parallel_to_serial import ParallelToSerial
from ..pipeline import keep_locals
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

    On-chip loosening (``config.loosening``; the ports below exist only then): ``loosen`` (sampled with
    ``start``) — 0: ``start`` runs one update as above (β from ``half_beta``, ``step``); 1: ``start`` loads
    the N·D coordinates from ``i``, runs ``iterations`` (K ≥ 1) loosening iterations on chip from the
    control state n = ``loosen_n`` (≥ 1), l = ``loosen_l`` (raw UQ18.48, 2 ≤ l ≤ 2n; a run's usual start
    n = 1, l = 2·2^48) — each one sweep for both candidates, the choice and the next constants by
    :class:`~.loosening.LooseningControl` — then streams the kept vectors to ``o`` exactly as an update
    does (``done`` when the last is in the output buffer). ``start`` is refused (``error``) unless also
    K ≥ 1 and (``loosen_n``, ``loosen_l``) is a state the control can load. Outputs: ``progress`` —
    iterations completed in this run; ``state_n``, ``state_l`` — the control's n and l (after a run: the
    final state); ``move_norm``, ``delta_min`` — the last iteration's kept S and min δ. ``cycles``
    (start to done) of a run with coordinates back to back = :meth:`CoreConfig.run_cycles
    <.config.CoreConfig.run_cycles>` (N, D, K).
    """

    def __init__(self, config: CoreConfig | None = None):
        self.config = config = config if config is not None else CoreConfig()
        self.dp = config.datapath
        self.lanes = config.lanes
        super().__init__(config.signature)

    def elaborate(self, platform):
        m = Module()
        dp = self.dp
        m.submodules.sp = sp = SerialToParallel(dp.fmt, dp.dmax)
        two = self.config.loosening
        m.submodules.updater = up = self.config.updater.create()
        m.submodules.ps = ps = ParallelToSerial(dp.fmt, dp.nmax, dp.dmax)
        connect(m, wiring.flipped(self.i), sp.i)
        connect(m, sp.o, up.i)
        connect(m, up.o, ps.i)
        connect(m, ps.o, wiring.flipped(self.o))
        d = Signal.like(self.d)
        ok = (self.n >= 2) & (self.n <= dp.nmax) & (self.d >= 2) & (self.d <= dp.dmax)
        if two:
            return self._loosening(m, up, sp, ps, d, ok)
        go = self.start & ~up.busy & ok
        with m.If(self.start & ~up.busy):
            m.d.sync += self.error.eq(~ok)
        with m.If(go):
            m.d.sync += d.eq(self.d)
        m.d.comb += [
            sp.d.eq(d),
            ps.d.eq(d),
            ps.clear.eq(go),
            up.n.eq(self.n),
            up.half_beta.eq(self.half_beta),
            up.step.eq(self.step),
            up.start.eq(go),
            self.busy.eq(up.busy),
            self.done.eq(up.done),
            self.move_norm.eq(up.move_norm),
            self.delta_min.eq(up.delta_min),
        ]
        self._count(m, go, self.done)
        return m

    def _count(self, m: Module, go, done) -> None:
        counting = Signal()
        with m.If(go):
            m.d.sync += [counting.eq(1), self.cycles.eq(0)]
        with m.Elif(done):
            m.d.sync += counting.eq(0)
        with m.Elif(counting):
            m.d.sync += self.cycles.eq(self.cycles + 1)

    def _loosening(self, m: Module, up: VectorUpdater, sp, ps, d, ok):
        """The core with on-chip loosening: the run's sequence around the two-candidate updater and the
        loosening control (see the class docstring)."""
        m.submodules.control = ctl = self.config.control.create()
        F = self.config.control.precision
        busy = Signal()
        loosening = Signal()  # the run (or update) now under way is a loosening run
        state_ok = (
            (self.iterations >= 1)
            & (self.loosen_n >= 1)
            & (self.loosen_l >= (2 << F))
            & (self.loosen_l <= (self.loosen_n << (F + 1)))
        )
        ok_run = ok & (~self.loosen | state_ok)
        go = self.start & ~busy & ok_run
        with m.If(self.start & ~busy):
            m.d.sync += self.error.eq(~ok_run)
        with m.If(go):
            m.d.sync += [d.eq(self.d), loosening.eq(self.loosen)]
        iterations = Signal.like(self.iterations)
        loaded, ready = Signal(), Signal()  # vectors in memory; the control's first constants ready
        kept_s, raised = Signal.like(self.move_norm), Signal()
        constants = ctl.o.payload
        m.d.comb += [
            sp.d.eq(d),
            ps.d.eq(d),
            ps.clear.eq(go),
            up.n.eq(self.n),
            up.half_beta.eq(Mux(loosening, constants.keep.half_beta, self.half_beta)),
            up.step.eq(Mux(loosening, constants.keep.step, self.step)),
            up.half_beta2.eq(Mux(loosening, constants["raise"].half_beta, self.half_beta)),
            up.step2.eq(Mux(loosening, constants["raise"].step, self.step)),
            up.raised.eq(raised),
            self.busy.eq(busy),
            self.delta_min.eq(up.delta_min),
            self.move_norm.eq(Mux(loosening, kept_s, up.move_norm)),
            self.state_n.eq(constants.n),
            self.state_l.eq(constants.l),
            ctl.i.payload.s_keep.eq(up.move_norm),
            ctl.i.payload.s_raise.eq(up.move_norm2),
            ctl.i.payload.n.eq(self.loosen_n),
            ctl.i.payload.l.eq(self.loosen_l),
        ]
        s = SimpleNamespace()
        keep_locals(s, locals(), "busy ctl go iterations kept_s loaded raised ready")
        self._run_sequence(m, up, s)
        self._count(m, go, self.done)
        return m

    def _run_sequence(self, m: Module, up: VectorUpdater, s: SimpleNamespace) -> None:
        """The run's FSM: a plain update; or the load beside the control's start state, then per iteration
        a sweep of both candidates, the choice and the next constants, and the output after the last."""
        busy, ctl, go, iterations, kept_s, loaded, raised, ready = (
            s.busy,
            s.ctl,
            s.go,
            s.iterations,
            s.kept_s,
            s.loaded,
            s.raised,
            s.ready,
        )
        s_keep, s_raise = up.move_norm, up.move_norm2
        with m.FSM(name="run"):
            with m.State("IDLE"):
                with m.If(go & self.loosen):  # load the vectors and the control's start state side by side
                    m.d.comb += [up.load.eq(1), ctl.i.valid.eq(1), ctl.i.payload.load.eq(1)]
                    m.d.sync += [
                        busy.eq(1),
                        iterations.eq(self.iterations),
                        self.progress.eq(0),
                        loaded.eq(0),
                        ready.eq(0),
                    ]
                    m.next = "PRELUDE"
                with m.Elif(go):
                    m.d.comb += up.start.eq(1)
                    m.d.sync += busy.eq(1)
                    m.next = "UPDATE"
            with m.State("UPDATE"):
                with m.If(up.done):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
            with m.State("PRELUDE"):
                with m.If(up.done):
                    m.d.sync += loaded.eq(1)
                with m.If(ctl.o.valid):
                    m.d.sync += ready.eq(1)
                with m.If((loaded | up.done) & (ready | ctl.o.valid)):
                    m.d.comb += up.sweep.eq(1)
                    m.next = "SWEEP"
            with m.State("SWEEP"):  # both candidates; then the choice, on the updater and in the control
                with m.If(up.done):
                    m.d.comb += [
                        up.choose.eq(1),
                        up.raised.eq(~(s_keep > s_raise)),
                        ctl.i.valid.eq(1),
                        ctl.i.payload.load.eq(0),
                    ]
                    m.d.sync += [raised.eq(~(s_keep > s_raise)), kept_s.eq(Mux(s_keep > s_raise, s_keep, s_raise))]
                    m.next = "CHOOSE"
            with m.State("CHOOSE"):  # the next constants
                with m.If(ctl.o.valid):
                    m.d.sync += self.progress.eq(self.progress + 1)
                    with m.If(self.progress + 1 == iterations):
                        m.d.comb += up.emit.eq(1)
                        m.next = "EMIT"
                    with m.Else():
                        m.d.comb += up.sweep.eq(1)
                        m.next = "SWEEP"
            with m.State("EMIT"):
                with m.If(up.done):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
