import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.multiplier import Multiplier
from spherecode.sim import build as sim_build
from spherecode.sim.pipeline import pack, stream_through, unpack


def test_verilog_ports_follow_the_signature():
    text = sim_build.to_verilog(Multiplier(Q(2, 6)))
    for port in ("clk", "rst", "i__payload", "i__valid", "o__payload", "o__valid"):
        assert port in text
    assert "i__ready" not in text  # always ready: a constant, not a port


def test_build_is_cached_per_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    unit = Multiplier(Q(2, 6))
    first = sim_build.build(unit)
    stamp = (first.directory / first.toplevel).stat().st_mtime_ns
    again = sim_build.build(Multiplier(Q(2, 6)))
    assert again.directory == first.directory and (again.directory / again.toplevel).stat().st_mtime_ns == stamp
    other = sim_build.build(Multiplier(Q(2, 7)))
    assert other.directory != first.directory
    out, cycles = stream_through(unit, [{"a": 64, "b": -32}, {"a": 127, "b": 127}], gaps=[3, 0])
    assert out == [-32, 127] and cycles == [6, 10]  # 127 · 127 / 64 saturates


def test_pack_round_trip():
    unit = Multiplier(Q(3, 44))
    layout = unit.signature.members["i"].signature.members["payload"].shape
    value = {"a": -5, "b": (1 << 46) - 1}
    assert unpack(layout, pack(layout, value)) == value


def test_failing_testbench_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    build = sim_build.build(Multiplier(Q(2, 6)))
    with pytest.raises(RuntimeError, match="failed"):
        build.run("spherecode.sim.tb_pipeline", {"SPHERECODE_TB_IN": str(tmp_path / "missing.json")})
