"""cocotb testbench: stream a list of input payloads into ``i``, one per clock, and record ``o``.

The DUT has an always-ready input stream ``i`` (``i__payload``, ``i__valid``) and output stream ``o``
(``o__payload``, ``o__valid``). Stimulus and results travel as JSON files named by the environment
variables SPHERECODE_TB_IN ({"payloads": [hex, …], "gaps": [cycles of idle input after each], "drain": n})
and SPHERECODE_TB_OUT ({"payloads": [hex, …], "cycles": [clock of each output]}).
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


@cocotb.test()
async def stream_through(dut):
    with open(os.environ["SPHERECODE_TB_IN"]) as f:
        stim = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.i__payload.value = 0
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    out, when = [], []
    cycle = 0
    schedule = []
    gaps = stim.get("gaps") or [0] * len(stim["payloads"])
    for payload, gap in zip(stim["payloads"], gaps):
        schedule.append(int(payload, 16))
        schedule.extend([None] * gap)
    schedule.extend([None] * stim["drain"])
    i_payload, i_valid, o_payload, o_valid = dut.i__payload, dut.i__valid, dut.o__payload, dut.o__valid
    for item in schedule:
        await FallingEdge(dut.clk)
        if o_valid.value:
            out.append(format(o_payload.value.to_unsigned(), "x"))
            when.append(cycle)
        if item is None:
            i_valid.value = 0
        else:
            i_payload.value = item
            i_valid.value = 1
        cycle += 1
    with open(os.environ["SPHERECODE_TB_OUT"], "w") as f:
        json.dump({"payloads": out, "cycles": when}, f)
