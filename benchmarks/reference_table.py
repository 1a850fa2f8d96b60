"""The reference speed table of docs/benchmarks.md: ms per iteration and pairs per second.

    python benchmarks/reference_table.py [--repeats 5] [--write docs/results/reference.md]

Each cell is `spherecode bench --backend reference --dim D --points N --json` (median over the repeats).
``--write FILE`` also writes the table with a header naming the command, commit, date and machine.
"""

import argparse
import json
import subprocess
import sys


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--points", type=int, nargs="+", default=[64, 256, 1024, 4096, 8192])
    p.add_argument("--dims", type=int, nargs="+", default=[3, 6])
    p.add_argument("--write", help="also write the table, with its header, to this file")
    args = p.parse_args()
    lines = ["| N | D | ms / iteration | pairs / s |", "|---:|---:|---:|---:|"]
    print(*lines, sep="\n")
    for n in args.points:
        for d in args.dims:
            cmd = [
                sys.executable,
                "-m",
                "spherecode",
                "bench",
                "--backend",
                "reference",
                "--dim",
                str(d),
                "--points",
                str(n),
                "--repeats",
                str(args.repeats),
                "--json",
            ]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            lines.append(f"| {n} | {d} | {r['ms_per_iteration']:.3f} | {r['pairs_per_second']:.3g} |")
            print(lines[-1], flush=True)
    if args.write:
        from results import write

        write(args.write, "Reference iteration speed (float64, all cores, β = 8)", lines)


if __name__ == "__main__":
    main()
