"""Stream components under Verilator, driven by the testbench ``tb_streams``: payloads offered on the
input streams with gaps (and ordering constraints), the output streams drained with ``ready`` high or
random, every transfer recorded with its cycle.

Two entry points share that one driver: :func:`stream_through` streams payloads through a pipelined unit
(always-ready ``i`` → ``o``) and returns its outputs and their cycles; :func:`run_channels` runs several
stream components side by side in one simulation, each under its own :class:`Channel` (back-pressure
tests). Payloads are given and returned as Python values shaped like each stream's payload: an int for a
plain shape, a dict for a ``StructLayout``, a list for an ``ArrayLayout`` (raw fixed-point integers
throughout; :func:`pack`, :func:`unpack`).
"""

from dataclasses import dataclass, field

from amaranth.hdl import Module, Shape
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from spherecode.sim.verilator import build

from .testbench import run_testbench

__all__ = ["pack", "unpack", "Item", "Channel", "Bench", "run_channels", "stream_through"]


def pack(shape, value) -> int:
    """Pack a payload value into its bit pattern (an unsigned int)."""
    if isinstance(shape, data.StructLayout):
        return sum(pack(field.shape, value[name]) << field.offset for name, field in shape)
    if isinstance(shape, data.ArrayLayout):
        w = Shape.cast(shape.elem_shape).width
        return sum(pack(shape.elem_shape, v) << (k * w) for k, v in enumerate(value))
    shape = Shape.cast(shape)
    return int(value) & ((1 << shape.width) - 1)


def unpack(shape, bits: int):
    """The inverse of :func:`pack`."""
    if isinstance(shape, data.StructLayout):
        return {name: unpack(field.shape, bits >> field.offset) for name, field in shape}
    if isinstance(shape, data.ArrayLayout):
        w = Shape.cast(shape.elem_shape).width
        return [unpack(shape.elem_shape, bits >> (k * w)) for k in range(shape.length)]
    shape = Shape.cast(shape)
    bits &= (1 << shape.width) - 1
    if shape.signed and bits >> (shape.width - 1):
        bits -= 1 << shape.width
    return bits


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
    in a cycle; 1: always), ``watch`` (1-port signals whose changes are recorded), ``drain`` (the run ends
    once every item is taken and no output has been valid for this many cycles) and ``limit`` (or after
    this many cycles)."""

    inputs: dict[str, list[Item]] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    watch: list[str] = field(default_factory=list)
    seed: int = 0
    drain: int = 16
    limit: int = 100_000


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


def _payload_shape(unit, port):
    return unit.signature.members[port].signature.members["payload"].shape


def _items(shape, items: list[Item]) -> list[dict]:
    def stim(item):
        after = list(item.after) if item.after else None
        return {"value": format(pack(shape, item.value), "x"), "gap": item.gap, "after": after}

    return [stim(item) for item in items]


def _stimulus(unit, prefix: str, chan: Channel) -> dict:
    """``chan`` as ``tb_streams`` reads it, for the ports of ``unit`` named ``<prefix><port>__…``."""
    return {
        "prefix": prefix,
        "inputs": {port: _items(_payload_shape(unit, port), items) for port, items in chan.inputs.items()},
        "outputs": {port: {"ready": p, "seed": chan.seed + k} for k, (port, p) in enumerate(chan.ready.items())},
        "watch": chan.watch,
        "drain": chan.drain,
        "limit": chan.limit,
    }


def _unpacked(unit, result: dict) -> dict:
    def payloads(shape, items):
        return [(offered, taken, unpack(shape, int(v, 16))) for offered, taken, v in items]

    result["outputs"] = {port: payloads(_payload_shape(unit, port), items) for port, items in result["outputs"].items()}
    return result


def _run(component, channels: list[tuple[object, str, Channel]]) -> list[dict]:
    """Run ``tb_streams`` on ``component`` with one channel per ``(unit, prefix, channel)``; the results
    in the same order, payloads unpacked."""
    stim = [_stimulus(unit, prefix, chan) for unit, prefix, chan in channels]
    results = run_testbench(build(component), "tb_streams", {"channels": stim})["channels"]
    return [_unpacked(unit, result) for (unit, _, _), result in zip(channels, results)]


def run_channels(units: dict, channels: dict[str, Channel]) -> dict[str, dict]:
    """Simulate ``units`` (name → component) side by side, each driven by its channel; return per name
    the testbench's result with payloads unpacked: ``outputs[port]`` is a list of ``(offered, taken,
    payload)``, ``inputs[port]`` the cycles each item was taken (see ``tb_streams``)."""
    results = _run(Bench(units), [(units[name], f"{name}__", chan) for name, chan in channels.items()])
    return dict(zip(channels, results))


def stream_through(component, payloads: list, gaps: list[int] | None = None, drain: int | None = None):
    """Feed ``payloads`` to ``component.i`` (one per clock, ``gaps[k]`` idle clocks after the k-th) and
    return ``(outputs, cycles)``: every payload ``component.o`` produced (``ready`` high throughout) until
    ``drain`` clocks (default the unit's ``latency`` + 4) passed after the last input and its gap with no
    output, and the clock each appeared on. Raises ``RuntimeError`` if the outputs do not stop."""
    gaps = list(gaps) if gaps else [0] * len(payloads)
    drain = getattr(component, "latency", 0) + 4 if drain is None else drain
    items = [Item(value, gap) for value, gap in zip(payloads, [0, *gaps[:-1]])]
    schedule = len(payloads) + sum(gaps) + drain
    chan = Channel({"i": items}, {"o": 1.0}, drain=drain + (gaps[-1] if gaps else 0), limit=10 * schedule)
    (result,) = _run(component, [(component, "", chan)])
    if result["limit"]:
        raise RuntimeError(f"{type(component).__name__}'s output was still valid after {chan.limit} cycles")
    outputs = result["outputs"]["o"]
    return [value for _, _, value in outputs], [taken for _, taken, _ in outputs]
