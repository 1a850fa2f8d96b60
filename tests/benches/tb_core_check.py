"""cocotb testbench: iterations of :class:`~spherecode.hw.dataflow.core.UpdaterCore`, with gaps on the input stream
and backpressure on the output stream, for checking the whole core against the bit-exact model.

Stimulus and results travel as JSON files named by SPHERECODE_TB_IN and SPHERECODE_TB_OUT. The stimulus is
{"iterations": [{"n", "d", "half_beta", "step", "coords": [hex, …] or null, "in_gaps": [cycles],
"out_stalls": [cycles]}, …]}: ``coords`` null means the previous iteration's output (a second iteration
on the core's own result). ``in_gaps[k]`` idle clocks (``i.valid`` low) come before the k-th coordinate and
``out_stalls[k]`` clocks of ``o.ready`` low before the k-th output is taken (both empty: back to back). The
result is {"iterations": [{"coords": [hex, …], "move_norm": hex, "delta_min": hex, "cycles": int,
"error": bool}, …]}.

On a core with on-chip loosening (the stimulus says ``"loosening": true``) each request may carry
``"loosen": {"iterations": K, "n": n, "l": hex}`` (absent: ``loosen`` = 0, one update): a whole run, whose
result adds ``progress``, ``state_n`` and ``state_l`` (hex).
"""

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb_io import reset, start_clock, stimulus, write_result


@cocotb.test()
async def iterations(dut):
    stim = stimulus()
    start_clock(dut)
    dut.start.value = 0
    dut.i__valid.value = 0
    dut.i__payload.value = 0
    dut.o__ready.value = 0
    if stim.get("loosening"):
        dut.loosen.value = 0
    await reset(dut)
    results, previous = [], None
    for req in stim["iterations"]:
        coords = previous if req["coords"] is None else [int(c, 16) for c in req["coords"]]
        result = await iteration(dut, req, coords, stim.get("loosening", False))
        if not result["error"]:
            previous = [int(c, 16) for c in result["coords"]]
        results.append(result)
    write_result({"iterations": results})


async def iteration(dut, req, coords, loosening=False):
    n, d = req["n"], req["d"]
    run = req.get("loosen")
    if loosening:
        dut.loosen.value = int(run is not None)
        if run is not None:
            dut.iterations.value = run["iterations"]
            dut.loosen_n.value = run["n"]
            dut.loosen_l.value = int(run["l"], 16)
    gaps = req["in_gaps"] or [0] * len(coords)
    stalls = req["out_stalls"] or [0] * (n * d)
    dut.n.value, dut.d.value = n, d
    dut.half_beta.value, dut.step.value = int(req["half_beta"], 16), int(req["step"], 16)
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    await FallingEdge(dut.clk)
    if dut.error.value:
        return {"coords": [], "move_norm": "0", "delta_min": "0", "cycles": 0, "error": True}
    for value, gap in zip(coords, gaps):
        dut.i__valid.value = 0
        for _ in range(gap):
            await FallingEdge(dut.clk)
        dut.i__payload.value = value
        dut.i__valid.value = 1
        while True:  # held until the core takes it
            await RisingEdge(dut.clk)
            taken = bool(dut.i__ready.value)
            await FallingEdge(dut.clk)
            if taken:
                break
    dut.i__valid.value = 0
    while not dut.done.value:
        await FallingEdge(dut.clk)
    out = []
    for stall in stalls:
        dut.o__ready.value = 0
        for _ in range(stall):
            await FallingEdge(dut.clk)
        dut.o__ready.value = 1
        while True:
            await RisingEdge(dut.clk)
            got = bool(dut.o__valid.value)
            if got:
                out.append(format(dut.o__payload.value.to_unsigned(), "x"))
            await FallingEdge(dut.clk)
            if got:
                break
    dut.o__ready.value = 0
    await FallingEdge(dut.clk)
    result = {
        "coords": out,
        "move_norm": format(dut.move_norm.value.to_unsigned(), "x"),
        "delta_min": format(dut.delta_min.value.to_unsigned(), "x"),
        "cycles": dut.cycles.value.to_unsigned(),
        "error": False,
    }
    if run is not None:
        result.update(
            progress=dut.progress.value.to_unsigned(),
            state_n=dut.state_n.value.to_unsigned(),
            state_l=format(dut.state_l.value.to_unsigned(), "x"),
        )
    return result
