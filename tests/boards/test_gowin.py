"""The GW5A build path (boards/gowin.py): the board description, the design around BoardTop, the tools'
arguments and the report; the synthesis of one lane of the Tang Mega 138K update board, at the end."""

import json

from amaranth.back import rtlil

from spherecode.boards import BoardConfig
from spherecode.boards.build import report
from spherecode.boards.gowin import RESOURCES, GowinDesign, TangMega138K, nextpnr_args, yosys_script
from spherecode.hw.board_link.board_top import BoardTop
from spherecode.hw.config import CoreConfig
from spherecode.hw.fixed import Q


def small_board(**kw):
    return BoardConfig(
        "tang-small",
        "gowin:TangMega138K",
        "gw5a",
        CoreConfig(Q(2, 17), 64, 3, 1),
        50_000_000,
        2_000_000,
        ("-b", "tangmega138k"),
        340,
        **kw,
    )


def test_the_tang_mega_138k_constraints_name_every_port_once():
    text = TangMega138K.cst()
    for port, site in (("osc", "V22"), ("uart_tx", "U15"), ("uart_rx", "V14"), ("led", "V13")):
        assert f'IO_LOC "{port}" {site};' in text
        assert text.count(f'IO_PORT "{port}" ') == 1
    assert small_board().platform_class() is TangMega138K
    assert small_board().platform_class().device == "GW5AST-LV138PG484AC1/I0"
    assert small_board().bitstream_name == "top.fs"


def test_the_design_has_the_boards_ports_and_no_pll():
    il = rtlil.convert(
        GowinDesign(BoardTop(CoreConfig(Q(2, 17), 64, 3, 1), clock_hz=50_000_000, baud=2_000_000)), name="top"
    )
    ports = {
        line.split()[-1]
        for line in il.splitlines()
        if line.strip().startswith("wire") and (" input " in line or " output " in line)
    }
    assert {r"\osc", r"\uart_rx", r"\uart_tx", r"\led"} <= ports
    assert "PLL" not in il


def test_yosys_script_and_nextpnr_arguments():
    script = yosys_script("rename -hide w:*]")
    assert script.splitlines() == [
        "read_rtlil top.il",
        "rename -hide w:*]",
        "synth_gowin -family gw5a -top top -json top.json",
        "tee -q -o stat.json stat -json",
    ]
    args = nextpnr_args(TangMega138K, 50e6, seed=3, router="router2")

    def value(flag):
        return args[args.index(flag) + 1]

    assert value("--device") == "GW5AST-LV138PG484AC1/I0" and value("--freq") == "50"
    assert value("--seed") == "3" and value("--router") == "router2" and "--timing-allow-fail" in args
    assert value("--placer-heap-beta") == "0.5"
    assert [args[i + 1] for i, a in enumerate(args) if a == "--vopt"] == ["family=GW5AST-138C", "cst=top.cst"]


def test_report_reads_nextpnr_himbaechel_json(tmp_path):
    (tmp_path / "report.json").write_text(
        json.dumps(
            {
                "fmax": {"osc$TRELLIS_IO_IN": {"achieved": 61.5, "constraint": 50.0}},
                "utilization": {
                    "LUT4": {"used": 1000, "available": 138240},
                    "MULTALU27X18": {"used": 36, "available": 298},
                    "ALU": {"used": 10, "available": 103680},
                },
            }
        )
    )
    r = report(small_board(), tmp_path)
    assert r["fmax_mhz"] == 61.5 and r["timing_met"] is True and r["bitstream"] is None
    assert r["utilisation"]["dsp"] == {"used": 36, "available": 298}
    assert set(r["utilisation"]) == set(RESOURCES)
    (tmp_path / "report.json").write_text(json.dumps({"fmax": {"osc": {"achieved": 45.0, "constraint": 50.0}}}))
    assert report(small_board(), tmp_path)["timing_met"] is False


def test_the_tang_boards_flash_their_fs_bitstream_with_openfpgaloaders_board_name(tmp_path, monkeypatch, capsys):
    import json as _json

    from spherecode.boards import BOARDS
    from spherecode.host.cli import main

    from .test_flash import fake_loader

    for name in ("tang-mega-138k", "tang-mega-138k-loosening"):
        cfg = BOARDS[name]
        assert (cfg.family, cfg.bitstream_name, cfg.cable) == ("gw5a", "top.fs", ("-b", "tangmega138k"))
        assert cfg.core.dsp == "gw5a" and cfg.top().divisor * cfg.baud == cfg.clock_hz  # 2 Mbaud exactly
    bit = tmp_path / "top.fs"
    bit.write_bytes(b"\xff" * 16)
    monkeypatch.setenv("OPENFPGALOADER", fake_loader(tmp_path, "Load SRAM: [====] 100.00%", 0))
    assert main(["flash", "--board", "tang-mega-138k", "--bitstream", str(bit), "--json"]) == 0
    assert _json.loads(capsys.readouterr().out)["board"] == "tang-mega-138k"
    assert (tmp_path / "args").read_text().split() == ["-b", "tangmega138k", "-m", str(bit)]


def test_synthesis_of_one_tang_lane_maps_every_dsp_instance_and_fits(tmp_path):
    """CI's GW5A synthesis check: yosys ``synth_gowin -family gw5a`` on the Tang Mega 138K update board's
    design with one lane (the shipped boards' six take five times as long), exactly as ``spherecode build
    --synth-only`` runs it. Every hand-instantiated MULTALU27X18 of the netlist is a DSP block of the
    result, yosys infers none more, and the design fits the device. About 2 CPU-minutes; placement and
    routing run on demand (``spherecode build``)."""
    import dataclasses
    import re

    from spherecode.boards import BOARDS
    from spherecode.boards.build import build

    base = BOARDS["tang-mega-138k"]
    cfg = dataclasses.replace(base, name="tang-one-lane", core=dataclasses.replace(base.core, lanes=1))
    r = build(cfg, tmp_path, synth_only=True)
    instances = len(re.findall(r"^\s*cell \\MULTALU27X18 ", (tmp_path / "top.il").read_text(), re.M))
    u = r["utilisation"]
    assert r["fits"] and r["lanes"] == 1, r
    assert u["dsp"]["used"] == instances > 0 and u["dsp"]["available"] == 298
    assert all(0 < u[k]["used"] <= u[k]["available"] for k in ("lut4", "ff", "bram")), u
    assert (tmp_path / "top.json").stat().st_size > 1_000_000  # the netlist nextpnr would place
