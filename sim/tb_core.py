"""cocotb testbench serving iterations of :class:`~spherecode.hw.core.UpdaterCore` to a host process.

Requests and responses are JSON lines on two named pipes (SPHERECODE_TB_REQ, SPHERECODE_TB_RESP). For
each request {"n", "d", "half_beta", "step", "coords": [hex, …]} the testbench feeds the coordinates one
per clock, then lets Verilator run freely until ``done`` (Python sleeps through the N(N+1)/L compute
cycles), then drains the new coordinates and answers {"coords", "move_norm", "delta_min", "cycles",
"error"}. A request {"quit": true} ends the simulation.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


@cocotb.test()
async def serve(dut):
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    with open(os.environ["SPHERECODE_TB_REQ"]) as requests, open(os.environ["SPHERECODE_TB_RESP"], "w") as answers:
        for line in requests:
            req = json.loads(line)
            if req.get("quit"):
                break
            answers.write(json.dumps(await iteration(dut, req)) + "\n")
            answers.flush()


async def iteration(dut, req):
    n, d = req["n"], req["d"]
    dut.n.value, dut.d.value = n, d
    dut.half_beta.value, dut.step.value = req["half_beta"], req["step"]
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    await FallingEdge(dut.clk)
    if dut.error.value:
        return {"error": "refused: N or D outside the configuration"}
    coords = [int(c, 16) for c in req["coords"]]
    k = 0
    while k < len(coords):  # one coordinate per clock while the core takes them
        dut.i__payload.value = coords[k]
        dut.i__valid.value = 1
        await RisingEdge(dut.clk)
        if dut.i__ready.value:
            k += 1
        await FallingEdge(dut.clk)
    dut.i__valid.value = 0
    if not dut.done.value:
        await RisingEdge(dut.done)  # free-running through the compute
    await FallingEdge(dut.clk)
    out = []
    dut.o__ready.value = 1
    while len(out) < n * d:
        await RisingEdge(dut.clk)
        if dut.o__valid.value:
            out.append(format(dut.o__payload.value.to_unsigned(), "x"))
    dut.o__ready.value = 0
    await FallingEdge(dut.clk)
    return {
        "coords": out,
        "move_norm": format(dut.move_norm.value.to_unsigned(), "x"),
        "delta_min": format(dut.delta_min.value.to_unsigned(), "x"),
        "cycles": dut.cycles.value.to_unsigned(),
        "error": None,
    }
