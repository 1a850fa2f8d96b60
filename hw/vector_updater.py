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

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import Datapath
from .pipeline import delay, parameters_only, ram_delay
from .vector_step import VectorStep, _unit
from .weight import RepulsionWeight

__all__ = ["VectorUpdater", "MAX_LANES"]

#: Most lanes a :class:`VectorUpdater` builds (memory banks, squared-distance units, weights).
MAX_LANES = 16


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

    def __init__(self, dp: Datapath, lanes: int = 1, candidates: int = 1):
        if not (isinstance(lanes, int) and 1 <= lanes <= MAX_LANES):
            raise ValueError(f"lanes must be in 1..{MAX_LANES}, not {lanes!r}")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates not in (1, 2):
            raise ValueError(f"candidates must be 1 or 2, not {candidates!r}")
        self.dp, self.lanes, self.candidates = dp, lanes, candidates
        self.depth = -(-dp.nmax // lanes)
        self.step_unit = parameters_only(VectorStep(dp, candidates))
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
        super().__init__(members)

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

    def elaborate(self, platform):
        m = Module()
        dp, lanes = self.dp, self.lanes
        vec = data.ArrayLayout(dp.fmt.shape(), dp.dmax)
        n = Signal.like(self.n)
        rows_len = Signal(range(self.depth + 1))  # ⌈N/L⌉, counted while loading
        row_len = Signal(range(max(self.depth, self.row_min) + 1))  # max(⌈N/L⌉, row_min), once loaded
        m.d.comb += row_len.eq(Mux(rows_len < self.row_min, self.row_min, rows_len))

        two = self.candidates == 2
        banks = []
        if not two:
            for b in range(lanes):
                mem = memory.Memory(shape=vec, depth=self.depth, init=[])
                m.submodules[f"bank{b}"] = mem
                banks.append((mem.write_port(), mem.read_port(transparent_for=())))
        else:  # three sets per lane: the old set and the two candidates, by the pointers old, ca, cb
            sets = []
            for b in range(lanes):
                ports = []
                for k in range(3):
                    mem = memory.Memory(shape=vec, depth=self.depth, init=[])
                    m.submodules[f"bank{b}_set{k}"] = mem
                    ports.append((mem.write_port(), mem.read_port(transparent_for=())))
                sets.append(ports)
            old, cand_a, cand_b = Signal(2, init=0), Signal(2, init=1), Signal(2, init=2)
            forward = Signal()  # a start (load + sweep): candidate 1 also goes to ``o``
            load_only, priming, emitting = Signal(), Signal(), Signal()
            load_write = Signal()
            emit_bank, emit_addr = Signal(range(lanes)), Signal(range(self.depth))
            emit_count = Signal(range(dp.nmax + 1))

        # ---- control: IDLE → LOAD → COMPUTE → WAIT → IDLE
        load_bank, load_addr, loaded = Signal(range(lanes)), Signal(range(self.depth)), Signal(range(dp.nmax + 1))
        row, tick = Signal(range(dp.nmax + 2)), Signal(range(max(self.depth, self.row_min)))
        addr = Signal(range(self.depth))  # the read address: tick, while the row reads
        m.d.comb += addr.eq(tick)
        base = Signal(range(self.depth * lanes + 1))  # addr · L, counted: index of lane 0's vector
        next_bank, next_addr = Signal(range(lanes)), Signal(range(self.depth + 1))  # where r_{row+1} lies
        reading = Signal()
        outputs = Signal(range(dp.nmax + 1))
        m.d.comb += self.busy.eq(1)
        m.d.sync += self.done.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.busy.eq(0)
                with m.If(self.start):
                    m.d.sync += [
                        n.eq(self.n),
                        rows_len.eq(0),
                        load_bank.eq(0),
                        load_addr.eq(0),
                        loaded.eq(0),
                        outputs.eq(0),
                    ]
                    if two:
                        m.d.sync += [forward.eq(1), load_only.eq(0)]
                    m.next = "LOAD"
                if two:
                    with m.Elif(self.load):
                        m.d.sync += [
                            n.eq(self.n),
                            rows_len.eq(0),
                            load_bank.eq(0),
                            load_addr.eq(0),
                            loaded.eq(0),
                            load_only.eq(1),
                        ]
                        m.next = "LOAD"
                    with m.Elif(self.sweep):  # r_0 is read at address 0 now (tick is 0 while idle)
                        m.d.sync += [
                            outputs.eq(0),
                            forward.eq(0),
                            priming.eq(1),
                            row.eq(0),
                            tick.eq(0),
                            base.eq(0),
                            next_bank.eq(1 % lanes),
                            next_addr.eq(1 if lanes == 1 else 0),
                        ]
                        m.next = "COMPUTE"
                    with m.Elif(self.emit):
                        m.d.sync += [outputs.eq(0), emit_bank.eq(0), emit_addr.eq(0), emit_count.eq(0)]
                        m.next = "EMIT"
                    with m.Elif(self.choose):  # the kept candidate's set becomes the old set
                        with m.If(self.raised):
                            m.d.sync += [old.eq(cand_b), cand_b.eq(old)]
                        with m.Else():
                            m.d.sync += [old.eq(cand_a), cand_a.eq(old)]
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    if two:
                        m.d.comb += load_write.eq(1)
                    else:
                        for b, (wp, _) in enumerate(banks):
                            m.d.comb += [wp.addr.eq(load_addr), wp.data.eq(self.i.payload), wp.en.eq(load_bank == b)]
                    m.d.sync += loaded.eq(loaded + 1)
                    with m.If(load_bank == 0):
                        m.d.sync += rows_len.eq(rows_len + 1)
                    with m.If(load_bank == lanes - 1):
                        m.d.sync += [load_bank.eq(0), load_addr.eq(load_addr + 1)]
                    with m.Else():
                        m.d.sync += load_bank.eq(load_bank + 1)
                    with m.If(loaded + 1 == n):
                        m.d.sync += [
                            row.eq(0),
                            tick.eq(0),
                            base.eq(0),
                            next_bank.eq(1 % lanes),
                            next_addr.eq(1 if lanes == 1 else 0),
                        ]
                        if two:
                            with m.If(load_only):
                                m.d.sync += self.done.eq(1)
                                m.next = "IDLE"
                            with m.Else():
                                m.next = "COMPUTE"
                        else:
                            m.next = "COMPUTE"
            with m.State("COMPUTE"):
                m.d.comb += reading.eq(tick < rows_len)
                with m.If(tick == row_len - 1):
                    m.d.sync += [tick.eq(0), base.eq(0), row.eq(row + 1)]
                    with m.If(next_bank == lanes - 1):
                        m.d.sync += [next_bank.eq(0), next_addr.eq(next_addr + 1)]
                    with m.Else():
                        m.d.sync += next_bank.eq(next_bank + 1)
                    with m.If(row == n):
                        m.next = "WAIT"
                with m.Else():
                    m.d.sync += [tick.eq(tick + 1), base.eq(base + lanes)]
            with m.State("WAIT"):
                with m.If((outputs == n) & ~self.o.valid):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
            if two:
                with m.State("EMIT"):  # the old set, vector after vector
                    m.d.comb += [emitting.eq(1), addr.eq(emit_addr)]
                    m.d.sync += emit_count.eq(emit_count + 1)
                    with m.If(emit_bank == lanes - 1):
                        m.d.sync += [emit_bank.eq(0), emit_addr.eq(emit_addr + 1)]
                    with m.Else():
                        m.d.sync += emit_bank.eq(emit_bank + 1)
                    with m.If(emit_count + 1 == n):
                        m.next = "WAIT"

        # ---- stage 1: memory data, with the read's tags
        if not two:
            for _, rp in banks:
                m.d.comb += rp.addr.eq(addr)
            lane_data = [rp.data for _, rp in banks]
        else:
            lane_data = []
            for b in range(lanes):
                for _, rp in sets[b]:
                    m.d.comb += rp.addr.eq(addr)
                out = Signal(vec, name=f"lane_data{b}")
                m.d.comb += out.eq(sets[b][0][1].data)
                for k in (1, 2):
                    with m.If(old == k):
                        m.d.comb += out.eq(sets[b][k][1].data)
                lane_data.append(out)
        tag = data.StructLayout(
            {
                "valid": 1,
                "row": row.shape(),
                "addr": addr.shape(),
                "base": base.shape(),
                "first": 1,
                "last": 1,
                "here": 1,
                "bank": next_bank.shape(),
            }
        )
        t0 = Signal(tag)
        m.d.comb += [
            t0.valid.eq(reading),
            t0.row.eq(row),
            t0.addr.eq(addr),
            t0.base.eq(base),
            t0.first.eq(tick == 0),
            t0.last.eq(tick == rows_len - 1),
            t0.here.eq(reading & (addr == next_addr)),
            t0.bank.eq(next_bank),
        ]
        t1 = delay(m, t0, 1, "tag")
        index = [Signal(range(self.depth * lanes + lanes), name=f"index{b}") for b in range(lanes)]
        for b in range(lanes):
            m.d.comb += index[b].eq(t1.base + b)

        # r_k for the δ path; r_{k−1} (``previous``) for the force path. Vector k + 1 passes by in row k.
        current, previous, upcoming = Signal(vec), Signal(vec), Signal(vec)
        passing = Signal(vec)
        m.d.comb += passing.eq(lane_data[0])
        for b in range(1, lanes):
            with m.If(t1.bank == b):
                m.d.comb += passing.eq(lane_data[b])
        here = Signal()
        m.d.comb += here.eq(t1.valid & t1.here)
        with m.If(here):
            m.d.sync += upcoming.eq(passing)
        with m.If(t1.valid & t1.last):  # row boundary: r_{k+1} becomes current
            m.d.sync += [previous.eq(current), current.eq(Mux(here, passing, upcoming))]
        with m.If(self.start):
            m.d.sync += upcoming.eq(0)
        with m.If(loaded == 0):
            m.d.sync += current.eq(self.i.payload)  # r_0 (the first vector loaded)
        if two:
            with m.If(self.sweep & ~self.busy):
                m.d.sync += upcoming.eq(0)
            with m.If(priming):  # a sweep: r_0 from the old set, read the cycle before
                m.d.sync += [current.eq(lane_data[0]), priming.eq(0)]

        # ---- δ path: d²(r_k, r_i), masked min per lane, min across lanes
        lane_mins, row_d2 = [], []
        for b in range(lanes):
            sd = _unit(m, dp.make("distance"), f"distance{b}", {"a": current, "b": lane_data[b]})
            ts = delay(m, t1, dp.distance.latency, f"dtag{b}")
            # The d² row, double-buffered by row parity: row k is written as it leaves the unit and read
            # back by the force path while row k + 1 leaves it (same address, the other half), so
            # d²(r_{k−1}, r_i) arrives one cycle after d²(r_k, r_i) left — the force path's one cycle of skew.
            d2_ram = memory.Memory(shape=dp.d2_fmt.shape(), depth=2 << (self.depth - 1).bit_length(), init=[])
            m.submodules[f"d2_row{b}"] = d2_ram
            d2_w, d2_r = d2_ram.write_port(), d2_ram.read_port(transparent_for=())
            m.d.comb += [
                d2_w.addr.eq(Cat(ts.addr, ts.row[0])),
                d2_w.data.eq(sd.o.payload),
                d2_w.en.eq(ts.valid),
                d2_r.addr.eq(Cat(ts.addr, ~ts.row[0])),
            ]
            row_d2.append(d2_r.data)
            idx = delay(m, index[b], dp.distance.latency, f"didx{b}")
            rm = dp.make("running_min")
            m.submodules[f"delta_min{b}"] = rm
            m.d.comb += [
                rm.i.valid.eq(ts.valid),
                rm.i.payload.d2.eq(sd.o.payload),
                rm.i.payload.first.eq(ts.first),
                rm.i.payload.last.eq(ts.last),
                rm.i.payload.mask.eq((idx == ts.row) | (idx >= n) | (ts.row >= n)),
            ]
            lane_mins.append(rm.o)
        delta = Signal(dp.d2_fmt.shape())  # δ_k, held until the next row's is ready
        lane_min = _min_tree([o.payload for o in lane_mins])
        row_at_min = delay(m, t1.row, dp.distance.latency + 1, "mrow")
        delta_fifo = fifo.SyncFIFO(width=dp.d2_fmt.width, depth=_fifo_depth(self))
        m.submodules.delta_fifo = delta_fifo
        with m.If(lane_mins[0].valid):
            m.d.sync += delta.eq(lane_min)
        # 1/δ_k once per row; the force path sees δ_k and 1/δ_k together, recip_wait cycles later
        m.submodules.reciprocal = rec = dp.make("reciprocal")
        m.d.comb += [rec.i.payload.eq(lane_min), rec.i.valid.eq(lane_mins[0].valid)]
        recip = Signal(rec.o_layout)
        with m.If(rec.o.valid):
            m.d.sync += recip.eq(rec.o.payload)
        delta_w = ram_delay(m, delta, self.recip_wait, "delta_w")
        m.d.comb += [delta_fifo.w_data.eq(lane_min), delta_fifo.w_en.eq(lane_mins[0].valid & (row_at_min < n))]
        restart = self.start if not two else (self.start | self.sweep) & ~self.busy
        with m.If(restart):
            m.d.sync += self.delta_min.eq(dp.d2_fmt.max_raw)
        with m.Elif(lane_mins[0].valid & (row_at_min < n) & (lane_min < self.delta_min)):
            m.d.sync += self.delta_min.eq(lane_min)

        # ---- force path: the same reads ``lag`` cycles later, r_{k−1} against r_i, weighted, accumulated
        lag = 1 + self.recip_wait
        t2 = delay(m, t1, lag, "ftag")
        previous = ram_delay(m, previous, lag, "previous")  # r_{k−1} as the force path, lag cycles behind, needs it
        data2 = [ram_delay(m, lane_data[b], lag, f"fdata{b}") for b in range(lanes)]
        idx2 = [delay(m, index[b], lag, f"fidx{b}") for b in range(lanes)]
        r_fifo = fifo.SyncFIFO(width=vec.size, depth=_fifo_depth(self))
        m.submodules.r_fifo = r_fifo
        m.d.comb += [r_fifo.w_data.eq(previous.as_value()), r_fifo.w_en.eq(t2.valid & t2.first & (t2.row >= 1))]
        to_product = dp.distance.latency + dp.weight.latency
        half_betas = [self.half_beta] + ([self.half_beta2] if two else [])
        lane_acc = [[] for _ in half_betas]  # per candidate, per lane
        for b in range(lanes):
            wd2 = ram_delay(m, row_d2[b], self.recip_wait, f"fd2{b}")
            diff = Signal(data.ArrayLayout(dp.diff_fmt.shape(), dp.dmax), name=f"diff{b}")
            for d in range(dp.dmax):
                m.d.sync += diff[d].eq(previous[d] - data2[b][d])
            diff_late = ram_delay(m, diff, to_product - 1, f"diff{b}")
            tp = delay(m, t2, to_product + dp.force_product.latency, f"ptag{b}")
            ip = delay(m, idx2[b], to_product + dp.force_product.latency, f"pidx{b}")
            live = tp.valid & (tp.row >= 1) & (ip < n)
            # the candidates share δ, 1/δ, d², the difference and the weight's L = log2(1 + ρ)
            weight = {"delta": delta_w, "recip": recip, "d2": wd2, "half_beta": self.half_beta}
            if two:
                weight["half_beta2"] = self.half_beta2
            wt = _unit(
                m, RepulsionWeight(dp.d2_fmt, dp.weight_precision, len(half_betas), dp.dsp), f"weight{b}", weight
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

        # ---- steps 3–5 for vector k − 1
        m.submodules.step = vs = VectorStep(dp, self.candidates)
        if not two:
            m.d.comb += [
                r_fifo.r_en.eq(force_valid),
                delta_fifo.r_en.eq(force_valid),
                vs.i.valid.eq(force_valid),
                vs.i.payload.force.eq(force),
                vs.i.payload.delta.eq(delta_fifo.r_data),
                vs.i.payload.r.eq(r_fifo.r_data),
                vs.step.eq(self.step),
            ]
            m.d.comb += [self.o.valid.eq(vs.o.valid), self.o.payload.eq(vs.o.payload.r)]
            with m.If(self.start):
                m.d.sync += self.move_norm.eq(0)
            with m.Elif(vs.o.valid):
                m.d.sync += [self.move_norm.eq(self.move_norm + vs.o.payload.s), outputs.eq(outputs + 1)]
            return m

        # Candidate 1 enters the step with the row's force; candidate 2, from copies held since then, one
        # interval later (rows last at least two intervals, so the next row's candidate 1 comes after it).
        force2, r_held, delta_held = Signal.like(forces[1]), Signal(vec), Signal(dp.d2_fmt.shape())
        with m.If(force_valid):
            m.d.sync += [force2.eq(forces[1]), r_held.eq(r_fifo.r_data), delta_held.eq(delta_fifo.r_data)]
        again = delay(m, force_valid, self.step_unit.interval, "again")
        m.d.comb += [
            r_fifo.r_en.eq(force_valid),
            delta_fifo.r_en.eq(force_valid),
            vs.step.eq(self.step),
            vs.i.valid.eq(force_valid | again),
            vs.i.payload.second.eq(again),
            vs.i.payload.force.eq(Mux(again, force2, force)),
            vs.i.payload.r.eq(Mux(again, r_held, r_fifo.r_data)),
            vs.i.payload.delta.eq(Mux(again, delta_held, delta_fifo.r_data)),
            vs.step2.eq(self.step2),
        ]
        second = Signal()  # the step's results alternate: candidate 1, then candidate 2 of the same vector
        # ``o``: candidate 1 after a start; the old set after an emit (its reads, one cycle later)
        emit_valid = delay(m, emitting, 1, "emit_valid")
        emit_lane = delay(m, emit_bank, 1, "emit_lane")
        emitted = Signal(vec)
        m.d.comb += emitted.eq(lane_data[0])
        for b in range(1, lanes):
            with m.If(emit_lane == b):
                m.d.comb += emitted.eq(lane_data[b])
        m.d.comb += [
            self.o.valid.eq(emit_valid | (forward & vs.o.valid & ~second)),
            self.o.payload.eq(Mux(emit_valid, emitted, vs.o.payload.r)),
        ]
        with m.If(restart):
            m.d.sync += [self.move_norm.eq(0), self.move_norm2.eq(0), second.eq(0)]
        with m.Elif(vs.o.valid):
            m.d.sync += second.eq(~second)
            with m.If(second):
                m.d.sync += [self.move_norm2.eq(self.move_norm2 + vs.o.payload.s), outputs.eq(outputs + 1)]
            with m.Else():
                m.d.sync += self.move_norm.eq(self.move_norm + vs.o.payload.s)
        with m.Elif(emit_valid):
            m.d.sync += outputs.eq(outputs + 1)
        # the candidates into their sets: vector j at bank j mod L, address ⌊j/L⌋ (candidate 1 into the set
        # ``cand_a``, then candidate 2 into ``cand_b``, same address)
        write_bank, write_addr = Signal(range(lanes)), Signal(range(self.depth))
        with m.If(restart | (self.load & ~self.busy)):
            m.d.sync += [write_bank.eq(0), write_addr.eq(0)]
        with m.Elif(vs.o.valid & second):
            with m.If(write_bank == lanes - 1):
                m.d.sync += [write_bank.eq(0), write_addr.eq(write_addr + 1)]
            with m.Else():
                m.d.sync += write_bank.eq(write_bank + 1)
        for b in range(lanes):
            for k, (wp, _) in enumerate(sets[b]):
                loading = load_write & (load_bank == b) & (old == k)
                target = Mux(second, cand_b == k, cand_a == k)
                m.d.comb += [
                    wp.en.eq(loading | (vs.o.valid & (write_bank == b) & target)),
                    wp.addr.eq(Mux(loading, load_addr, write_addr)),
                    wp.data.eq(Mux(loading, self.i.payload, vs.o.payload.r)),
                ]
        return m


def _fifo_depth(updater: VectorUpdater) -> int:
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
