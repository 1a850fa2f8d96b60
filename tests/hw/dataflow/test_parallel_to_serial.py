"""The P/S converter (hw/dataflow/parallel_to_serial.py) under Verilator (``tests/benches/tb_streams.py``): vectors in
(always taken, with gaps), coordinates out under random ``ready``; the first D of each vector, in order, none
lost, and the updater never waits."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.parallel_to_serial import ParallelToSerial

from ...benches.streams import Channel, Item, run_channels

FMT, NMAX, DMAX = Q(2, 6), 32, 4


class AtDimension(wiring.Component):
    """The converter with its runtime dimension tied to ``d`` and ``clear`` low; ``i`` always ready."""

    def __init__(self, d: int):
        self.unit, self.d = ParallelToSerial(FMT, NMAX, DMAX), d
        super().__init__(
            {"i": In(stream.Signature(data.ArrayLayout(FMT.shape(), DMAX))), "o": Out(stream.Signature(FMT.shape()))}
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit
        m.d.comb += [
            self.unit.i.valid.eq(self.i.valid),
            self.unit.i.payload.eq(self.i.payload),
            self.i.ready.eq(1),
            self.unit.d.eq(self.d),
            self.unit.clear.eq(0),
        ]
        connect(m, self.unit.o, flipped(self.o))
        return m


def vectors(seed, count):
    return np.random.default_rng(seed).integers(FMT.min_raw, FMT.max_raw, (count, DMAX), endpoint=True).tolist()


CASES = {  # d, vectors (at most Nmax), input gap, output ready probability
    "exact": (3, vectors(1, 10), 0, 1.0),
    "gaps": (4, vectors(2, 32), 2, 0.6),
    "slow": (2, vectors(3, 20), 0, 0.05),
}


@pytest.fixture(scope="module")
def results():
    units = {name: AtDimension(d) for name, (d, *_) in CASES.items()}
    channels = {}
    for k, (name, (_, vecs, gap, p)) in enumerate(CASES.items()):
        rng = np.random.default_rng(20 + k)
        channels[name] = Channel(
            inputs={"i": [Item(v, int(rng.integers(0, gap + 1))) for v in vecs]}, ready={"o": p}, seed=k, drain=60
        )
    return run_channels(units, channels)


@pytest.mark.parametrize("name", CASES)
def test_coordinates_leave_in_order(results, name):
    d, vecs, gap, _ = CASES[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert [p for _, _, p in out["outputs"]["o"]] == [x for v in vecs for x in v[:d]]
    taken = out["inputs"]["i"]  # the vectors are taken as they come: the updater never waits
    assert len(taken) == len(vecs) and (gap or taken == list(range(taken[0], taken[0] + len(vecs))))


def test_the_first_coordinate_leaves_three_cycles_after_its_vector(results):
    """A vector written in cycle t is read in t + 1 (FETCH), latched in t + 2, offered from t + 3."""
    taken = results["exact"]["inputs"]["i"]
    assert results["exact"]["outputs"]["o"][0][0] == taken[0] + 3
