"""The S/P converter (hw/dataflow/serial_to_parallel.py) under Verilator (``tests/benches/tb_streams.py``): coordinates
in with random gaps, vectors out under random ``ready``; every vector D-wide with zeros above D, none lost or
repeated, and a vector offered the cycle after its last coordinate is taken."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.serial_to_parallel import SerialToParallel

from ...benches.streams import Channel, Item, run_channels

FMT, DMAX = Q(2, 6), 4


class AtDimension(wiring.Component):
    """The converter with its runtime dimension tied to ``d``."""

    def __init__(self, d: int):
        self.unit, self.d = SerialToParallel(FMT, DMAX), d
        super().__init__(
            {"i": In(stream.Signature(FMT.shape())), "o": Out(stream.Signature(data.ArrayLayout(FMT.shape(), DMAX)))}
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit
        connect(m, flipped(self.i), self.unit.i)
        connect(m, self.unit.o, flipped(self.o))
        m.d.comb += self.unit.d.eq(self.d)
        return m


def vectors(seed, count, d):
    return np.random.default_rng(seed).integers(FMT.min_raw, FMT.max_raw, (count, d), endpoint=True).tolist()


CASES = {  # d, vectors, input gap, output ready probability
    "exact": (3, vectors(1, 12, 3), 0, 1.0),
    "gaps": (4, vectors(2, 20, 4), 3, 0.5),
    "stalled": (2, vectors(3, 15, 2), 0, 0.1),
}


@pytest.fixture(scope="module")
def results():
    units = {name: AtDimension(d) for name, (d, *_) in CASES.items()}
    channels = {}
    for k, (name, (_, vecs, gap, p)) in enumerate(CASES.items()):
        rng = np.random.default_rng(10 + k)
        items = [Item(int(x), int(rng.integers(0, gap + 1))) for v in vecs for x in v]
        channels[name] = Channel(inputs={"i": items}, ready={"o": p}, seed=k, drain=40)
    return run_channels(units, channels)


@pytest.mark.parametrize("name", CASES)
def test_vectors_leave_whole_in_order(results, name):
    d, vecs, _, _ = CASES[name]
    out = results[name]
    assert not out["limit"] and out["violations"] == []
    assert [list(p) for _, _, p in out["outputs"]["o"]] == [v + [0] * (DMAX - d) for v in vecs]


def test_a_vector_is_offered_the_cycle_after_its_last_coordinate(results):
    d, vecs, _, _ = CASES["exact"]
    taken = results["exact"]["inputs"]["i"]
    offered = [a for a, _, _ in results["exact"]["outputs"]["o"]]
    assert offered == [taken[(k + 1) * d - 1] + 1 for k in range(len(vecs))]
