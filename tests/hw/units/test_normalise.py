"""Leading-one detection and normalisation: the models against their definitions, and the gateware (Amaranth's
simulator) against the models, bit for bit, at the stated latency."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from spherecode.hw.units.normalise import LATENCY, compute_normalise, compute_segment, normalise, segment


def _inputs(width: int, count: int, seed: int) -> np.ndarray:
    """Edges (0, 1, every power of two, every all-ones value, the largest) and log-uniform random values."""
    rng = np.random.default_rng(seed)
    powers = [1 << k for k in range(width)]
    edges = [0, *powers, *[(p << 1) - 1 for p in powers]]
    random = rng.integers(1, 1 << rng.integers(1, width + 1, count), dtype=np.int64)
    return np.array(edges + random.tolist(), dtype=np.int64)


@pytest.mark.parametrize("width", [2, 16, 45, 62])
def test_normalise_model_is_the_definition(width):
    """x = 2^pos · (1 + frac / 2^(W−1)) with 0 ≤ frac < 2^(W−1): exactly, in integers; x = 0 gives (0, 0)."""
    x = _inputs(width, 2000, width)
    pos, frac = compute_normalise(x, width)
    assert (pos[x == 0] == 0).all() and (frac[x == 0] == 0).all()
    assert ((frac >= 0) & (frac < 1 << (width - 1))).all()
    for xi, p, f in zip(x.tolist(), pos.tolist(), frac.tolist()):
        if xi:
            assert xi << (width - 1) == ((1 << (width - 1)) + f) << p, (xi, p, f)


@pytest.mark.parametrize("frac_bits, index_bits, u_frac", [(15, 4, 13), (15, 4, 11), (15, 4, 8), (47, 6, 30)])
def test_segment_model_is_the_definition(frac_bits, index_bits, u_frac):
    """k: the top ``index_bits``; u: the offset from the segment's midpoint, in [−½, ½) with ``u_frac`` fraction
    bits — exact where u_frac ≥ the bits below the index, otherwise rounded down."""
    frac = np.random.default_rng(frac_bits + u_frac).integers(0, 1 << frac_bits, 3000, dtype=np.int64)
    frac = np.concatenate([frac, [0, 1, (1 << frac_bits) - 1]])
    k, u = compute_segment(frac, frac_bits, index_bits, u_frac)
    low = frac_bits - index_bits
    assert np.array_equal(k, frac >> low) and ((k >= 0) & (k < 1 << index_bits)).all()
    assert ((u >= -(1 << (u_frac - 1))) & (u < 1 << (u_frac - 1))).all()
    for f, ki, ui in zip(frac.tolist(), k.tolist(), u.tolist()):
        offset = f - (ki << low) - (1 << (low - 1))  # from the midpoint, in units of the last bit of frac
        if u_frac >= low:
            assert ui == offset << (u_frac - low)
        else:
            assert ui == offset >> (low - u_frac)  # floor


@pytest.mark.parametrize("u_frac", [13, 8])
def test_gateware_is_the_model_two_cycles_later(u_frac):
    """normalise's (pos, frac, zero) and segment's (k, u) on its frac, a new input every clock (W = 16, the
    edges and 300 random values), against the models."""
    width, index_bits = 16, 4
    m = Module()
    x = Signal(width)
    pos, frac, zero = normalise(m, x, width)
    k_value, u_value = segment(frac, width - 1, index_bits, u_frac)
    k, u = Signal(index_bits), Signal(signed(u_frac + 1))
    m.d.comb += [k.eq(k_value), u.eq(u_value)]
    values = _inputs(width, 300, 1).tolist()
    seen = []

    async def bench(ctx):
        for value in values + [0] * LATENCY:
            ctx.set(x, value)
            await ctx.tick()
            seen.append((ctx.get(pos), ctx.get(frac), ctx.get(zero), ctx.get(k), ctx.get(u)))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    got = np.array(seen[LATENCY - 1 : LATENCY - 1 + len(values)])
    want_pos, want_frac = compute_normalise(np.array(values), width)
    want_k, want_u = compute_segment(want_frac, width - 1, index_bits, u_frac)
    assert np.array_equal(got[:, 0], want_pos) and np.array_equal(got[:, 1], want_frac)
    assert np.array_equal(got[:, 2], np.array(values) == 0)
    assert np.array_equal(got[:, 3], want_k) and np.array_equal(got[:, 4], want_u)
