"""The ``sim`` backend (host/backends/sim.py): end to end through the CLI, and its simulator process
(sim/core_server.py: failures are one-line ``SimError``s, never a hang; the process and its folder never
outlive the backend)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from spherecode.host.cli import main
from spherecode.host.backends.reference import random_start
from spherecode.hw.config import CoreConfig
from spherecode.host.backends.sim import SimBackend
from spherecode.sim import core_server
from spherecode.sim.verilator import Build, SimError

#: The smallest configuration already built for tests/hw/dataflow/test_vector_updater.py (cached once).
SMALL = CoreConfig("Q2.20", 16, 3, 1)


def test_sim_and_model_write_byte_identical_codes(tmp_path, capsys):
    files = {}
    for backend in ("model", "sim"):
        files[backend] = tmp_path / f"{backend}.txt"
        argv = [
            "run",
            "--dim",
            "3",
            "--points",
            "6",
            "--iters",
            "25",
            "--seed",
            "3",
            "--starts",
            "2",
            "--backend",
            backend,
            "--out",
            str(files[backend]),
            "--json",
        ]
        if backend == "model":
            argv += ["--loosening", "host"]  # the model's default is chip; the RTL loosens on the host
        assert main(argv) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["backend"] == backend and result["format"] == "Q3.44" and result["lanes"] == 1
        if backend == "sim":
            assert result["sim_cycles_per_second"] > 0
            sim_cycles = result["cycles_per_iteration"]
        else:
            model_cycles = result["cycles_per_iteration"]
    assert files["sim"].read_bytes() == files["model"].read_bytes()
    assert sim_cycles == model_cycles  # measured by the RTL's counter = the documented formula


def test_sim_and_model_chip_loosening_write_byte_identical_codes(tmp_path, capsys):
    """``--loosening chip``: the whole run in the simulated RTL (one request, K iterations on chip) writes
    the model's code, byte for byte; the RTL's counter gives the documented cycles per iteration."""
    files, results = {}, {}
    for backend in ("model", "sim"):
        files[backend] = tmp_path / f"{backend}.txt"
        argv = [
            "run",
            "--dim",
            "3",
            "--points",
            "12",
            "--iters",
            "50",
            "--seed",
            "4",
            "--starts",
            "2",
            "--jobs",
            "1",
            "--backend",
            backend,
            "--loosening",
            "chip",
            "--out",
            str(files[backend]),
            "--json",
        ]
        assert main(argv) == 0
        results[backend] = json.loads(capsys.readouterr().out)
        assert results[backend]["loosening"] == "chip"
    assert files["sim"].read_bytes() == files["model"].read_bytes()
    assert results["sim"]["final_beta"] == results["model"]["final_beta"]
    config = CoreConfig(loosening=True)  # run_config's: Q3.44, Nmax 64, Dmax 3, one lane
    assert (
        results["sim"]["cycles_per_loosening_iteration"]
        == results["model"]["cycles_per_loosening_iteration"]
        == config.iteration_cycles(12)
    )


def test_chip_run_whose_load_outlasts_the_control():
    """N·D + 3 > the control's load latency: the run's first term is the load (the cycles are exact), on
    the build of the test above; the core refuses K = 0; a plain update on the same core."""
    from spherecode.host.model.chip_loosening import loosen
    from spherecode.host.model.updater import iterate

    with SimBackend(CoreConfig(), loosening="chip") as sim:
        config, dp = sim.config, sim.dp
        n, d = 60, 3
        assert n * d + 3 > config.control.load_latency
        raw, _, _ = dp.inputs(random_start(n, d, np.random.default_rng(60)), 4.0)
        ans = sim.exchange_run(n, d, 2, 1, 2 << 48, raw.ravel())
        r, state, _, kept = loosen(dp, raw, 2)
        out = np.array([int(c, 16) for c in ans["coords"]], dtype=np.int64)
        out = np.where(out >> (dp.fmt.width - 1), out - (1 << dp.fmt.width), out).reshape(n, d)
        np.testing.assert_array_equal(out, r)
        assert (ans["progress"], ans["state_n"], int(ans["state_l"], 16)) == (2, state.n, state.l)
        assert (int(ans["move_norm"], 16), int(ans["delta_min"], 16)) == (kept.move_norm, int(kept.delta.min()))
        assert ans["cycles"] == config.run_cycles(n, d, 2) == n * d + 3 + 2 * config.iteration_cycles(n) + n + 2
        with pytest.raises(ValueError, match="refused"):
            sim.exchange_run(n, d, 0, 1, 2 << 48, raw.ravel())
        hb, c = dp.constants(6.0)
        ans = sim.exchange(n, d, hb, c, r.ravel())
        assert int(ans["move_norm"], 16) == iterate(dp, r, hb, c).move_norm and ans["cycles"] == config.cycles(n, d)


def test_loosening_mode_is_checked():
    with pytest.raises(ValueError, match="loosening must be one of host, chip, not 'fast'"):
        SimBackend(SMALL, loosening="fast")
    with pytest.raises(ValueError, match="has no on-chip loosening"):
        SimBackend(SMALL).exchange_run(5, 3, 1, 1, 2 << 48, np.zeros(15))


@pytest.fixture
def small():
    with SimBackend(SMALL) as sim:
        yield sim


def _update(sim, n=5):
    return sim.update(random_start(n, 3, np.random.default_rng(n)), 4.0)


def _gone(pid: int) -> bool:
    """The process has exited (a zombie counts: nobody may reap an orphan in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_close_ends_the_simulator_and_removes_its_folder(small):
    _update(small)
    process, work = small.process, small._server.work
    assert process.poll() is None and work.is_dir()
    t = time.monotonic()
    small.close()
    assert time.monotonic() - t < 3
    assert process.returncode is not None and not work.exists()
    small.close()  # idempotent
    assert _update(small).stats["cycles"] > 0  # a fresh simulator
    small.close()


def test_close_while_an_interrupt_propagates():
    with pytest.raises(KeyboardInterrupt):
        with SimBackend(SMALL) as sim:
            _update(sim)
            process, work = sim.process, sim._server.work
            raise KeyboardInterrupt
    assert process.returncode is not None and not work.exists()


def test_killed_simulator_is_a_sim_error_not_a_hang(small):
    _update(small)
    process, work = small.process, small._server.work
    os.kill(process.pid, signal.SIGKILL)
    t = time.monotonic()
    # The next request meets the dead process either while writing (a broken pipe) or while reading the
    # answer (end of file), whichever the pipe's buffering makes first: one line with its exit status either way.
    with pytest.raises(
        SimError,
        match=r"^the simulator stopped( reading requests)? \(exit status -9\) "
        r"\(log: .*\)$",
    ) as exc:
        _update(small, 16)
    assert time.monotonic() - t < 5 and "\n" not in str(exc.value)
    assert not work.exists() and small.process is None
    exc.value.log.unlink()
    assert _update(small).stats["cycles"] > 0  # the next update starts a fresh simulator


def test_stuck_simulator_is_a_sim_error(small, monkeypatch):
    monkeypatch.setattr(core_server, "ANSWER_TIMEOUT", 1.0)
    _update(small)
    process = small.process
    os.kill(process.pid, signal.SIGSTOP)
    with pytest.raises(SimError, match=r"^the simulator did not answer within 1 s") as exc:
        _update(small)
    assert process.returncode is not None
    exc.value.log.unlink()


@pytest.mark.parametrize(
    "script, timeout, message",
    [
        ("echo oops; exit 3", 60, r"^the simulator stopped \(exit status 3\) \(log: "),
        ("exec sleep 60", 1, r"^the simulator did not start within 1 s \(log: "),
    ],
)
def test_simulator_that_never_opens_its_pipe(small, tmp_path, monkeypatch, script, timeout, message):
    monkeypatch.setattr(core_server, "START_TIMEOUT", timeout)
    (tmp_path / "top").write_text(f"#!/bin/sh\n{script}\n")
    (tmp_path / "top").chmod(0o755)
    small._sim = Build(tmp_path)
    t = time.monotonic()
    with pytest.raises(SimError, match=message) as exc:
        _update(small)
    assert time.monotonic() - t < timeout + 5
    if "oops" in script:
        assert exc.value.log.read_text() == "oops\n"
    exc.value.log.unlink()


def test_simulator_dies_with_its_parent(tmp_path):
    """The host is SIGKILLed while a third process holds the request pipe open (so the testbench never
    reads its end): the simulator ends anyway (PR_SET_PDEATHSIG)."""
    child = textwrap.dedent(f"""
        import os, subprocess, time, numpy as np
        from spherecode.host.backends.reference import random_start
        from spherecode.hw.config import CoreConfig
        from spherecode.host.backends.sim import SimBackend
        sim = SimBackend(CoreConfig({str(SMALL.fmt)!r}, {SMALL.nmax}, {SMALL.dmax}, {SMALL.lanes}))
        sim.update(random_start(5, 3, np.random.default_rng(5)), 4.0)
        fd = os.open(sim._server.work / "req", os.O_WRONLY)
        holder = subprocess.Popen(["sleep", "60"], pass_fds=[fd])
        print(sim.process.pid, holder.pid, sim._server.work, flush=True)
        time.sleep(60)
    """)
    host = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        sim_pid, holder_pid, work = host.stdout.readline().split()
        sim_pid, holder_pid = int(sim_pid), int(holder_pid)
        host.kill()
        host.wait()
        deadline = time.monotonic() + 5
        while not _gone(sim_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(sim_pid)
    finally:
        host.kill()
        host.wait()
        if "holder_pid" in locals() and isinstance(holder_pid, int):
            os.kill(holder_pid, signal.SIGKILL)
        if "work" in locals():
            subprocess.run(["rm", "-rf", work])  # a SIGKILLed host cannot clean up


def test_simulator_answering_nonsense_is_a_sim_error(small, tmp_path):
    (tmp_path / "top").write_text(
        '#!/bin/sh\nexec 3<"$SPHERECODE_TB_REQ"\nread -r line <&3\n'
        'echo "ok 1 2" > "$SPHERECODE_TB_RESP"\nexec sleep 60\n'
    )
    (tmp_path / "top").chmod(0o755)
    small._sim = Build(tmp_path)
    with pytest.raises(SimError, match=r"^the simulator answered 'ok 1 2', not an iteration's result \(log: ") as exc:
        _update(small)
    assert small.process is None
    exc.value.log.unlink()


@pytest.mark.parametrize("value", [1, None, "yes"])
def test_board_design_is_checked(value):
    with pytest.raises(ValueError, match=rf"board_design must be True or False, not {value!r}"):
        SimBackend(SMALL, board_design=value)
