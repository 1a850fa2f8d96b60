"""Force loosening's control on chip: the choice between the two candidates and the next iteration's
constants, in fixed point (paper §II.C; docs/arithmetic.md, "On-chip force loosening").

The state is n (an integer) and l in UQ18.F (F = ``precision`` fraction bits), with the derived
l'' = l(1 + 1/n) and the two steps c' = 1/(4l), c'' = 1/(4l'') (1/(2β) for β = 2l and β = 2l'') kept
in registers. Given S' and S'' of iteration n, the unit keeps r' when S' > S'', otherwise r'' and
l := l''; then n := n + 1, and for the new (n, l) it computes, with one serial restoring divider::

    l'' = l + ⌊(l + ⌊n/2⌋) / n⌋                              (raw, UQ18.F: l/n rounded to nearest)
    c'' = ⌊(2^(f + 2 + F) + ⌊l''/2⌋) / l''⌋                   (raw, UQ1.(f + 4): 1/(4l'') to nearest)

c' needs no division after a choice: it is the old c'' (raised) or the old c' (kept), the same formula on
the same l. The constants for the updater are β/2 = l and l'' rounded to nearest to UQ17.16 (saturated)
and c', c''. Software (:meth:`LooseningControl.compute`) and gateware (:meth:`~LooseningControl.elaborate`)
come from this one definition; the reset state is the model's :meth:`~LooseningControl.initial`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datapath import Datapath
from ..pipeline import check_parameters, keep_locals

__all__ = ["LooseningControlParameters", "LooseningControl", "LooseningState", "N_BITS", "L_INTEGER"]

#: Width of n: n saturates at 2^16 − 1 (a run of K ≤ 32767 iterations, the weight unit's β range, never
#: gets there).
N_BITS = 16
#: Integer bits of l: l ≤ 2n (docs/arithmetic.md), so l'' ≤ 2(n + 1) ≤ 2^17 < 2^18 for every n.
L_INTEGER = 18


@dataclass(frozen=True)
class LooseningState:
    """The unit's registers (raw integers): iteration ``n``, ``l`` and ``l_raise`` = l'' in UQ18.F,
    ``step_keep`` = c' and ``step_raise`` = c'' in UQ1.(f + 4), and ``raised``: whether the last choice
    kept r''."""

    n: int
    l: int
    l_raise: int
    step_keep: int
    step_raise: int
    raised: bool = False


class LooseningControlParameters:
    """The parameters of a :class:`LooseningControl`, checked (the arguments its description names): its
    ``signature``, latency and formats, :meth:`compute` (the bit-exact model) and :meth:`create` (a new
    :class:`LooseningControl`)."""

    def __init__(self, dp: Datapath, precision: int = 48):
        if not isinstance(dp, Datapath):
            raise ValueError(f"LooseningControl takes a Datapath, not {dp!r}")
        if isinstance(precision, bool) or not isinstance(precision, int) or not 16 <= precision <= 64:
            raise ValueError(f"precision must be an integer in 16..64, not {precision!r}")
        self.dp, self.precision = dp, precision
        f = dp.fmt.f
        self.l_width = L_INTEGER + precision
        self.hb_fmt, self.step_fmt, self.s_fmt = dp.half_beta_fmt, dp.step_fmt, dp.s_fmt
        #: Quotient bits of the two divisions: l/n (any n ≥ 1) and 1/(4l'') (l'' > 2: c'' ≤ 2^(f + 1)).
        self.n_bits, self.c_bits = self.l_width + 1, f + 2
        # accept; setup, n_bits steps, l'' := l + q; setup, c_bits steps, c'' := q; o.valid
        self.latency = 1 + (self.n_bits + 2) + (self.c_bits + 2)
        self.load_latency = self.latency + self.c_bits + 2  # c' as well
        constants = data.StructLayout({"half_beta": self.hb_fmt.shape(), "step": self.step_fmt.shape()})
        self.signature = wiring.Signature(
            {
                "i": In(
                    stream.Signature(
                        data.StructLayout(
                            {
                                "load": 1,
                                "s_keep": self.s_fmt.shape(),
                                "s_raise": self.s_fmt.shape(),
                                "n": unsigned(N_BITS),
                                "l": unsigned(self.l_width),
                            }
                        )
                    )
                ),
                "o": Out(
                    stream.Signature(
                        data.StructLayout(
                            {
                                "n": unsigned(N_BITS),
                                "l": unsigned(self.l_width),
                                "raised": 1,
                                "keep": constants,
                                "raise": constants,
                            }
                        ),
                        always_ready=True,
                    )
                ),
            }
        )

    # ---- the bit-exact model (Python integers: l is wider than int64) ----

    def raise_l(self, n: int, l: int) -> int:
        """l'' = l + ⌊(l + ⌊n/2⌋)/n⌋ (raw)."""
        return l + (l + (n >> 1)) // n

    def step(self, l: int) -> int:
        """Raw 1/(4l) in UQ1.(f + 4), to nearest, for raw l (UQ18.F): ⌊(2^(f + 2 + F) + ⌊l/2⌋)/l⌋."""
        return ((1 << (self.dp.fmt.f + 2 + self.precision)) + (l >> 1)) // l

    def half_beta(self, l: int) -> int:
        """Raw l in UQ17.16, to nearest, saturated."""
        shift = self.precision - self.hb_fmt.f
        return min((l + (1 << shift >> 1)) >> shift, self.hb_fmt.max_raw)

    def load(self, n: int, l: int) -> LooseningState:
        """The state after a load of (n, raw l); ``ValueError`` outside 1 ≤ n < 2^16, 2 ≤ l ≤ 2n."""
        one = 1 << self.precision
        if not (isinstance(n, int) and 1 <= n < 1 << N_BITS):
            raise ValueError(f"n must be an integer in 1..{(1 << N_BITS) - 1}, not {n!r}")
        if not (isinstance(l, int) and 2 * one <= l <= 2 * n * one):
            raise ValueError(f"raw l must be an integer in [2, 2n] · 2^{self.precision}, not {l!r}")
        lr = self.raise_l(n, l)
        return LooseningState(n, l, lr, self.step(l), self.step(lr), False)

    def initial(self) -> LooseningState:
        """The state at reset and at a run's start: n = 1, l = 2."""
        return self.load(1, 2 << self.precision)

    def compute(self, state: LooseningState, s_keep: int, s_raise: int) -> LooseningState:
        """Bit-exact model of one choice: the state after iteration ``state.n`` with raw S' = ``s_keep``
        and S'' = ``s_raise`` (``dp.s_fmt``, unsigned)."""
        raised = not s_keep > s_raise
        l, c = (state.l_raise, state.step_raise) if raised else (state.l, state.step_keep)
        n = min(state.n + 1, (1 << N_BITS) - 1)
        lr = self.raise_l(n, l)
        return LooseningState(n, l, lr, c, self.step(lr), raised)

    def output(self, state: LooseningState) -> dict:
        """The ``o`` payload for ``state``: n, l, raised and the two (β/2, 1/(2β)) pairs, raw."""
        return {
            "n": state.n,
            "l": state.l,
            "raised": int(state.raised),
            "keep": {"half_beta": self.half_beta(state.l), "step": state.step_keep},
            "raise": {"half_beta": self.half_beta(state.l_raise), "step": state.step_raise},
        }

    def constants(self, state: LooseningState) -> tuple[tuple[int, int], tuple[int, int]]:
        """((β'/2, 1/(2β')), (β''/2, 1/(2β''))) raw, for the updater, as ``Datapath.constants`` gives them."""
        out = self.output(state)
        return ((out["keep"]["half_beta"], out["keep"]["step"]), (out["raise"]["half_beta"], out["raise"]["step"]))

    def l_value(self, state: LooseningState) -> float:
        """l as a float."""
        return state.l / (1 << self.precision)

    def create(self) -> LooseningControl:
        """A new :class:`LooseningControl` with these parameters."""
        return LooseningControl(self)


class LooseningControl(wiring.Component):
    """The loosening state and its arithmetic (see the module docstring).

    Parameters: ``dp`` — the :class:`~.datapath.Datapath` whose formats the constants take (β/2 in
    UQ17.16, 1/(2β) in UQ1.(f + 4), S in ``dp.s_fmt``); ``precision`` — F, the fraction bits of l,
    16 ≤ F ≤ 64 (default 48: l drifts from float64's by < 4·10⁻¹² relative over 3000 iterations,
    docs/arithmetic.md).

    Ports: ``i`` — stream of ``{load, s_keep, s_raise, n, l}``: ``load`` = 0 makes the choice for the
    current iteration from S' = ``s_keep`` and S'' = ``s_raise`` (raw, ``dp.s_fmt``); ``load`` = 1 sets
    n := ``n``, l := ``l`` (raw UQ18.F; 1 ≤ n < 2^16 and 2 ≤ l ≤ 2n, what a run can reach) and clears
    ``raised`` — a run's start (n = 1, l = 2, also the reset state) or a resumed run. ``i.ready`` is high
    while the unit is idle. ``o`` — stream (always ready) of ``{n, l, raised, keep: {half_beta, step},
    raise: {half_beta, step}}``: the payload always shows the current state and constants; ``o.valid`` is
    high for one cycle when new ones are ready, :attr:`latency` cycles after a choice was accepted and
    :attr:`load_latency` cycles after a load (:attr:`latency` = F + f + 26 and :attr:`load_latency` =
    F + 2f + 30, one quotient bit per cycle: 118 and 164 at f = 44, F = 48 — beside ≈ N²/L cycles of the
    sweep). The next input may come the cycle after ``o.valid``.
    """

    def __init__(self, parameters: LooseningControlParameters):
        self.parameters = check_parameters(parameters, LooseningControlParameters)
        self.latency = parameters.latency
        super().__init__(parameters.signature)

    # ---- the gateware ----

    def elaborate(self, platform):
        m = Module()
        s = SimpleNamespace()
        self._registers(s)
        self._divider(m, s)
        self._outputs(m, s)
        self._sequence(m, s)
        return m

    def _registers(self, s: SimpleNamespace) -> None:
        """The loosening state: n, l, the raise candidate's l, both candidates' steps, which one was taken, and
        whether a load is being set up."""
        par = self.parameters
        init, lw = par.initial(), par.l_width
        n = Signal(N_BITS, init=init.n)
        l = Signal(lw, init=init.l)
        lr = Signal(lw, init=init.l_raise)
        ck = Signal(par.step_fmt.width, init=init.step_keep)
        cr = Signal(par.step_fmt.width, init=init.step_raise)
        raised = Signal()
        loading = Signal()
        keep_locals(s, locals(), "n l lr ck cr raised loading")

    def _divider(self, m: Module, s: SimpleNamespace) -> None:
        """The serial restoring divider: remainder < divisor; the dividend's low bits shift in MSB first, one
        quotient bit per cycle (its states: :meth:`_divide`)."""
        par = self.parameters
        lw = par.l_width
        qw = max(par.n_bits, par.c_bits)
        divisor = Signal(lw)
        rem = Signal(lw)
        low = Signal(qw)
        quot = Signal(qw)
        count = Signal(range(qw + 1))
        trial = Signal(lw + 1)
        m.d.comb += trial.eq((rem << 1) | low[qw - 1])
        fits = trial >= divisor
        keep_locals(s, locals(), "qw divisor rem low quot count trial fits")

    @staticmethod
    def _divide(m: Module, s: SimpleNamespace, state: str, then: str) -> None:
        """A state of the division: one quotient bit per cycle, then ``then``."""
        with m.State(state):
            m.d.sync += [
                s.rem.eq(Mux(s.fits, s.trial - s.divisor, s.trial)),
                s.quot.eq((s.quot << 1) | s.fits),
                s.low.eq(s.low << 1),
                s.count.eq(s.count - 1),
            ]
            with m.If(s.count == 1):
                m.next = then

    def _setup_reciprocal(self, m: Module, s: SimpleNamespace, x) -> None:
        """Start c = ⌊(2^(f + 2 + F) + ⌊x/2⌋) / x⌋, c_bits quotient bits."""
        par = self.parameters
        dividend = (1 << (par.dp.fmt.f + 2 + par.precision)) + (x >> 1)
        m.d.sync += [
            s.divisor.eq(x),
            s.rem.eq(dividend >> par.c_bits),
            s.low.eq((dividend & ((1 << par.c_bits) - 1)) << (s.qw - par.c_bits)),
            s.quot.eq(0),
            s.count.eq(par.c_bits),
        ]

    def _outputs(self, m: Module, s: SimpleNamespace) -> None:
        """The output payload: the state and both candidates' β/2 (``half_beta()`` of the model) and steps."""
        par = self.parameters
        hb_shift = par.precision - par.hb_fmt.f

        def to_half_beta(x):
            rounded = Signal(par.l_width + 1)
            m.d.comb += rounded.eq((x + (1 << hb_shift >> 1)) >> hb_shift)
            return Mux(rounded > par.hb_fmt.max_raw, par.hb_fmt.max_raw, rounded)

        m.d.comb += [
            self.o.payload.n.eq(s.n),
            self.o.payload.l.eq(s.l),
            self.o.payload.raised.eq(s.raised),
            self.o.payload.keep.half_beta.eq(to_half_beta(s.l)),
            self.o.payload.keep.step.eq(s.ck),
            self.o.payload["raise"].half_beta.eq(to_half_beta(s.lr)),
            self.o.payload["raise"].step.eq(s.cr),
        ]

    def _sequence(self, m: Module, s: SimpleNamespace) -> None:
        """The FSM: take a load or a choice, then l_raise = l + ⌊(l + ⌊n/2⌋)/n⌋ and the steps by division."""
        par = self.parameters
        n, l, lr, ck, cr, quot = s.n, s.l, s.lr, s.ck, s.cr, s.quot
        req = self.i.payload
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    with m.If(req.load):
                        m.d.sync += [n.eq(req.n), l.eq(req.l), s.raised.eq(0), s.loading.eq(1)]
                    with m.Else():
                        keep = req.s_keep > req.s_raise
                        m.d.sync += [
                            s.raised.eq(~keep),
                            s.loading.eq(0),
                            n.eq(Mux(n == (1 << N_BITS) - 1, n, n + 1)),
                        ]
                        with m.If(~keep):
                            m.d.sync += [l.eq(lr), ck.eq(cr)]
                    m.next = "SETUP_N"
            with m.State("SETUP_N"):  # q = ⌊(l + ⌊n/2⌋) / n⌋, n_bits quotient bits, remainder starts at 0
                m.d.sync += [
                    s.divisor.eq(n),
                    s.rem.eq(0),
                    s.low.eq((l + (n >> 1)) << (s.qw - par.n_bits)),
                    quot.eq(0),
                    s.count.eq(par.n_bits),
                ]
                m.next = "DIVIDE_N"
            self._divide(m, s, "DIVIDE_N", "RAISE")
            with m.State("RAISE"):
                m.d.sync += lr.eq(l + quot)
                m.next = "SETUP_RAISE"
            with m.State("SETUP_RAISE"):
                self._setup_reciprocal(m, s, lr)
                m.next = "DIVIDE_RAISE"
            self._divide(m, s, "DIVIDE_RAISE", "STEP_RAISE")
            with m.State("STEP_RAISE"):
                m.d.sync += cr.eq(quot)
                m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(s.loading):
                    self._setup_reciprocal(m, s, l)
                    m.next = "DIVIDE_KEEP"
                with m.Else():
                    m.d.comb += self.o.valid.eq(1)
                    m.next = "IDLE"
            self._divide(m, s, "DIVIDE_KEEP", "STEP_KEEP")
            with m.State("STEP_KEEP"):
                m.d.sync += [ck.eq(quot), s.loading.eq(0)]
                m.next = "CHECK"
