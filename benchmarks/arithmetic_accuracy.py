"""Measured accuracy of every arithmetic unit against float64, and the model's speed.

    python benchmarks/arithmetic_accuracy.py [--format Q3.44] [--samples 1000000] [--write docs/results/NAME.md]

The errors are those of each unit's bit-exact model (its ``compute``, which the RTL matches bit for bit,
tests/hw), on random inputs covering every binade of each unit's domain; the throughput is the model's,
on this machine. ``--write FILE`` also writes the table with a header naming the command, commit, date and
machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spherecode.hw.units.distance import RunningMinParameters, SquaredDistanceParameters, d2_format
from spherecode.hw.fixed import Q
from spherecode.hw.units.multiplier import MultiplierParameters
from spherecode.hw.units.rsqrt import RSqrtParameters
from spherecode.hw.units.reciprocal import ReciprocalParameters
from spherecode.hw.units.weight import RepulsionWeightParameters, weight_precision


def log_uniform(rng, lo, hi, n, frac):
    return np.maximum((2.0 ** rng.uniform(lo, hi, n) * 2.0**frac).astype(np.int64), 1)


def timed(f, *args):
    f(*(a[:1000] for a in args))  # warm-up
    t = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", default="Q3.44")
    p.add_argument("--samples", type=int, default=1_000_000)
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()
    fmt, n = Q.parse(args.format), args.samples
    rng = np.random.default_rng(0)
    rows = _exact_rows(fmt, n, rng) + _table_rows(fmt, n, rng)
    lines = [
        f"{args.format}, {n} random inputs per unit (model = RTL bit for bit)",
        "",
        "| unit | max abs error | max rel error | latency (cycles) | model, M inputs/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {abs_err} | {rel_err} | {latency} | {rate / 1e6:.2f} |"
        for name, abs_err, rel_err, latency, rate in rows
    ]
    print(*lines, sep="\n")
    if args.write:
        from results import write

        write(args.write, f"Accuracy of each arithmetic unit against float64, {args.format}", lines)


def _exact_rows(fmt: Q, n: int, rng) -> list[tuple]:
    """The product, the squared distance and the running minimum: (name, abs error, rel error, latency,
    inputs/s) each."""
    f, d2f, rows = fmt.f, d2_format(fmt), []
    unit = MultiplierParameters(fmt, fmt, fmt)
    a, b = rng.integers(-(1 << f), 1 << f, (2, n))
    out, dt = timed(unit.compute, a, b)
    err = np.abs(out * fmt.ulp - (a * fmt.ulp) * (b * fmt.ulp)) / fmt.ulp
    rows.append(("multiply (round to nearest)", f"{err.max():.3f} ulp", "", unit.latency, n / dt))

    unit = SquaredDistanceParameters(fmt, 3)
    v = rng.standard_normal((2, n, 3))
    a, b = fmt.from_float(v / np.linalg.norm(v, axis=2, keepdims=True))  # points on the unit sphere
    out, dt = timed(unit.compute, a, b)
    exact = np.sum(((a - b) * fmt.ulp) ** 2, axis=1)
    rows.append(
        (
            "squared distance, D = 3",
            f"{(np.abs(out * d2f.ulp - exact) / d2f.ulp).max():.3f} ulp",
            "",
            unit.latency,
            n / dt,
        )
    )

    unit = RunningMinParameters(d2f)
    d2 = rng.integers(0, 4 << f, n)
    first = (np.arange(n) % 64 == 0).astype(np.int64)
    last = (np.arange(n) % 64 == 63).astype(np.int64)
    mask = np.zeros(n, dtype=np.int64)
    out, dt = timed(unit.compute, d2, first, last, mask)
    rows.append(("running minimum (δ)", "exact", "", unit.latency, n / dt))
    return rows


def _table_rows(fmt: Q, n: int, rng) -> list[tuple]:
    """1/√x, 1/δ and the weight in four octaves of β/2, as :func:`_exact_rows`."""
    f, d2f, rows = fmt.f, d2_format(fmt), []
    unit = RSqrtParameters(Q(8, f, signed=False))
    x = np.minimum(log_uniform(rng, -f, 8, n, f), unit.in_fmt.max_raw)
    (mant, e), dt = timed(unit.compute, x)
    scale = 2.0 ** e.astype(float)
    ref = 1 / np.sqrt(x * unit.in_fmt.ulp)
    ulps = np.abs(mant * unit.mant_fmt.ulp * scale - ref) / scale / unit.mant_fmt.ulp
    rel = np.abs(mant * unit.mant_fmt.ulp * scale - ref) / ref
    rows.append(("rsqrt (mantissa)", f"{ulps.max():.3f} ulp", f"2^{np.log2(rel.max()):.1f}", unit.latency, n / dt))

    unit = ReciprocalParameters(d2f, weight_precision(f))
    x = np.minimum(log_uniform(rng, -f, 3, n, f), d2f.max_raw)
    (mant, e), dt = timed(unit.compute, x)
    rel = np.abs(mant * 2.0 ** -(unit.precision + 1 + e) * x - 1)
    rows.append((f"reciprocal 1/δ (P = {unit.precision})", "", f"2^{np.log2(rel.max()):.1f}", unit.latency, n / dt))

    # δ in every binade, d² = δ(1 + ρ) with ρ log-uniform in [2^−44, 2^48) (near contact to far), d² ≤ 4
    unit = RepulsionWeightParameters(d2f)
    delta = log_uniform(rng, -f, 2, n, f)
    d2 = np.maximum(np.floor(np.minimum(delta * (1 + 2.0 ** rng.uniform(-44, 48, n)), 4 << f)).astype(np.int64), delta)
    for lo, hi in ((0, 4), (4, 8), (8, 12), (12, 16)):
        hb = (2.0 ** rng.uniform(lo, hi, n) * 2**16).astype(np.int64)
        w, dt = timed(unit.compute, delta, d2, hb)
        ref = np.exp2(-(hb * 2.0**-16) * np.log1p((d2 - delta) / delta) / np.log(2))
        big = ref >= 2.0**-20
        rel = np.abs(w * unit.w_fmt.ulp - ref)[big] / ref[big]
        err = np.abs(w * unit.w_fmt.ulp - ref) / unit.w_fmt.ulp
        rows.append(
            (
                f"weight (δ/d²)^(β/2), 2^{lo} ≤ β/2 ≤ 2^{hi}",
                f"{err.max():.3f} ulp",
                f"2^{np.log2(rel.max()):.1f} (w ≥ 2^−20)",
                unit.latency,
                n / dt,
            )
        )

    return rows


if __name__ == "__main__":
    main()
