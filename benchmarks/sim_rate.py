"""The sim backend's simulator alone: simulated cycles per wall-second and per CPU-second, side by side for
the default build (idle units on gated clocks, long delays as ring buffers: hw/pipeline.py) and the board's
design, on the same requests; the two builds' answers must be identical.

    python benchmarks/sim_rate.py [--points 256] [--dim 3] [--iterations 10] [--rounds 3]

Each build's executable (sim/core_main.cpp, the same testbench for both) reads ``--iterations`` copies of
one request (a random start, β = 8, in the configuration ``spherecode bench`` uses) from a file and
writes its answers to another; the builds are run alternately, ``--rounds`` times each. CPU time is the
simulator process's own (user + system), which other jobs on a shared host disturb far less than the wall
time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from spherecode.hw.config import CoreConfig
from spherecode.host.backends.reference import random_start
from spherecode.host.backends.sim import SimBackend


def request(sim: SimBackend, vectors: np.ndarray, beta: float) -> str:
    """The request line :meth:`SimBackend.exchange` sends for one update."""
    n, d = vectors.shape
    raw, hb, c = sim.dp.inputs(vectors, beta)
    m = sim._masks
    coords = [format(int(x) & m["i"], "x") for x in raw.ravel()]
    return " ".join([str(n), str(d), format(hb & m["half_beta"], "x"), format(c & m["step"], "x"), *coords])


def run(exe: Path, requests: Path, answers: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one simulator run over the request file."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [str(exe)],
        env={**os.environ, "SPHERECODE_TB_REQ": str(requests), "SPHERECODE_TB_RESP": str(answers)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=256)
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    config = CoreConfig(nmax=max(64, 1 << (args.points - 1).bit_length()), dmax=max(3, args.dim))
    builds = {"default (sim platform)": SimBackend(config), "board design": SimBackend(config, board_design=True)}
    vectors = random_start(args.points, args.dim, np.random.default_rng(0))
    with tempfile.TemporaryDirectory(prefix="spherecode-simrate-") as work:
        requests = Path(work) / "requests"
        line = request(builds["board design"], vectors, 8.0)
        requests.write_text((line + "\n") * args.iterations + "quit\n")
        results = {name: [] for name in builds}
        answers = {}
        for _ in range(args.rounds):
            for name, sim in builds.items():
                out = Path(work) / "answers"
                results[name].append(run(sim._sim.directory / sim._sim.toplevel, requests, out))
                answers[name] = out.read_text()
        first = answers["board design"].splitlines()[0].split()
        assert first[0] == "ok", first[:2]
        cycles = int(first[1]) * args.iterations
        assert len(set(answers.values())) == 1, "the two builds answered differently"
    print(
        f"N = {args.points}, D = {args.dim}, {config.fmt}, L = {config.lanes}: {args.iterations} iterations of "
        f"{int(first[1])} cycles per run; answers identical"
    )
    print("| build | run | wall s | CPU s | simulated cycles / s (wall) | simulated cycles / CPU-s |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in range(args.rounds):
        for name in builds:
            wall, cpu = results[name][k]
            print(f"| {name} | {k + 1} | {wall:.2f} | {cpu:.2f} | {cycles / wall:.3g} | {cycles / cpu:.3g} |")
    for sim in builds.values():
        sim.close()


if __name__ == "__main__":
    main()
