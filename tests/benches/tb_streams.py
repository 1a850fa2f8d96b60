"""cocotb testbench, the one stream driver of the tests: drive a design's input streams and drain its output
streams, with gaps on the inputs and ``ready`` high or random on the outputs.

Stimulus and results travel as JSON files named by SPHERECODE_TB_IN (``{"channels": [channel, …]}``) and
SPHERECODE_TB_OUT (``{"channels": [result, …]}``, in the same order). A channel is a group of the DUT's
ports sharing a name prefix (several independent units can share one simulation)::

    {"prefix": "a__",
     "inputs": {"i": [{"value": hex, "gap": cycles, "after": [port, count] or null}, …], …},
     "outputs": {"o": {"ready": probability, "seed": int}, …},
     "watch": ["busy", …], "drain": cycles, "limit": cycles}

Each input stream offers its items in order: an item waits until ``after``'s port (input or output) has
completed ``count`` transfers, then ``gap`` cycles with ``valid`` low, then holds ``valid`` and its payload
until taken (at once where the input is always ready: it has no ``ready`` port). Each output's ``ready``
is high in a cycle with the given probability (a seeded ``random.Random``; always at 1), and an output
without a ``ready`` port is always taken. The channel ends when every input item is taken and no output
has been valid for ``drain`` cycles, or after ``limit`` cycles. Result::

    {"inputs": {port: [cycle taken, …]}, "outputs": {port: [[cycle offered, cycle taken, hex], …]},
     "watch": {name: [[cycle, value], …] (each change)}, "violations": [text, …], "cycles": int,
     "limit": bool}

Cycle c is the c-th clock after reset; a transfer "in cycle c" completes at the rising edge that ends it.
``violations`` lists outputs that changed their payload or dropped ``valid`` before being taken (the
stream rules of ``amaranth.lib.stream``). Python runs every clock here: keep stimuli to thousands of cycles.
"""

import random

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb_io import reset, start_clock, stimulus, write_result


def unsigned(value) -> int:
    """A handle's value as an unsigned int (a 1-bit handle's value is a ``Logic``, wider ones a
    ``LogicArray``)."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def _offer(inputs: dict, transfers: dict) -> None:
    """Before a rising edge: each input offers its next item once its gap has passed (and the transfer count
    its ``after`` names has been reached). Only changes are written to the simulator."""
    for s in inputs.values():
        items, k = s["items"], s["k"]
        offer = False
        if k < len(items):
            item = items[k]
            if s["wait"] is None:
                after = item.get("after")
                if not after or transfers[after[0]] >= after[1]:
                    s["wait"] = item.get("gap", 0)
            if s["wait"] is not None:
                if s["wait"] > 0:
                    s["wait"] -= 1
                else:
                    offer = True
                    if s["loaded"] != k:
                        s["payload"].value = int(item["value"], 16)
                        s["loaded"] = k
        if offer != s["offering"]:
            s["valid"].value = int(offer)
            s["offering"] = offer


def _drain(outputs: dict, drained: dict, transfers: dict, violations: list, cycle: int) -> bool:
    """After the edge's logic settled: record each output's transfer, and a valid dropped or a payload changed
    before its transfer; whether any output was valid."""
    busy = False
    for name, s in outputs.items():
        valid = bool(s["valid"].value)
        if s["offered"] is not None and not valid:
            violations.append(f"{name}: valid dropped in cycle {cycle} before the transfer")
            s["offered"] = None
        if not valid:
            continue
        busy = True
        value = unsigned(s["payload"].value)
        if s["offered"] is None:
            s["offered"] = (cycle, value)
        elif s["offered"][1] != value:
            violations.append(f"{name}: payload changed in cycle {cycle} before the transfer")
            s["offered"] = (s["offered"][0], value)
        if s["taking"]:
            drained[name].append([s["offered"][0], cycle, format(value, "x")])
            transfers[name] += 1
            s["offered"] = None
    return busy


async def channel(dut, chan, result):
    prefix = chan["prefix"]

    def port(name):
        return getattr(dut, prefix + name)

    inputs = {
        name: {
            "items": items,
            "k": 0,
            "wait": None,
            "loaded": None,
            "offering": False,
            "valid": port(f"{name}__valid"),
            "ready": getattr(dut, f"{prefix}{name}__ready", None),
            "payload": port(f"{name}__payload"),
        }
        for name, items in chan.get("inputs", {}).items()
    }
    outputs = {
        name: {
            "p": spec["ready"],
            "rng": random.Random(spec.get("seed", 0)),
            "offered": None,
            "valid": port(f"{name}__valid"),
            "payload": port(f"{name}__payload"),
            "ready": getattr(dut, f"{prefix}{name}__ready", None),
            "taking": True,
        }
        for name, spec in chan.get("outputs", {}).items()
    }
    watch = {name: port(name) for name in chan.get("watch", [])}
    taken = {name: [] for name in inputs}
    drained = {name: [] for name in outputs}
    changes = {name: [] for name in watch}
    violations = []
    transfers = {name: 0 for name in [*inputs, *outputs]}
    quiet, cycle = 0, 0
    drain, limit = chan.get("drain", 16), chan.get("limit", 100_000)
    random_ready = [s for s in outputs.values() if s["ready"] is not None and s["p"] < 1]
    always_ready = [s["ready"] for s in outputs.values() if s["ready"] is not None and s["p"] >= 1]
    while True:
        await FallingEdge(dut.clk)
        _offer(inputs, transfers)
        if cycle == 0:
            for ready in always_ready:
                ready.value = 1
        for s in random_ready:
            s["taking"] = s["rng"].random() < s["p"]
            s["ready"].value = int(s["taking"])
        await ReadOnly()
        for name, s in inputs.items():
            if s["offering"] and (s["ready"] is None or s["ready"].value):
                taken[name].append(cycle)
                transfers[name] += 1
                s["k"] += 1
                s["wait"] = None
        busy = _drain(outputs, drained, transfers, violations, cycle)
        for name, signal in watch.items():
            value = unsigned(signal.value)
            if not changes[name] or changes[name][-1][1] != value:
                changes[name].append([cycle, value])
        cycle += 1
        pending = any(s["k"] < len(s["items"]) for s in inputs.values())
        quiet = 0 if busy or pending else quiet + 1
        if quiet >= drain or cycle >= limit:
            break
    result.update(
        inputs=taken, outputs=drained, watch=changes, violations=violations, cycles=cycle, limit=cycle >= limit
    )


@cocotb.test()
async def streams(dut):
    channels = stimulus()["channels"]
    start_clock(dut)
    for chan in channels:
        for name in chan.get("inputs", {}):
            getattr(dut, f"{chan['prefix']}{name}__valid").value = 0
            getattr(dut, f"{chan['prefix']}{name}__payload").value = 0
        for name in chan.get("outputs", {}):
            ready = getattr(dut, f"{chan['prefix']}{name}__ready", None)
            if ready is not None:
                ready.value = 0
    await reset(dut)
    results = [{} for _ in channels]
    tasks = [cocotb.start_soon(channel(dut, chan, result)) for chan, result in zip(channels, results)]
    for task in tasks:
        await task
    write_result({"channels": results})
