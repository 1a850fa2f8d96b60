"""Run a pipelined unit under Verilator: payloads in, payloads out (see :mod:`spherecode.sim.tb_pipeline`).

Payloads are given and returned as Python values shaped like the stream's payload: an int for a plain
shape, a dict for a ``StructLayout``, a list for an ``ArrayLayout`` (raw fixed-point integers throughout).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import data

from .verilator import build

__all__ = ["pack", "unpack", "stream_through"]


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


def stream_through(component, payloads: list, gaps: list[int] | None = None, drain: int | None = None):
    """Feed ``payloads`` to ``component.i`` (one per clock, ``gaps[k]`` idle clocks after the k-th) and
    return ``(outputs, cycles)``: every payload ``component.o`` produced and the clock it appeared on."""
    i_shape = component.signature.members["i"].signature.members["payload"].shape
    o_shape = component.signature.members["o"].signature.members["payload"].shape
    latency = getattr(component, "latency", 0)
    sim = build(component)
    with tempfile.TemporaryDirectory(prefix="spherecode-tb-") as work:
        stim, result = Path(work) / "in.json", Path(work) / "out.json"
        stim.write_text(
            json.dumps(
                {
                    "payloads": [format(pack(i_shape, p), "x") for p in payloads],
                    "gaps": gaps,
                    "drain": latency + 4 if drain is None else drain,
                }
            )
        )
        sim.run("spherecode.sim.tb_pipeline", {"SPHERECODE_TB_IN": str(stim), "SPHERECODE_TB_OUT": str(result)})
        out = json.loads(result.read_text())
    return [unpack(o_shape, int(p, 16)) for p in out["payloads"]], out["cycles"]
