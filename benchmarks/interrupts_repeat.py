"""The interrupt tests, many times in a row: the promise "one line and status 130" must not hold by timing.

    python benchmarks/interrupts_repeat.py [--times 50] [-- PYTEST ARGS]

Runs ``pytest tests/host/test_interrupts.py`` (or the given pytest arguments) ``--times`` times, one after
the other, and stops at the first failure, whose output it prints. Prints one line per run and a summary
with a header (command, commit, date, machine). Not a CI test: it takes tens of minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--times", type=int, default=50, help="runs (50)")
    p.add_argument("pytest_args", nargs="*", default=["tests/host/test_interrupts.py"])
    args = p.parse_args()
    if args.times < 1:
        p.error(f"--times must be at least 1, not {args.times}")
    print(
        f"# {' '.join(['python', *sys.argv])}\n"
        f"# commit {_commit()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()})",
        flush=True,
    )
    t0 = time.monotonic()
    for k in range(1, args.times + 1):
        t = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        last = (run.stdout.strip().splitlines() or [""])[-1]
        print(
            f"run {k}: {'passed' if run.returncode == 0 else 'FAILED'} in {time.monotonic() - t:.0f} s ({last})",
            flush=True,
        )
        if run.returncode != 0:
            print(run.stdout[-20000:], run.stderr[-5000:], sep="\n")
            print(f"# {k - 1} of {args.times} runs passed before a failure")
            return 1
    print(f"# {args.times} of {args.times} runs passed in a row, {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
