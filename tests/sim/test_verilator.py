import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from spherecode.hw.fixed import Q
from spherecode.hw.units.multiplier import MultiplierParameters
from spherecode.sim import verilator as sim_build

from ..benches.streams import pack, stream_through, unpack
from ..benches.testbench import BENCHES, run_testbench

ROOT = Path(__file__).resolve().parents[2]


def test_verilog_ports_follow_the_signature():
    text = sim_build.to_verilog(MultiplierParameters(Q(2, 6)).create())
    for port in ("clk", "rst", "i__payload", "i__valid", "o__payload", "o__valid"):
        assert port in text
    assert "i__ready" not in text  # always ready: a constant, not a port


def test_build_is_cached_per_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    unit = MultiplierParameters(Q(2, 6)).create()
    first = sim_build.build(unit)
    stamp = (first.directory / first.toplevel).stat().st_mtime_ns
    again = sim_build.build(MultiplierParameters(Q(2, 6)).create())
    assert again.directory == first.directory and (again.directory / again.toplevel).stat().st_mtime_ns == stamp
    other = sim_build.build(MultiplierParameters(Q(2, 7)).create())
    assert other.directory != first.directory
    out, cycles = stream_through(unit, [{"a": 64, "b": -32}, {"a": 127, "b": 127}], gaps=[3, 0])
    assert out == [-32, 127] and cycles == [6, 10]  # 127 · 127 / 64 saturates


def test_pack_round_trip():
    unit = MultiplierParameters(Q(3, 44)).create()
    layout = unit.signature.members["i"].signature.members["payload"].shape
    value = {"a": -5, "b": (1 << 46) - 1}
    assert unpack(layout, pack(layout, value)) == value


def test_failing_testbench_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    build = sim_build.build(MultiplierParameters(Q(2, 6)).create())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    failed = r"^cocotb: a test failed in tb_streams .*\(log: .*\)$"
    with pytest.raises(sim_build.SimError, match=failed) as exc:
        build.run("tb_streams", {"SPHERECODE_TB_IN": str(tmp_path / "missing.json")}, python_path=[BENCHES])
    assert isinstance(exc.value, RuntimeError) and "\n" not in str(exc.value)
    assert "missing.json" in exc.value.log.read_text()  # the log is kept, out of the removed folder
    assert not [p for p in tmp_path.glob("spherecode-sim-*") if p.is_dir()]


def _entries(cache):
    return sorted(p.name for p in cache.iterdir() if p.is_dir())


def test_truncated_target_is_detected_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    unit = MultiplierParameters(Q(2, 6)).create()
    top = sim_build.build(unit).directory / sim_build.TOP
    size = top.stat().st_size
    with open(top, "r+b") as f:  # what a full disk or a killed copy leaves
        f.truncate(size // 2)
    again = sim_build.build(unit)
    assert (again.directory / again.toplevel).stat().st_size == size
    out, _ = stream_through(unit, [{"a": 64, "b": -32}])
    assert out == [-32]
    assert _entries(tmp_path) == [again.directory.name]  # the broken entry is gone, no staging folder left


def test_deleted_target_is_rebuilt_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    unit = MultiplierParameters(Q(2, 6)).create()
    first = sim_build.build(unit)
    (first.directory / first.toplevel).unlink()
    again = sim_build.build(unit)
    assert again.directory == first.directory and (again.directory / again.toplevel).is_file()
    assert sim_build._valid(again.directory, again.toplevel)
    assert _entries(tmp_path) == [again.directory.name]


def test_cache_entry_install_races(tmp_path, monkeypatch):
    """A concurrent builder that installs a valid entry first wins; a broken entry is replaced."""
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))

    def winner_meanwhile(staging):
        (staging / "t").write_text("mine")
        other = tmp_path / "other"
        other.mkdir()
        (other / "t").write_text("theirs")
        sim_build._write_manifest(other, "t")
        other.rename(tmp_path / "k1")

    assert (sim_build.cached("k1", "t", winner_meanwhile) / "t").read_text() == "theirs"
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / "t").write_text("left by a killed build, no manifest")
    assert (sim_build.cached("k2", "t", lambda staging: (staging / "t").write_text("mine")) / "t").read_text() == "mine"
    assert _entries(tmp_path) == ["k1", "k2"]
    assert (sim_build.cached("k2", "t", lambda staging: 1 / 0) / "t").read_text() == "mine"  # valid: no build


def test_unwritable_cache_is_a_one_line_sim_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")  # root ignores permissions, not a file in the way
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path / "file" / "cache"))
    unwritable = r"^cannot create the simulator cache .*file/cache: .*\(set SPHERECODE_SIM_CACHE\)$"
    with pytest.raises(sim_build.SimError, match=unwritable) as exc:
        sim_build.build(MultiplierParameters(Q(2, 6)).create())
    assert "\n" not in str(exc.value)


def test_failed_build_is_a_sim_error_naming_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_SIM_CACHE", str(tmp_path))
    with pytest.raises(sim_build.SimError, match=r"^Verilator build failed \(log: .*\)$") as exc:
        sim_build.build(MultiplierParameters(Q(2, 6)).create(), extra_options=("--no-such-option",))
    assert "no-such-option" in exc.value.log.read_text()
    assert _entries(tmp_path) == []  # no staging folder left


def test_cache_key_leaves_out_the_interpreter(monkeypatch):
    key = sim_build.cache_key("x")
    monkeypatch.setattr(sys, "executable", "/elsewhere/bin/python3")
    assert sim_build.cache_key("x") == key


def test_bare_machine_builds_without_python_on_path(tmp_path):
    """Only /usr/bin:/bin on PATH (python3 but no ``python``), an empty cache: Verilator's makefile must
    get the running interpreter."""
    assert shutil.which("python", path="/usr/bin:/bin") is None  # else this test proves nothing
    script = (
        "from spherecode.hw.fixed import Q; from spherecode.hw.units.multiplier import MultiplierParameters; "
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.benches.streams import stream_through; "
        "print(stream_through(MultiplierParameters(Q(2, 5)).create(), [{'a': 32, 'b': -16}])[0])"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SPHERECODE_SIM_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[-16]"


def _slow_run(build):
    """Build.run of a testbench that would run for hours (Python wakes every clock)."""
    run_testbench(build, "tb_streams", {"channels": [{"prefix": "", "drain": 10**9, "limit": 10**9}]})


@pytest.fixture(scope="module")
def multiplier(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPHERECODE_SIM_CACHE", str(tmp_path_factory.mktemp("cache")))
        return sim_build.build(MultiplierParameters(Q(2, 6)).create())


@pytest.mark.parametrize("how", ["KeyboardInterrupt", "SIGTERM handler raising SystemExit"])
def test_interrupted_run_ends_the_simulator_and_removes_its_folder(tmp_path, monkeypatch, multiplier, how):
    build = multiplier
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    started = []
    start = sim_build.Build.start
    monkeypatch.setattr(sim_build.Build, "start", lambda *a, **k: started.append(start(*a, **k)) or started[-1])
    if how == "KeyboardInterrupt":
        # Python's own Ctrl-C handler, also where the tests run as a background job (SIGINT ignored from
        # the start, which a Python started so keeps: the run would then never be interrupted).
        sig, expected = signal.SIGINT, KeyboardInterrupt
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    else:

        def on_term(*_):
            raise SystemExit(143)

        sig, expected = signal.SIGTERM, SystemExit
        previous = signal.signal(signal.SIGTERM, on_term)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), sig))
    timer.start()
    try:
        with pytest.raises(expected):
            _slow_run(build)
    finally:
        timer.cancel()
        signal.signal(sig, previous)
    assert started and started[0].poll() is not None  # ended and reaped
    assert not list(tmp_path.glob("spherecode-sim-*"))


def test_cache_key_names_the_environment_the_simulator_links_to(monkeypatch):
    """A build links cocotb's VPI library from one venv by absolute path: another venv's build is another."""
    import cocotb_tools.config as cfg

    key = sim_build.cache_key("module top; endmodule", "top")
    monkeypatch.setattr(cfg, "libs_dir", cfg.libs_dir.parent / "elsewhere")
    assert sim_build.cache_key("module top; endmodule", "top") != key
