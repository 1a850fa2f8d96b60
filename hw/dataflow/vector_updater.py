"""The vector updater (paper §III.B, Figure 1): on-chip vector memory, the δ pipeline overlapped with the
force accumulation, and the per-vector step.

Schedule. After the N vectors are loaded, rows k = 0 … N stream every r_i out of the memory once, L at a
time (memory banked by i mod L, 1 ≤ L ≤ 16; banks, addresses and indices come from counters): ⌈N/L⌉ cycles
of reads per row, and a row lasts max(⌈N/L⌉, C) cycles, C the per-vector step's interval (a shorter row
waits). In row k the δ path computes δ_k = min_i d²(r_k, r_i) and then 1/δ_k (the reciprocal unit, once per
row), while the force path — the same read, 1 + ``recip_wait`` cycles later — accumulates
F*_{k−1} = Σ_i w(δ_{k−1}, 1/δ_{k−1}, d²(r_{k−1}, r_i)) (r_{k−1} − r_i), so both consume one read. Each lane
has one squared-distance unit: the δ path's d² row goes into a double-buffered block RAM (2·⌈Nmax/L⌉ words,
halves by row parity), read back for row k − 1 while row k passes and delayed by ``recip_wait`` to meet the
force path; the difference r_{k−1} − r_i for the force product is one subtraction. The pair i = j is masked,
not skipped; lanes past N are masked too. At the end of each force row the lanes' accumulators are added (exactly) and
F*_{k−1} enters
:class:`~.vector_step.VectorStep` together with r_{k−1} and δ_{k−1} (two small FIFOs keep them in order).

Two candidates (``candidates=2``, on-chip force loosening): one sweep gives both candidates of a loosening
iteration. d², δ_k and 1/δ_k are computed once; each lane has one weight with two outputs (β'/2 =
``half_beta``, β''/2 = ``half_beta2``: L = log2(1 + ρ) is shared, t and 2^−t are not), two force products
and two accumulators, and one VectorStep serves both
candidates: F*'_k enters it with 1/(2β') = ``step`` and, its interval C₁ later, F*''_k with 1/(2β'') =
``step2``, giving r'_k, S' and then r''_k, S'' (a row lasts at least 2·C₁ cycles, and the last result
leaves C₁ cycles later than one candidate's would: :attr:`row_min` and :attr:`tail`). Sharing the step
halves its cost — in Q3.44 98 of the products, docs/architecture.md — and costs nothing from N ≥ 2·C₁·L. Each lane's
bank is three memories (sets): the old
set, which the sweep reads, and the two candidates, which the steps write (vector j at bank j mod L,
address ⌊j/L⌋). ``choose`` makes the kept candidate's set the old set (a pointer swap, no copy); ``sweep``
starts a sweep on the old set without loading (the vectors stay on chip), ``load`` only loads, ``emit``
streams the old set to ``o``. A ``start`` (load, then sweep) also sends candidate 1 to ``o`` as the
one-candidate updater does, with its cycles.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datapath import Datapath
from ..pipeline import check_parameters, delay, keep_locals, ram_delay
from .vector_step import VectorStepParameters, _unit
from ..units.weight import RepulsionWeightParameters

__all__ = ["VectorUpdaterParameters", "VectorUpdater", "MAX_LANES"]

#: Most lanes a :class:`VectorUpdater` builds (memory banks, squared-distance units, weights).
MAX_LANES = 16


class VectorUpdaterParameters:
    """The parameters of a :class:`VectorUpdater`, checked (the arguments its description names): its
    ``signature``, its row length and tail, the exact cycle counts (:meth:`row_cycles`, :meth:`cycles`,
    :meth:`sweep_cycles`) and :meth:`create` (a new :class:`VectorUpdater`). Its model is
    :mod:`spherecode.host.model`, built from the units' parameter objects."""

    def __init__(self, dp: Datapath, lanes: int = 1, candidates: int = 1):
        if not (isinstance(lanes, int) and 1 <= lanes <= MAX_LANES):
            raise ValueError(f"lanes must be in 1..{MAX_LANES}, not {lanes!r}")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates not in (1, 2):
            raise ValueError(f"candidates must be 1 or 2, not {candidates!r}")
        self.dp, self.lanes, self.candidates = dp, lanes, candidates
        self.depth = -(-dp.nmax // lanes)
        self.step_unit = VectorStepParameters(dp, candidates)
        #: Fewest cycles a row lasts: the per-vector step takes a vector at most every ``interval`` cycles,
        #: and each row gives it one vector per candidate.
        self.row_min = self.step_unit.interval * candidates
        lsd, lw, lm = dp.distance.latency, dp.weight.latency, dp.force_product.latency
        #: the force path runs this many cycles behind the δ path's reads, so that 1/δ_{k−1} (the
        #: reciprocal unit, fed with δ_{k−1} when its row ends) is ready with δ_{k−1}
        self.recip_wait = dp.reciprocal.latency
        # read (1) → force stage (1 + 1/δ wait) → d² → w → w·diff → accumulate (1) → lane sum (1) → VectorStep
        self.force_latency = 1 + 1 + self.recip_wait + lsd + lw + lm + 1 + 1
        # (two candidates: the second enters the step ``interval`` cycles after the first)
        self.tail = self.force_latency + self.step_unit.latency + 1 + (candidates - 1) * self.step_unit.interval
        vec = data.ArrayLayout(dp.fmt.shape(), dp.dmax)
        members = {
            "i": In(stream.Signature(vec)),
            "o": Out(stream.Signature(vec, always_ready=True)),
            "n": In(range(dp.nmax + 1)),
            "half_beta": In(dp.half_beta_fmt.shape()),
            "step": In(dp.step_fmt.shape()),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "move_norm": Out(dp.s_fmt.shape()),
            "delta_min": Out(dp.d2_fmt.shape()),
        }
        if candidates == 2:
            members.update(
                {
                    "half_beta2": In(dp.half_beta_fmt.shape()),
                    "step2": In(dp.step_fmt.shape()),
                    "move_norm2": Out(dp.s_fmt.shape()),
                    "load": In(1),
                    "sweep": In(1),
                    "choose": In(1),
                    "raised": In(1),
                    "emit": In(1),
                }
            )
        self.signature = wiring.Signature(members)

    def row_cycles(self, n: int) -> int:
        """Cycles of one row: max(⌈N/L⌉, :attr:`row_min`) — a row shorter than the per-vector step's
        interval waits (its last cycles read nothing)."""
        return max(-(-n // self.lanes), self.row_min)

    def cycles(self, n: int) -> int:
        """Cycles from ``start`` to ``done`` for N vectors offered back to back, exactly:
        N + N·max(⌈N/L⌉, :attr:`row_min`) + ⌈N/L⌉ + :attr:`tail` — rows 0 … N − 1 last
        :meth:`row_cycles`, and the last row's result leaves :attr:`tail` cycles after its last read,
        whether or not the row then waits."""
        return n + n * self.row_cycles(n) + -(-n // self.lanes) + self.tail

    def sweep_cycles(self, n: int) -> int:
        """A sweep of both candidates (two candidates): :meth:`cycles` without the load,
        N·max(⌈N/L⌉, :attr:`row_min`) + ⌈N/L⌉ + :attr:`tail`; ``done`` comes this many cycles after
        the cycle after ``sweep`` (``sweep`` reads r_0 as the load's last cycle would)."""
        return self.cycles(n) - n

    def create(self) -> VectorUpdater:
        """A new :class:`VectorUpdater` with these parameters."""
        return VectorUpdater(self)


class VectorUpdater(wiring.Component):
    """Ports:

    - ``i`` — stream of vectors (``dmax`` raw coordinates, unused ones 0), accepted while loading;
    - ``o`` — stream of the new vectors r'_0 … r'_{N−1}, in order, always ready (one per row at most);
    - ``n``, ``half_beta``, ``step`` — runtime N (2 ≤ N ≤ nmax), β/2 and 1/(2β), held during a run;
    - ``start`` — a pulse: load N vectors, then compute; ``busy`` while running; ``done`` pulses at the end;
    - ``move_norm`` — S = Σ_j |r'_j − r_j|²; ``delta_min`` — min_j δ_j; both valid from ``done``.

    Cycles from ``start`` to ``done``, with a vector offered every cycle while loading, exactly:
    :meth:`cycles` = N + N·max(⌈N/L⌉, :attr:`row_min`) + ⌈N/L⌉ + :attr:`tail`, where :attr:`row_min` is
    :class:`~.vector_step.VectorStep`'s interval C₁ (21 in Q3.44 at Dmax ≤ 21) times the candidates (1 or 2: both
    candidates go through one step). ``lanes`` must be an int in 1..16.

    With ``candidates=2`` (1 or 2; default 1, the design above unchanged) there are also: ``half_beta2``,
    ``step2`` (candidate 2's β''/2 and 1/(2β'')), ``move_norm2`` (S''), and pulses accepted while idle
    (one at a time): ``load`` — load N vectors into the old set, ``done`` the cycle after the last;
    ``sweep`` — both candidates from the old set into the candidate sets, ``done``
    :meth:`sweep_cycles` + 1 cycles after the pulse;
    ``choose`` — with ``raised`` (0: keep candidate 1, 1: candidate 2): the kept set becomes the old set
    at once; ``emit`` — the old set's N vectors to ``o``, one per cycle from the second cycle after the
    pulse, ``done`` N + 3 cycles after the pulse.
    """

    def __init__(self, parameters: VectorUpdaterParameters):
        self.parameters = check_parameters(parameters, VectorUpdaterParameters)
        super().__init__(parameters.signature)

    def elaborate(self, platform):
        par = self.parameters
        m = Module()
        s = SimpleNamespace(two=par.candidates == 2, vec=data.ArrayLayout(par.dp.fmt.shape(), par.dp.dmax))
        self._state(m, s)
        self._control(m, s)
        self._read_tags(m, s)
        self._vectors(m, s)
        self._delta_path(m, s)
        self._force_path(m, s)
        # ---- steps 3–5 for vector k − 1
        m.submodules.step = s.vs = par.step_unit.create()
        if s.two:
            self._step_pair(m, s)
        else:
            self._step_single(m, s)
        return m

    def _state(self, m: Module, s: SimpleNamespace) -> None:
        """The row counters, the vector memories (one bank per lane; with two candidates three sets per lane) and
        the candidates' set pointers."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        n = Signal.like(self.n)
        rows_len = Signal(range(par.depth + 1))  # ⌈N/L⌉, counted while loading
        row_len = Signal(range(max(par.depth, par.row_min) + 1))  # max(⌈N/L⌉, row_min), once loaded
        m.d.comb += row_len.eq(Mux(rows_len < par.row_min, par.row_min, rows_len))

        banks = []
        if not two:
            for b in range(lanes):
                mem = memory.Memory(shape=vec, depth=par.depth, init=[])
                m.submodules[f"bank{b}"] = mem
                banks.append((mem.write_port(), mem.read_port(transparent_for=())))
        else:  # three sets per lane: the old set and the two candidates, by the pointers old, ca, cb
            sets = []
            for b in range(lanes):
                ports = []
                for k in range(3):
                    mem = memory.Memory(shape=vec, depth=par.depth, init=[])
                    m.submodules[f"bank{b}_set{k}"] = mem
                    ports.append((mem.write_port(), mem.read_port(transparent_for=())))
                sets.append(ports)
            old, cand_a, cand_b = Signal(2, init=0), Signal(2, init=1), Signal(2, init=2)
            forward = Signal()  # a start (load + sweep): candidate 1 also goes to ``o``
            load_only, priming, emitting = Signal(), Signal(), Signal()
            load_write = Signal()
            emit_bank, emit_addr = Signal(range(lanes)), Signal(range(par.depth))
            emit_count = Signal(range(dp.nmax + 1))
        keep_locals(
            s,
            locals(),
            "banks cand_a cand_b emit_addr emit_bank emit_count emitting forward "
            "load_only load_write n old priming row_len rows_len sets",
        )

    def _control(self, m: Module, s: SimpleNamespace) -> None:
        """The control: IDLE → LOAD → COMPUTE → WAIT → IDLE (and EMIT with two candidates): the load's bank and
        address, the row and the tick whose reads feed both paths."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        # ---- control: IDLE → LOAD → COMPUTE → WAIT → IDLE
        load_bank, load_addr, loaded = Signal(range(lanes)), Signal(range(par.depth)), Signal(range(dp.nmax + 1))
        row, tick = Signal(range(dp.nmax + 2)), Signal(range(max(par.depth, par.row_min)))
        addr = Signal(range(par.depth))  # the read address: tick, while the row reads
        m.d.comb += addr.eq(tick)
        base = Signal(range(par.depth * lanes + 1))  # addr · L, counted: index of lane 0's vector
        next_bank, next_addr = Signal(range(lanes)), Signal(range(par.depth + 1))  # where r_{row+1} lies
        reading = Signal()
        outputs = Signal(range(dp.nmax + 1))
        m.d.comb += self.busy.eq(1)
        m.d.sync += self.done.eq(0)
        keep_locals(s, locals(), "addr base load_addr load_bank loaded next_addr next_bank outputs reading row tick")
        with m.FSM():
            with m.State("IDLE"):
                self._idle(m, s)
            with m.State("LOAD"):
                self._loading(m, s)
            with m.State("COMPUTE"):
                m.d.comb += reading.eq(tick < s.rows_len)
                with m.If(tick == s.row_len - 1):
                    m.d.sync += [tick.eq(0), base.eq(0), row.eq(row + 1)]
                    with m.If(next_bank == lanes - 1):
                        m.d.sync += [next_bank.eq(0), next_addr.eq(next_addr + 1)]
                    with m.Else():
                        m.d.sync += next_bank.eq(next_bank + 1)
                    with m.If(row == s.n):
                        m.next = "WAIT"
                with m.Else():
                    m.d.sync += [tick.eq(tick + 1), base.eq(base + lanes)]
            with m.State("WAIT"):
                with m.If((outputs == s.n) & ~self.o.valid):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
            if two:
                with m.State("EMIT"):  # the old set, vector after vector
                    m.d.comb += [s.emitting.eq(1), addr.eq(s.emit_addr)]
                    m.d.sync += s.emit_count.eq(s.emit_count + 1)
                    with m.If(s.emit_bank == lanes - 1):
                        m.d.sync += [s.emit_bank.eq(0), s.emit_addr.eq(s.emit_addr + 1)]
                    with m.Else():
                        m.d.sync += s.emit_bank.eq(s.emit_bank + 1)
                    with m.If(s.emit_count + 1 == s.n):
                        m.next = "WAIT"

    def _idle(self, m: Module, s: SimpleNamespace) -> None:
        """State IDLE: a start (load, then sweep), or with two candidates a load, a sweep, an emit or the
        choice of the kept candidate's set."""
        par = self.parameters
        lanes, two = par.lanes, s.two
        m.d.comb += self.busy.eq(0)

        def begin_load():  # a start or a load: N taken, the load's counters from 0
            return [s.n.eq(self.n), s.rows_len.eq(0), s.load_bank.eq(0), s.load_addr.eq(0), s.loaded.eq(0)]

        with m.If(self.start):
            m.d.sync += [*begin_load(), s.outputs.eq(0)]
            if two:
                m.d.sync += [s.forward.eq(1), s.load_only.eq(0)]
            m.next = "LOAD"
        if two:
            with m.Elif(self.load):
                m.d.sync += [*begin_load(), s.load_only.eq(1)]
                m.next = "LOAD"
            with m.Elif(self.sweep):  # r_0 is read at address 0 now (tick is 0 while idle)
                m.d.sync += [
                    s.outputs.eq(0),
                    s.forward.eq(0),
                    s.priming.eq(1),
                    s.row.eq(0),
                    s.tick.eq(0),
                    s.base.eq(0),
                    s.next_bank.eq(1 % lanes),
                    s.next_addr.eq(1 if lanes == 1 else 0),
                ]
                m.next = "COMPUTE"
            with m.Elif(self.emit):
                m.d.sync += [s.outputs.eq(0), s.emit_bank.eq(0), s.emit_addr.eq(0), s.emit_count.eq(0)]
                m.next = "EMIT"
            with m.Elif(self.choose):  # the kept candidate's set becomes the old set
                with m.If(self.raised):
                    m.d.sync += [s.old.eq(s.cand_b), s.cand_b.eq(s.old)]
                with m.Else():
                    m.d.sync += [s.old.eq(s.cand_a), s.cand_a.eq(s.old)]

    def _loading(self, m: Module, s: SimpleNamespace) -> None:
        """State LOAD: each vector to bank j mod L, address ⌊j/L⌋ (with two candidates, into the old set), until
        N are in; then COMPUTE (or IDLE after a load alone)."""
        par = self.parameters
        lanes, two = par.lanes, s.two
        m.d.comb += self.i.ready.eq(1)
        with m.If(self.i.valid):
            if two:
                m.d.comb += s.load_write.eq(1)
            else:
                for b, (wp, _) in enumerate(s.banks):
                    m.d.comb += [wp.addr.eq(s.load_addr), wp.data.eq(self.i.payload), wp.en.eq(s.load_bank == b)]
            m.d.sync += s.loaded.eq(s.loaded + 1)
            with m.If(s.load_bank == 0):
                m.d.sync += s.rows_len.eq(s.rows_len + 1)
            with m.If(s.load_bank == lanes - 1):
                m.d.sync += [s.load_bank.eq(0), s.load_addr.eq(s.load_addr + 1)]
            with m.Else():
                m.d.sync += s.load_bank.eq(s.load_bank + 1)
            with m.If(s.loaded + 1 == s.n):
                m.d.sync += [
                    s.row.eq(0),
                    s.tick.eq(0),
                    s.base.eq(0),
                    s.next_bank.eq(1 % lanes),
                    s.next_addr.eq(1 if lanes == 1 else 0),
                ]
                if two:
                    with m.If(s.load_only):
                        m.d.sync += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "COMPUTE"
                else:
                    m.next = "COMPUTE"

    def _read_tags(self, m: Module, s: SimpleNamespace) -> None:
        """Stage 1: the memories' data, with the read's tag (row, address, first, last, and whether r_{row+1} is
        read), and each lane's vector index."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        # ---- stage 1: memory data, with the read's tags
        if not two:
            for _, rp in s.banks:
                m.d.comb += rp.addr.eq(s.addr)
            lane_data = [rp.data for _, rp in s.banks]
        else:
            lane_data = []
            for b in range(lanes):
                for _, rp in s.sets[b]:
                    m.d.comb += rp.addr.eq(s.addr)
                out = Signal(vec, name=f"lane_data{b}")
                m.d.comb += out.eq(s.sets[b][0][1].data)
                for k in (1, 2):
                    with m.If(s.old == k):
                        m.d.comb += out.eq(s.sets[b][k][1].data)
                lane_data.append(out)
        tag = data.StructLayout(
            {
                "valid": 1,
                "row": s.row.shape(),
                "addr": s.addr.shape(),
                "base": s.base.shape(),
                "first": 1,
                "last": 1,
                "here": 1,
                "bank": s.next_bank.shape(),
            }
        )
        t0 = Signal(tag)
        m.d.comb += [
            t0.valid.eq(s.reading),
            t0.row.eq(s.row),
            t0.addr.eq(s.addr),
            t0.base.eq(s.base),
            t0.first.eq(s.tick == 0),
            t0.last.eq(s.tick == s.rows_len - 1),
            t0.here.eq(s.reading & (s.addr == s.next_addr)),
            t0.bank.eq(s.next_bank),
        ]
        t1 = delay(m, t0, 1, "tag")
        index = [Signal(range(par.depth * lanes + lanes), name=f"index{b}") for b in range(lanes)]
        for b in range(lanes):
            m.d.comb += index[b].eq(t1.base + b)

        keep_locals(s, locals(), "index lane_data t1")

    def _vectors(self, m: Module, s: SimpleNamespace) -> None:
        """r_k for the δ path, r_{k−1} (``previous``) for the force path; vector k + 1 passes by in row k."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        # r_k for the δ path; r_{k−1} (``previous``) for the force path. Vector k + 1 passes by in row k.
        current, previous, upcoming = Signal(vec), Signal(vec), Signal(vec)
        passing = Signal(vec)
        m.d.comb += passing.eq(s.lane_data[0])
        for b in range(1, lanes):
            with m.If(s.t1.bank == b):
                m.d.comb += passing.eq(s.lane_data[b])
        here = Signal()
        m.d.comb += here.eq(s.t1.valid & s.t1.here)
        with m.If(here):
            m.d.sync += upcoming.eq(passing)
        with m.If(s.t1.valid & s.t1.last):  # row boundary: r_{k+1} becomes current
            m.d.sync += [previous.eq(current), current.eq(Mux(here, passing, upcoming))]
        with m.If(self.start):
            m.d.sync += upcoming.eq(0)
        with m.If(s.loaded == 0):
            m.d.sync += current.eq(self.i.payload)  # r_0 (the first vector loaded)
        if two:
            with m.If(self.sweep & ~self.busy):
                m.d.sync += upcoming.eq(0)
            with m.If(s.priming):  # a sweep: r_0 from the old set, read the cycle before
                m.d.sync += [current.eq(s.lane_data[0]), s.priming.eq(0)]

        keep_locals(s, locals(), "current previous")

    def _delta_path(self, m: Module, s: SimpleNamespace) -> None:
        """The δ path: d²(r_k, r_i), the masked minimum per lane and across lanes, 1/δ once per row, and the
        run's δ_min."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        # ---- δ path: d²(r_k, r_i), masked min per lane, min across lanes
        lane_mins, row_d2 = [], []
        for b in range(lanes):
            sd = _unit(m, dp.make("distance"), f"distance{b}", {"a": s.current, "b": s.lane_data[b]})
            ts = delay(m, s.t1, dp.distance.latency, f"dtag{b}")
            # The d² row, double-buffered by row parity: row k is written as it leaves the unit and read
            # back by the force path while row k + 1 leaves it (same address, the other half), so
            # d²(r_{k−1}, r_i) arrives one cycle after d²(r_k, r_i) left — the force path's one cycle of skew.
            d2_ram = memory.Memory(shape=dp.d2_fmt.shape(), depth=2 << (par.depth - 1).bit_length(), init=[])
            m.submodules[f"d2_row{b}"] = d2_ram
            d2_w, d2_r = d2_ram.write_port(), d2_ram.read_port(transparent_for=())
            m.d.comb += [
                d2_w.addr.eq(Cat(ts.addr, ts.row[0])),
                d2_w.data.eq(sd.o.payload),
                d2_w.en.eq(ts.valid),
                d2_r.addr.eq(Cat(ts.addr, ~ts.row[0])),
            ]
            row_d2.append(d2_r.data)
            idx = delay(m, s.index[b], dp.distance.latency, f"didx{b}")
            rm = dp.make("running_min")
            m.submodules[f"delta_min{b}"] = rm
            m.d.comb += [
                rm.i.valid.eq(ts.valid),
                rm.i.payload.d2.eq(sd.o.payload),
                rm.i.payload.first.eq(ts.first),
                rm.i.payload.last.eq(ts.last),
                rm.i.payload.mask.eq((idx == ts.row) | (idx >= s.n) | (ts.row >= s.n)),
            ]
            lane_mins.append(rm.o)
        delta = Signal(dp.d2_fmt.shape())  # δ_k, held until the next row's is ready
        lane_min = _min_tree([o.payload for o in lane_mins])
        row_at_min = delay(m, s.t1.row, dp.distance.latency + 1, "mrow")
        delta_fifo = fifo.SyncFIFO(width=dp.d2_fmt.width, depth=_fifo_depth(par))
        m.submodules.delta_fifo = delta_fifo
        with m.If(lane_mins[0].valid):
            m.d.sync += delta.eq(lane_min)
        # 1/δ_k once per row; the force path sees δ_k and 1/δ_k together, recip_wait cycles later
        m.submodules.reciprocal = rec = dp.make("reciprocal")
        m.d.comb += [rec.i.payload.eq(lane_min), rec.i.valid.eq(lane_mins[0].valid)]
        recip = Signal(dp.reciprocal.o_layout)
        with m.If(rec.o.valid):
            m.d.sync += recip.eq(rec.o.payload)
        delta_w = ram_delay(m, delta, par.recip_wait, "delta_w")
        m.d.comb += [delta_fifo.w_data.eq(lane_min), delta_fifo.w_en.eq(lane_mins[0].valid & (row_at_min < s.n))]
        restart = self.start if not two else (self.start | self.sweep) & ~self.busy
        with m.If(restart):
            m.d.sync += self.delta_min.eq(dp.d2_fmt.max_raw)
        with m.Elif(lane_mins[0].valid & (row_at_min < s.n) & (lane_min < self.delta_min)):
            m.d.sync += self.delta_min.eq(lane_min)

        keep_locals(s, locals(), "delta_fifo delta_w recip restart row_d2")

    def _force_path(self, m: Module, s: SimpleNamespace) -> None:
        """The force path: the same reads ``lag`` cycles later, r_{k−1} against r_i, weighted and accumulated per
        lane and candidate, the lanes' accumulators added at the row's end."""
        par = self.parameters
        dp, lanes, two, vec = par.dp, par.lanes, s.two, s.vec
        previous = s.previous
        # ---- force path: the same reads ``lag`` cycles later, r_{k−1} against r_i, weighted, accumulated
        lag = 1 + par.recip_wait
        t2 = delay(m, s.t1, lag, "ftag")
        previous = ram_delay(m, previous, lag, "previous")  # r_{k−1} as the force path, lag cycles behind, needs it
        data2 = [ram_delay(m, s.lane_data[b], lag, f"fdata{b}") for b in range(lanes)]
        idx2 = [delay(m, s.index[b], lag, f"fidx{b}") for b in range(lanes)]
        r_fifo = fifo.SyncFIFO(width=vec.size, depth=_fifo_depth(par))
        m.submodules.r_fifo = r_fifo
        m.d.comb += [r_fifo.w_data.eq(previous.as_value()), r_fifo.w_en.eq(t2.valid & t2.first & (t2.row >= 1))]
        to_product = dp.distance.latency + dp.weight.latency
        half_betas = [self.half_beta] + ([self.half_beta2] if two else [])
        lane_acc = [[] for _ in half_betas]  # per candidate, per lane
        for b in range(lanes):
            wd2 = ram_delay(m, s.row_d2[b], par.recip_wait, f"fd2{b}")
            diff = Signal(data.ArrayLayout(dp.diff_fmt.shape(), dp.dmax), name=f"diff{b}")
            for d in range(dp.dmax):
                m.d.sync += diff[d].eq(previous[d] - data2[b][d])
            diff_late = ram_delay(m, diff, to_product - 1, f"diff{b}")
            tp = delay(m, t2, to_product + dp.force_product.latency, f"ptag{b}")
            ip = delay(m, idx2[b], to_product + dp.force_product.latency, f"pidx{b}")
            live = tp.valid & (tp.row >= 1) & (ip < s.n)
            # the candidates share δ, 1/δ, d², the difference and the weight's L = log2(1 + ρ)
            weight = {"delta": s.delta_w, "recip": s.recip, "d2": wd2, "half_beta": self.half_beta}
            if two:
                weight["half_beta2"] = self.half_beta2
            wt = _unit(
                m,
                RepulsionWeightParameters(dp.d2_fmt, dp.weight_precision, len(half_betas), dp.dsp).create(),
                f"weight{b}",
                weight,
            )
            for c in range(len(half_betas)):
                sfx = "" if c == 0 else f"_{c + 1}"
                prods = _unit(
                    m,
                    dp.make("force_product"),
                    f"product{b}{sfx}",
                    {"w": wt.o.payload if not two else wt.o.payload[c], "diff": diff_late},
                ).o.payload
                acc = Signal(data.ArrayLayout(dp.acc_fmt.shape(), dp.dmax), name=f"acc{b}{sfx}")
                for d in range(dp.dmax):
                    base = Mux(tp.first, 0, acc[d])
                    with m.If(tp.valid):
                        m.d.sync += acc[d].eq(base + Mux(live, prods[d], 0))
                lane_acc[c].append(acc)
            if b == 0:
                tag_p = tp
        row_done = Signal()
        m.d.sync += row_done.eq(tag_p.valid & tag_p.last & (tag_p.row >= 1))
        forces = []
        for c in range(len(half_betas)):
            force = Signal(data.ArrayLayout(dp.acc_fmt.shape(), dp.dmax), name="force" if c == 0 else f"force_{c + 1}")
            for d in range(dp.dmax):
                m.d.sync += force[d].eq(sum(acc[d] for acc in lane_acc[c]))
            forces.append(force)
        force = forces[0]
        force_valid = delay(m, row_done, 1, "fvalid")

        keep_locals(s, locals(), "force force_valid forces r_fifo")

    def _step_single(self, m: Module, s: SimpleNamespace) -> None:
        """Steps 3–5 for vector k − 1 (one candidate): its new vector out on ``o``, its move added to S."""
        m.d.comb += [
            s.r_fifo.r_en.eq(s.force_valid),
            s.delta_fifo.r_en.eq(s.force_valid),
            s.vs.i.valid.eq(s.force_valid),
            s.vs.i.payload.force.eq(s.force),
            s.vs.i.payload.delta.eq(s.delta_fifo.r_data),
            s.vs.i.payload.r.eq(s.r_fifo.r_data),
            s.vs.step.eq(self.step),
        ]
        m.d.comb += [self.o.valid.eq(s.vs.o.valid), self.o.payload.eq(s.vs.o.payload.r)]
        with m.If(self.start):
            m.d.sync += self.move_norm.eq(0)
        with m.Elif(s.vs.o.valid):
            m.d.sync += [self.move_norm.eq(self.move_norm + s.vs.o.payload.s), s.outputs.eq(s.outputs + 1)]

    def _step_pair(self, m: Module, s: SimpleNamespace) -> None:
        """Steps 3–5 for vector k − 1 (two candidates, one interval apart), ``o``'s sources (candidate 1 after a
        start, the old set after an emit) and the candidates' write-back into their sets."""
        par = self.parameters
        dp, lanes, vec = par.dp, par.lanes, s.vec
        # Candidate 1 enters the step with the row's force; candidate 2, from copies held since then, one
        # interval later (rows last at least two intervals, so the next row's candidate 1 comes after it).
        force2, r_held, delta_held = Signal.like(s.forces[1]), Signal(vec), Signal(dp.d2_fmt.shape())
        with m.If(s.force_valid):
            m.d.sync += [force2.eq(s.forces[1]), r_held.eq(s.r_fifo.r_data), delta_held.eq(s.delta_fifo.r_data)]
        again = delay(m, s.force_valid, par.step_unit.interval, "again")
        m.d.comb += [
            s.r_fifo.r_en.eq(s.force_valid),
            s.delta_fifo.r_en.eq(s.force_valid),
            s.vs.step.eq(self.step),
            s.vs.i.valid.eq(s.force_valid | again),
            s.vs.i.payload.second.eq(again),
            s.vs.i.payload.force.eq(Mux(again, force2, s.force)),
            s.vs.i.payload.r.eq(Mux(again, r_held, s.r_fifo.r_data)),
            s.vs.i.payload.delta.eq(Mux(again, delta_held, s.delta_fifo.r_data)),
            s.vs.step2.eq(self.step2),
        ]
        second = Signal()  # the step's results alternate: candidate 1, then candidate 2 of the same vector
        # ``o``: candidate 1 after a start; the old set after an emit (its reads, one cycle later)
        emit_valid = delay(m, s.emitting, 1, "emit_valid")
        emit_lane = delay(m, s.emit_bank, 1, "emit_lane")
        emitted = Signal(vec)
        m.d.comb += emitted.eq(s.lane_data[0])
        for b in range(1, lanes):
            with m.If(emit_lane == b):
                m.d.comb += emitted.eq(s.lane_data[b])
        m.d.comb += [
            self.o.valid.eq(emit_valid | (s.forward & s.vs.o.valid & ~second)),
            self.o.payload.eq(Mux(emit_valid, emitted, s.vs.o.payload.r)),
        ]
        with m.If(s.restart):
            m.d.sync += [self.move_norm.eq(0), self.move_norm2.eq(0), second.eq(0)]
        with m.Elif(s.vs.o.valid):
            m.d.sync += second.eq(~second)
            with m.If(second):
                m.d.sync += [self.move_norm2.eq(self.move_norm2 + s.vs.o.payload.s), s.outputs.eq(s.outputs + 1)]
            with m.Else():
                m.d.sync += self.move_norm.eq(self.move_norm + s.vs.o.payload.s)
        with m.Elif(emit_valid):
            m.d.sync += s.outputs.eq(s.outputs + 1)
        # the candidates into their sets: vector j at bank j mod L, address ⌊j/L⌋ (candidate 1 into the set
        # ``cand_a``, then candidate 2 into ``cand_b``, same address)
        write_bank, write_addr = Signal(range(lanes)), Signal(range(par.depth))
        with m.If(s.restart | (self.load & ~self.busy)):
            m.d.sync += [write_bank.eq(0), write_addr.eq(0)]
        with m.Elif(s.vs.o.valid & second):
            with m.If(write_bank == lanes - 1):
                m.d.sync += [write_bank.eq(0), write_addr.eq(write_addr + 1)]
            with m.Else():
                m.d.sync += write_bank.eq(write_bank + 1)
        for b in range(lanes):
            for k, (wp, _) in enumerate(s.sets[b]):
                loading = s.load_write & (s.load_bank == b) & (s.old == k)
                target = Mux(second, s.cand_b == k, s.cand_a == k)
                m.d.comb += [
                    wp.en.eq(loading | (s.vs.o.valid & (write_bank == b) & target)),
                    wp.addr.eq(Mux(loading, s.load_addr, write_addr)),
                    wp.data.eq(Mux(loading, self.i.payload, s.vs.o.payload.r)),
                ]


def _fifo_depth(updater: VectorUpdaterParameters) -> int:
    # Rows can be one cycle long; a row's F* leaves the force pipeline ``force_latency`` cycles after its
    # r and δ were queued, so that many entries can wait at once.
    return 1 << (updater.force_latency + 4).bit_length()


def _min_tree(values):
    values = list(values)
    while len(values) > 1:
        values = [
            Mux(values[j + 1] < values[j], values[j + 1], values[j]) if j + 1 < len(values) else values[j]
            for j in range(0, len(values), 2)
        ]
    return values[0]
