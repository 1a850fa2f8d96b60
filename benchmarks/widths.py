"""The effect of the datapath's narrowed widths on codes: the Q3.44 model with chosen widths against float64.

    nice python benchmarks/widths.py --points 12 24 32 48 --seeds 0 1 --iters 3000 --continue 300 \
        --widths default exact P=16 wb=34 d2=44 [--write docs/results/NAME.md]

Each ``--widths`` entry overrides :class:`~spherecode.hw.datapath.Datapath`'s widths: ``P`` the weight's
precision, ``wb`` the weight's bits in the force products, ``d2`` and ``fd`` the fraction bits of the
truncated differences of the squared distance and of the force products, ``dir`` the fraction bits of the
force's direction; ``default`` overrides nothing and ``exact`` is P = 30, wb = 16, d2 = fd = dir = 44 (exact
differences; M·diff must fit int64).

Continuation test, per N and seed: float64 force loosening for ``--iters`` iterations from the seed's
first start gives a converged code and its final β; then ``--continue`` more updates at that fixed β run
on float64 and on each model, from the same code; the table gives each model's minimum angle minus
float64's after them (degrees). With ``--starts S`` it also runs the quality measurement of
``benchmarks/quality.py`` (best of S starts × ``--iters``, the same starts for every backend). ``--write FILE``
also writes the table with a header naming the command, commit, date and machine.
"""

from __future__ import annotations

import argparse

import numpy as np

from spherecode.host.backends import get_backend
from spherecode.host.loosening import force_loosening
from spherecode.host.metrics import summary
from spherecode.host.backends.model import ModelBackend
from spherecode.host.sweeps.starts import StartTask, initial_vectors
from spherecode.hw.config import CoreConfig
from spherecode.hw.datapath import Datapath

KEYS = {"P": "precision", "wb": "weight_bits", "d2": "d2_diff_frac", "fd": "force_diff_frac", "dir": "direction_frac"}


def parse_widths(text: str) -> dict:
    if text == "default":
        return {}
    if text == "exact":
        return {"precision": 30, "weight_bits": 16, "d2_diff_frac": 44, "force_diff_frac": 44, "direction_frac": 44}
    out = {}
    for item in text.split(","):
        key, value = item.split("=")
        out[KEYS[key]] = int(value)
    return out


def model(fmt: str, n: int, dim: int, widths: dict) -> ModelBackend:
    config = CoreConfig(fmt, max(64, n), max(3, dim))
    backend = ModelBackend(config)
    backend.datapath = Datapath(config.fmt, config.nmax, config.dmax, **widths)
    return backend


def min_angle(vectors) -> float:
    return summary(vectors)["min_angle_deg"]


def continued(backend, r, beta: float, steps: int) -> np.ndarray:
    for _ in range(steps):
        r = backend.update(r, beta).vectors
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--points", type=int, nargs="+", default=[12, 24, 32, 48])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--continue", dest="cont", type=int, default=300)
    p.add_argument("--starts", type=int, default=0, help="also the best-of-S quality run (0: skip)")
    p.add_argument("--beta", type=float, help="continue at this β instead of the final one")
    p.add_argument("--format", default="Q3.44")
    p.add_argument("--widths", nargs="+", default=["default"])
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()
    widths = [parse_widths(w) for w in args.widths]
    ref = get_backend("reference")
    lines = [
        f"D = {args.dim}, {args.format}; continuation: {args.iters} float64 loosening iterations, then "
        f"{args.cont} updates at {'β = %g' % args.beta if args.beta else 'the final β'}; "
        "Δ = model − float64 minimum angle (degrees)",
        "",
        "| N | seed | final β | float64 | "
        + " | ".join(f"Δ cont. {w}" for w in args.widths)
        + ("".join(f" | Δ best-of-{args.starts} {w}" for w in args.widths) if args.starts else "")
        + " |",
        "|---:|---:|---:|---:|" + "---:|" * (len(widths) * (2 if args.starts else 1)),
    ]
    print(*lines, sep="\n")
    for n in args.points:
        for seed in args.seeds:
            task = StartTask("reference", args.dim, n, args.iters, seed, 0, 1)
            res = force_loosening(ref, initial_vectors(task), args.iters)
            beta = args.beta or 2.0 * res.l
            base = min_angle(continued(ref, res.vectors, beta, args.cont))
            cells = [
                min_angle(continued(model(args.format, n, args.dim, w), res.vectors, beta, args.cont)) - base
                for w in widths
            ]
            row = f"| {n} | {seed} | {beta:.0f} | {base:.9f} | " + " | ".join(f"{c:+.2e}" for c in cells)
            if args.starts:

                def best(backend_factory):
                    angles = []
                    for k in range(args.starts):
                        t = StartTask("reference", args.dim, n, args.iters, seed, k, args.starts)
                        out = force_loosening(backend_factory(), initial_vectors(t), args.iters)
                        angles.append(min_angle(out.vectors))
                    return max(angles)

                b_ref = best(lambda: ref)
                row += "".join(f" | {best(lambda: model(args.format, n, args.dim, w)) - b_ref:+.2e}" for w in widths)
            lines.append(row + " |")
            print(lines[-1], flush=True)
    if args.write:
        from results import write

        write(args.write, f"Narrowed datapath widths against float64, {args.format}", lines)


if __name__ == "__main__":
    main()
