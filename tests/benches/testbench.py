"""Run one of this folder's cocotb testbenches (``tb_*.py``) against a Verilator build: a stimulus in, a
result out.

A testbench reads its stimulus from the JSON file named by SPHERECODE_TB_IN and writes its result to the
one named by SPHERECODE_TB_OUT (``cocotb_io.py``, the simulator's side). The testbenches are not part of
the package: the simulator imports them from this folder, which :func:`run_testbench` puts on its Python
path.
"""

import json
import tempfile
from pathlib import Path

from spherecode.sim.verilator import Build

#: The folder of the testbenches, on the simulator's Python path.
BENCHES = Path(__file__).resolve().parent


def run_testbench(sim: Build, testbench: str, stim: dict) -> dict:
    """Run the testbench module ``testbench`` (e.g. ``"tb_streams"``) against ``sim`` on the stimulus
    ``stim``; its result. Raises :class:`~spherecode.sim.verilator.SimError` if the testbench fails."""
    with tempfile.TemporaryDirectory(prefix="spherecode-tb-") as work:
        stim_path, result_path = Path(work) / "in.json", Path(work) / "out.json"
        stim_path.write_text(json.dumps(stim))
        env = {"SPHERECODE_TB_IN": str(stim_path), "SPHERECODE_TB_OUT": str(result_path)}
        sim.run(testbench, env, python_path=[BENCHES])
        return json.loads(result_path.read_text())
