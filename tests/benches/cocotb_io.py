"""What every testbench of this folder does around its test, inside the simulator: read the stimulus,
start the clock, reset the design, write the result (the host side is
:func:`testbench.run_testbench`).

The clock period is :data:`PERIOD_PS`; cycle 0 begins at the first falling edge after :func:`reset`.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

PERIOD_PS = 10_000


def stimulus() -> dict:
    """The stimulus, from the JSON file named by SPHERECODE_TB_IN."""
    with open(os.environ["SPHERECODE_TB_IN"]) as f:
        return json.load(f)


def write_result(result: dict) -> None:
    """Write ``result`` to the JSON file named by SPHERECODE_TB_OUT."""
    with open(os.environ["SPHERECODE_TB_OUT"], "w") as f:
        json.dump(result, f)


def start_clock(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, PERIOD_PS, "ps").start())


async def reset(dut) -> None:
    """``rst`` high for two clocks, then low from a falling edge on."""
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
