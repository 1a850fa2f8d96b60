"""Run stream components under Verilator with gaps on their inputs and random ``ready`` on their outputs
(the testbench :mod:`spherecode.sim.tb_streams`): several units side by side in one simulation.

Payloads are given and returned as Python values shaped like each stream's payload (an int, or a dict for
a ``StructLayout``; see :func:`~spherecode.sim.unit_sim.pack`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .verilator import build
from .unit_sim import pack, unpack

__all__ = ["Bench", "Item", "Channel", "run_channels"]


class Bench(wiring.Component):
    """Independent ``units`` side by side, each one's ports brought out under ``<name>__``."""

    def __init__(self, units: dict):
        self.units = dict(units)
        super().__init__({name: Out(unit.signature) for name, unit in self.units.items()})

    def elaborate(self, platform):
        m = Module()
        for name, unit in self.units.items():
            m.submodules[name] = unit
            wiring.connect(m, wiring.flipped(getattr(self, name)), unit)
        return m


@dataclass
class Item:
    """One payload for an input stream: offered ``gap`` idle cycles after it may be (``after``: once the
    port ``after[0]`` has completed ``after[1]`` transfers; at once if None)."""

    value: object
    gap: int = 0
    after: tuple[str, int] | None = None


@dataclass
class Channel:
    """One unit's stimulus: ``inputs`` (port → items), ``ready`` (output port → probability of ``ready``
    in a cycle), ``watch`` (1-port signals whose changes are recorded), ``drain``/``limit`` (cycles)."""

    inputs: dict[str, list[Item]] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    watch: list[str] = field(default_factory=list)
    seed: int = 0
    drain: int = 16
    limit: int = 100_000


def _payload_shape(unit, port):
    return unit.signature.members[port].signature.members["payload"].shape


def run_channels(units: dict, channels: dict[str, Channel]) -> dict[str, dict]:
    """Simulate ``units`` (name → component) side by side, each driven by its channel; return per name
    the testbench's result with payloads unpacked: ``outputs[port]`` is a list of ``(offered, taken,
    payload)``, ``inputs[port]`` the cycles each item was taken (see :mod:`~spherecode.sim.tb_streams`)."""
    sim = build(Bench(units))
    stim = []
    for name, chan in channels.items():
        unit = units[name]
        stim.append(
            {
                "prefix": f"{name}__",
                "inputs": {
                    port: [
                        {
                            "value": format(pack(_payload_shape(unit, port), item.value), "x"),
                            "gap": item.gap,
                            "after": list(item.after) if item.after else None,
                        }
                        for item in items
                    ]
                    for port, items in chan.inputs.items()
                },
                "outputs": {
                    port: {"ready": p, "seed": chan.seed + k} for k, (port, p) in enumerate(chan.ready.items())
                },
                "watch": chan.watch,
                "drain": chan.drain,
                "limit": chan.limit,
            }
        )
    with tempfile.TemporaryDirectory(prefix="spherecode-tb-") as work:
        stim_path, result_path = Path(work) / "in.json", Path(work) / "out.json"
        stim_path.write_text(json.dumps({"channels": stim}))
        sim.run(
            "spherecode.sim.tb_streams", {"SPHERECODE_TB_IN": str(stim_path), "SPHERECODE_TB_OUT": str(result_path)}
        )
        results = json.loads(result_path.read_text())["channels"]
    out = {}
    for name, result in zip(channels, results):
        unit = units[name]
        result["outputs"] = {
            port: [(a, b, unpack(_payload_shape(unit, port), int(v, 16))) for a, b, v in items]
            for port, items in result["outputs"].items()
        }
        out[name] = result
    return out
