"""The power model: constants with their sources, overrides and their errors, the board model's
arithmetic, and RAPL read from a fake powercap tree."""

import json

import pytest

from spherecode.host.reports.power import CONSTANTS, PowerModel, Rapl, board_power


def test_every_constant_has_a_unit_kind_and_source():
    for key, c in CONSTANTS.items():
        assert c.kind in ("assumed", "cited") and c.source and c.value >= 0, key
    rows = PowerModel().table()
    assert {r["key"] for r in rows} == set(CONSTANTS)


def test_overrides_and_their_errors(tmp_path):
    m = PowerModel().with_overrides({"cpu_watts_per_core": 7, "idle_watts.someboard": 1.5})
    assert m.values["cpu_watts_per_core"] == 7.0 and m.kinds["cpu_watts_per_core"] == "override"
    assert m.idle_watts("someboard") == 1.5
    assert PowerModel().values["cpu_watts_per_core"] == CONSTANTS["cpu_watts_per_core"].value  # a copy
    with pytest.raises(ValueError, match=r"unknown power constant 'gpu_watts'"):
        PowerModel().with_overrides({"gpu_watts": 1})
    for bad in (-1, float("nan"), "3", True):
        with pytest.raises(ValueError, match=r"must be a non-negative number, not "):
            PowerModel().with_overrides({"pj_per_cycle.dsp": bad})
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"pj_per_cycle.lut4": 3.0}))
    m = PowerModel.from_file(path)
    assert m.values["pj_per_cycle.lut4"] == 3.0 and m.kinds["pj_per_cycle.lut4"].startswith("override")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        PowerModel.from_file(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        PowerModel.from_file(path)
    with pytest.raises(ValueError, match="--power"):
        PowerModel.from_file(tmp_path / "missing.json")


def test_board_power_is_idle_plus_resources_times_energy_times_activity():
    m = PowerModel()
    v = m.values
    res = {"lut4": 1000, "ff": 2000, "dsp": 10, "bram": 4}
    p = board_power(m, "ulx3s-85f", res, 50e6)
    expect = (
        50e6
        * 1e-12
        * (
            1000 * v["pj_per_cycle.lut4"] * v["activity.logic"]
            + 2000 * v["pj_per_cycle.ff"] * v["activity.logic"]
            + 10 * v["pj_per_cycle.dsp"] * v["activity.arith"]
            + 4 * v["pj_per_cycle.bram"] * v["activity.arith"]
        )
    )
    assert p["dynamic_w"] == pytest.approx(expect)
    assert p["idle_w"] == v["idle_watts.ulx3s-85f"] and p["compute_w"] == pytest.approx(p["idle_w"] + expect)
    assert board_power(m, "nosuchboard", res, 50e6)["idle_w"] is None


def test_rapl_reads_package_zones_and_survives_wraparound(tmp_path):
    pkg = tmp_path / "intel-rapl:0"
    sub = tmp_path / "intel-rapl:0:0"  # a sub-zone: inside the package's figure, not added
    for zone, energy in ((pkg, 999_000_000), (sub, 5)):
        zone.mkdir()
        (zone / "energy_uj").write_text(f"{energy}\n")
        (zone / "max_energy_range_uj").write_text("1000000000\n")
    rapl = Rapl(str(tmp_path))
    assert rapl.available and len(rapl.zones) == 1

    def work():  # 3 J pass, across the counter's wrap at 1000 J
        (pkg / "energy_uj").write_text("2000000\n")

    seconds, watts = rapl.measure(work)
    assert watts == pytest.approx(3.0 / seconds)
    assert not Rapl(str(tmp_path / "none")).available
    assert Rapl(str(tmp_path / "none")).measure(lambda: None)[1] is None
