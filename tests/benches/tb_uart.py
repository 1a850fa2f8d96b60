"""cocotb testbench for :mod:`spherecode.hw.board_link.uart`: channels of a bench design, all driven at once.

Each channel is a group of the DUT's ports sharing a name prefix. Stimulus and results travel as JSON
files named by SPHERECODE_TB_IN (``{"channels": [channel, …]}``) and SPHERECODE_TB_OUT (``{"channels":
[result, …]}``, in the same order). The clock period is 10 ns; cycle k starts at the rising edge at
10·k ns. Kinds of channel:

- ``{"prefix", "mode": "loopback", "bytes": [int, …], "drain": cycles}``: ports ``i`` (``i__payload``,
  ``i__valid``, ``i__ready``), ``tx``, ``o`` and ``error``. The bytes are offered back to back on ``i``
  (``valid`` held high). Result: ``{"accepts": [cycle of each handshake], "tx": [[cycle, level], …]
  (each change of tx), "received": [[cycle, byte], …], "errors": [cycle, …]}``.
- ``{"prefix", "mode": "line", "segments": [[level, ps], …]}``: ports ``rx``, ``o`` and ``error``; the
  line is driven with each level for its duration, unaligned to the clock. Result: ``{"received": […],
  "errors": […]}`` with times in ps instead of cycles.

Python wakes once per handshake, line change or received byte, not every clock.
"""

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer
from cocotb_io import PERIOD_PS, reset, start_clock, stimulus, write_result


def now_ps() -> int:
    return int(get_sim_time("ps"))


def cycle() -> int:
    return now_ps() // PERIOD_PS


async def record_rising(signal, out, stamp, payload=None):
    while True:
        await RisingEdge(signal)
        out.append([stamp(), payload.value.to_unsigned()] if payload is not None else stamp())


async def record_changes(signal, out):
    while True:
        await signal.value_change
        out.append([cycle(), int(signal.value)])


async def loopback(dut, port, chan, result):
    result["accepts"], result["tx"] = [], []
    cocotb.start_soon(record_changes(port("tx"), result["tx"]))
    clk, ready, valid, payload = dut.clk, port("i__ready"), port("i__valid"), port("i__payload")
    valid.value = 1
    for byte in chan["bytes"]:  # at a falling edge, before this byte's handshake
        payload.value = byte
        if not ready.value:
            await RisingEdge(ready)  # Verilator runs freely through the frame
            await FallingEdge(clk)
        result["accepts"].append(cycle())  # ready and valid high: the handshake ends this cycle
        await FallingEdge(clk)
    valid.value = 0
    await ClockCycles(clk, chan["drain"])


async def line(dut, port, chan, result):
    rx = port("rx")
    for level, duration in chan["segments"]:
        rx.value = level
        await Timer(duration, "ps")


@cocotb.test()
async def uart(dut):
    channels = stimulus()["channels"]
    start_clock(dut)
    ports = [lambda name, prefix=chan["prefix"]: getattr(dut, prefix + name) for chan in channels]
    for chan, port in zip(channels, ports):
        if chan["mode"] == "loopback":
            port("i__valid").value = 0
            port("i__payload").value = 0
        else:
            port("rx").value = 1
    await reset(dut)
    results, tasks = [], []
    for chan, port in zip(channels, ports):
        result = {"received": [], "errors": []}
        stamp = cycle if chan["mode"] == "loopback" else now_ps
        cocotb.start_soon(record_rising(port("o__valid"), result["received"], stamp, port("o__payload")))
        cocotb.start_soon(record_rising(port("error"), result["errors"], stamp))
        drive = loopback if chan["mode"] == "loopback" else line
        tasks.append(cocotb.start_soon(drive(dut, port, chan, result)))
        results.append(result)
    for task in tasks:
        await task
    write_result({"channels": results})
