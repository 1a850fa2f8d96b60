"""Shared checks for the unit tests: formats under test, random inputs, RTL-vs-model scoreboards."""

import numpy as np

from spherecode.hw.fixed import Q

from ..benches.streams import stream_through

#: The paper's format and a narrow one.
FORMATS = [Q(3, 44), Q(2, 20)]
RANDOM = 10_000


def ids(fmt):
    return str(fmt)


def log_uniform(rng, low_exp, high_exp, n, frac):
    """Raw values 2^e · 2^frac with e uniform in [low_exp, high_exp): covers every binade."""
    return np.maximum((2.0 ** rng.uniform(low_exp, high_exp, n) * 2.0**frac).astype(np.int64), 1)


def check_rtl(unit, payloads, expected):
    """Stream ``payloads`` through ``unit`` under Verilator; every output must equal the model's, in
    order, the first one ``unit.latency`` cycles after the first input, then one per clock."""
    out, cycles = stream_through(unit, payloads)
    assert len(out) == len(expected)
    mismatches = [(k, o, e) for k, (o, e) in enumerate(zip(out, expected)) if o != e]
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    assert cycles[0] == unit.latency and cycles[-1] == unit.latency + len(payloads) - 1
