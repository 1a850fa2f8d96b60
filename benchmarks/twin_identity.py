"""A board's design as built, run through its Verilator twin, against the bit-exact model: the codes of
``spherecode run --backend board`` (over the twin's pty) and of ``--backend model`` in the board's format
and lanes must be the same bytes.

    python benchmarks/twin_identity.py --board tang-mega-138k-loosening [--points 12 48] [--iters 300]
                                       [--seeds 0 1] [--write docs/results/twin_tang.md]

The twin simulates the board's ``BoardTop`` exactly as the board builds it (for a GW5A board: every product a
``MULTALU27X18`` instance, run by ``sim/gowin_dsp.v``). Boards with on-chip loosening run whole runs
(``--loosening chip``: one LOAD, one LOOSEN, one READ), the others host-run loosening (one RUN per update).
The first run builds the twin (minutes for a multi-lane core; cached afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import write  # noqa: E402


def run(argv: list[str]) -> dict:
    from spherecode.host.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    if status:
        raise SystemExit(f"twin_identity: {' '.join(argv)} exited with status {status}")
    return json.loads(out.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", required=True)
    p.add_argument("--points", type=int, nargs="+", default=[12, 48])
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()

    from spherecode.boards import get_board
    from spherecode.sim.twin import Twin

    board = get_board(args.board)
    mode = "chip" if board.core.loosening else "host"
    t0 = time.perf_counter()
    rows = [
        f"Board `{board.name}` ({board.core}), `--loosening {mode}`, {args.iters} iterations, one start.",
        "",
        "| D | N | seed | min angle (°) | board = model, byte for byte | board wall (s) |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    with Twin(board.twin(), 8) as twin, tempfile.TemporaryDirectory() as work:
        built = time.perf_counter() - t0
        for n in args.points:
            for seed in args.seeds:
                files = {}
                for backend, extra in (
                    ("board", ["--port", twin.port, "--timeout", "60"]),
                    ("model", ["--format", str(board.fmt), "--lanes", str(board.lanes)]),
                ):
                    files[backend] = Path(work) / f"{backend}-{n}-{seed}.txt"
                    t = time.perf_counter()
                    r = run(
                        [
                            "run",
                            "--dim",
                            str(board.dmax),
                            "--points",
                            str(n),
                            "--iters",
                            str(args.iters),
                            "--seed",
                            str(seed),
                            "--starts",
                            "1",
                            "--backend",
                            backend,
                            "--loosening",
                            mode,
                            "--out",
                            str(files[backend]),
                            "--json",
                            *extra,
                        ]
                    )
                    wall = time.perf_counter() - t
                    if backend == "board":
                        angle, board_wall = r["min_angle_deg"], wall
                same = files["board"].read_bytes() == files["model"].read_bytes()
                rows.append(
                    f"| {board.dmax} | {n} | {seed} | {angle:.9f} | {'yes' if same else 'NO'} | {board_wall:.1f} |"
                )
                print(rows[-1], flush=True)
    rows += ["", f"Twin start (its build, or the cached build): {built:.0f} s."]
    text = "\n".join(rows)
    print(text)
    if args.write:
        write(args.write, f"The {board.name} twin against the model", rows)
    if "| NO |" in text:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
