"""The on-chip loosening control's fixed-point l against float64 loosening over K iterations.

    python benchmarks/loosening_drift.py [--iters 3000] [--format Q3.44] [--precision 48] [--write FILE.md]

For choice sequences (always raise, never, random with P(raise) = 0.5 and 0.05, and the sequences of
real model runs at N = 12 and 24), the largest relative difference |l_fixed − l_float64| / l_float64, the
largest relative errors of each against the exact rational l = 2·Π(1 + 1/m) over the raises, and the share of iterations
whose constants (β/2, 1/(2β)) — both pairs — equal what the host sends
(``Datapath.constants`` of its float64 β, computed as host/loosening.py does). ``--write FILE`` also writes
the table with a header naming the command, commit, date and machine.
"""

import argparse
from fractions import Fraction

import numpy as np

from spherecode.host.loosening import force_loosening
from spherecode.host.backends.model import LooseningModelBackend
from spherecode.host.backends.reference import random_start
from spherecode.hw.config import CoreConfig
from spherecode.hw.dataflow.loosening_control import LooseningControl, LooseningControlParameters


def drift(unit: LooseningControl, dp, raises) -> tuple[float, float, float, float]:
    """(max |l_fixed − l_float64| / l, max |l_fixed − l| / l and max |l_float64 − l| / l against the exact
    rational l, share of iterations with the host's constants)."""
    state, l, exact, equal = unit.initial(), 2.0, Fraction(2), 0
    worst = [0.0, 0.0, 0.0]
    one = 1 << unit.precision
    for n, up in enumerate(raises, start=1):
        grow = 1.0 + 1.0 / n
        fixed = Fraction(state.l, one)
        worst = [
            max(worst[0], abs(unit.l_value(state) - l) / l),
            max(worst[1], float(abs(fixed - exact) / exact)),
            max(worst[2], float(abs(Fraction(l) - exact) / exact)),
        ]
        equal += unit.constants(state) == (dp.constants(2.0 * l), dp.constants(2.0 * l * grow))
        state = unit.compute(state, 0 if up else 1, 0)
        if up:
            l *= grow
            exact *= Fraction(n + 1, n)
    return (*worst, equal / len(raises))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--format", default="Q3.44")
    p.add_argument("--precision", type=int, default=48)
    p.add_argument("--runs", type=int, nargs="*", default=[12, 24], help="N of the model runs whose choices to replay")
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()
    config = CoreConfig(args.format, nmax=64)
    dp = config.datapath
    unit = LooseningControlParameters(dp, args.precision)
    rng = np.random.default_rng(0)
    k = args.iters
    patterns = {
        "always raise": np.ones(k, bool),
        "never raise": np.zeros(k, bool),
        "random, P = 0.5": rng.random(k) < 0.5,
        "random, P = 0.05": rng.random(k) < 0.05,
    }
    for n in args.runs:
        run = force_loosening(
            LooseningModelBackend(config, loosening="chip"),
            random_start(n, 3, np.random.default_rng(0)),
            k,
            keep_trace=True,
        )
        patterns[f"model run N = {n}, D = 3, seed 0"] = np.array([s.raised for s in run.trace])
    lines = [
        f"{args.format}, F = {args.precision}, K = {k} (bound K·2^-(F+2) + K·2^-52 = "
        f"{k * 2.0 ** -(args.precision + 2) + k * 2.0**-52:.2g})",
        "",
        "| choices | raises | fixed vs float64 | fixed vs exact | float64 vs exact | iterations with the host's "
        "constants |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    print(*lines, sep="\n")
    for name, raises in patterns.items():
        between, fixed, host, share = drift(unit, dp, raises)
        lines.append(
            f"| {name} | {int(raises.sum())} | {between:.2g} | {fixed:.2g} | {host:.2g} | {100 * share:.1f} % |"
        )
        print(lines[-1], flush=True)
    if args.write:
        from results import write

        write(args.write, "On-chip loosening's fixed-point l against float64 loosening", lines)


if __name__ == "__main__":
    main()
