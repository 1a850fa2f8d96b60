"""The default board's twin end to end: `spherecode emulate` behind a pty, `spherecode run --backend board`
against it, bit-identical to the model; and every fault of the issue injected on the serial path."""

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from spherecode.boards import DEFAULT, get_board
from spherecode.host.backends.board import BoardBackend
from spherecode.host.cli import main
from spherecode.host.link import BoardError, Link, Refused, request_frame, response_frame
from spherecode.host.backends.model import ModelBackend
from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, Status
from spherecode.sim.twin import Twin

from ..processes import gone_or_killed

BOARD = get_board(DEFAULT)


@pytest.fixture(scope="module")
def twin():
    with Twin(BOARD.twin(), 8) as t:
        yield t


def vectors(n, d=3, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def model():
    return ModelBackend(BOARD.core)


def same(a, b):
    assert np.array_equal(a.vectors, b.vectors) and a.move_norm == b.move_norm


class Proxy:
    """A pty between the host and the twin; ``fault(direction, data) -> data`` may change what passes
    (direction "up": host → board, "down": board → host)."""

    def __init__(self, port, fault=None):
        import tty

        self.fault = fault or (lambda direction, data: data)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.board = os.open(port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self._stop = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        while not self._stop:
            ready, _, _ = select.select([self.master, self.board], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                up = fd == self.master
                data = self.fault("up" if up else "down", data)
                if data:
                    os.write(self.board if up else self.master, data)

    def close(self):
        self._stop = True
        self._thread.join()
        for fd in (self.master, self._slave, self.board):
            os.close(fd)


class Frames:
    """Fault helper: acts on the k-th frame (counted by sync bytes at frame starts) of one direction."""

    def __init__(self, direction, sync, action, nth=0, cmd=None):
        self.direction, self.sync, self.action, self.nth, self.cmd = direction, sync, action, nth, cmd
        self.seen, self.done = 0, False

    def __call__(self, direction, data):
        if direction != self.direction or self.done or not data or data[0] != self.sync:
            return data
        if self.cmd is not None and data[1:2] != bytes([self.cmd]):
            return data
        if self.seen == self.nth:
            self.done = True
            return self.action(data)
        self.seen += 1
        return data


def flip(data, at=-3):
    out = bytearray(data)
    out[at] ^= 0x04
    return bytes(out)


def test_identity(twin):
    board = BoardBackend(twin.port, timeout=10)
    ident = board.board.identity
    assert ident.config == BOARD.core
    assert (ident.fmt, ident.nmax, ident.dmax, ident.lanes) == (BOARD.fmt, BOARD.nmax, BOARD.dmax, BOARD.lanes)
    assert (ident.clock_hz, ident.baud) == (BOARD.clock_hz, BOARD.baud)
    # Protocol version 3 without the LOOSEN capability: the shipped core has no whole loosening runs yet.
    assert ident.version == p.VERSION == 4 and not ident.loosens
    with pytest.raises(Refused, match="UNKNOWN_COMMAND"):
        board.board.link.request(Command.LOOSEN, bytes(p.Layout.loosen))
    with pytest.raises(BoardError, match="no whole loosening runs"):
        board.loosen(vectors(8), 3)
    assert board.board.link.status() == (0, False)
    board.close()


def test_iteration_is_bit_identical_to_the_model_and_cycles_match(twin):
    board = BoardBackend(twin.port, timeout=10)
    v = vectors(64)
    t0 = time.perf_counter()
    got = board.update(v, 9.0)
    seconds = time.perf_counter() - t0
    want = model().update(v, 9.0)
    same(got, want)
    assert got.stats["cycles"] == BOARD.core.cycles(64, 3) == want.stats["cycles"]
    print(f"N = 64, D = 3: one iteration through the twin in {seconds:.2f} s")
    board.close()


def test_emulate_and_run_through_the_cli(tmp_path, capsys):
    """Exactly what a user does: `spherecode emulate`, then `spherecode run --backend board --port PTY`."""
    emu = subprocess.Popen(
        [sys.executable, "-m", "spherecode", "emulate", "--board", DEFAULT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = emu.stdout.readline().strip()
        assert port.startswith("/dev/"), port
        files = {}
        for backend in ("board", "model"):
            files[backend] = tmp_path / f"{backend}.txt"
            argv = [
                "run",
                "--dim",
                "3",
                "--points",
                "12",
                "--iters",
                "15",
                "--seed",
                "2",
                "--starts",
                "2",
                "--backend",
                backend,
                "--out",
                str(files[backend]),
                "--json",
                "--timeout",
                "10",
            ]
            if backend == "board":
                argv += ["--port", port]
            else:
                argv += [
                    "--format",
                    str(BOARD.fmt),
                    "--lanes",
                    str(BOARD.lanes),
                    "--loosening",
                    "host",
                ]  # the board loosens on the host
            assert main(argv) == 0
            result = json.loads(capsys.readouterr().out)
            assert result["format"] == str(BOARD.fmt)
            if backend == "board":
                board_cycles = result["cycles_per_iteration"]
            else:
                model_cycles = result["cycles_per_iteration"]
        assert files["board"].read_bytes() == files["model"].read_bytes()
        assert board_cycles == model_cycles
    finally:
        emu.send_signal(signal.SIGTERM)
        assert emu.wait(timeout=30) == 0


# ---- faults --------------------------------------------------------------------------------------------


def run_with(twin, fault, n=12, **options):
    proxy = Proxy(twin.port, fault)
    try:
        board = BoardBackend(proxy.port, **{"timeout": 1.0, **options})
        v = vectors(n, seed=5)
        got = board.update(v, 7.0)
        board.close()
        return got, v
    finally:
        proxy.close()


@pytest.mark.parametrize("cmd", [Command.CONFIGURE, Command.LOAD, Command.RUN, Command.READ])
def test_corrupted_request_is_refused_by_crc_and_resent(twin, cmd):
    fault = Frames("up", p.SYNC_REQUEST, flip, cmd=cmd)
    got, v = run_with(twin, fault)
    assert fault.done
    same(got, model().update(v, 7.0))


@pytest.mark.parametrize("cmd", [Command.IDENTIFY, Command.LOAD, Command.READ])
def test_corrupted_response_is_detected_and_the_request_repeated(twin, cmd):
    fault = Frames("down", p.SYNC_RESPONSE, flip, cmd=cmd)
    got, v = run_with(twin, fault)
    assert fault.done
    same(got, model().update(v, 7.0))


def test_truncated_request_times_out_on_the_board_and_is_resent(twin):
    fault = Frames("up", p.SYNC_REQUEST, lambda d: d[:-4], cmd=Command.LOAD)
    got, v = run_with(twin, fault)
    assert fault.done
    same(got, model().update(v, 7.0))


def test_truncated_response_times_out_on_the_host_and_is_repeated(twin):
    fault = Frames("down", p.SYNC_RESPONSE, lambda d: d[:5], cmd=Command.READ)
    got, v = run_with(twin, fault)
    same(got, model().update(v, 7.0))


def test_lost_run_answer_repeats_the_whole_iteration_never_a_second_run(twin):
    fault = Frames("down", p.SYNC_RESPONSE, lambda d: b"", cmd=Command.RUN)
    got, v = run_with(twin, fault)
    assert fault.done
    same(got, model().update(v, 7.0))


def test_board_reset_mid_run_repeats_the_iteration(twin):
    def reset_after_run_request(direction, data):
        if direction == "up" and data[:2] == bytes([p.SYNC_REQUEST, Command.RUN]) and not state["done"]:
            state["done"] = True
            threading.Timer(0.001, twin.reset).start()
        return data

    state = {"done": False}
    got, v = run_with(twin, reset_after_run_request)
    assert state["done"]
    same(got, model().update(v, 7.0))


def test_board_reset_without_retries_is_a_clear_error(twin, capsys):
    def reset_before_run(direction, data):
        if direction == "up" and data[:2] == bytes([p.SYNC_REQUEST, Command.RUN]):
            twin.reset()
            time.sleep(0.2)
        return data

    with pytest.raises(BoardError, match="reset"):
        run_with(twin, reset_before_run, retries=0)


def test_persistent_corruption_gives_up_with_exit_status_2(twin, capsys):
    proxy = Proxy(twin.port, lambda direction, data: flip(data) if direction == "up" and len(data) > 4 else data)
    try:
        status = main(
            [
                "run",
                "--dim",
                "3",
                "--points",
                "8",
                "--iters",
                "2",
                "--backend",
                "board",
                "--port",
                proxy.port,
                "--timeout",
                "1",
                "--retries",
                "1",
            ]
        )
    finally:
        proxy.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "damaged request" in err[0], err


def test_n_above_nmax_is_refused_by_host_and_board(twin, capsys):
    status = main(
        [
            "run",
            "--dim",
            "3",
            "--points",
            str(BOARD.nmax + 1),
            "--iters",
            "1",
            "--backend",
            "board",
            "--port",
            twin.port,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and f"Nmax = {BOARD.nmax}" in err[0], err
    # and the board itself, asked directly
    import serial

    lay = p.Layout.of(BOARD.core.datapath)  # β/2 and 1/(2β) take the format's byte counts
    with serial.Serial(twin.port, timeout=0.05) as port:
        link = Link(port, timeout=5)
        with pytest.raises(BoardError, match="BAD_CONFIG"):
            link.request(
                Command.CONFIGURE,
                (BOARD.nmax + 1).to_bytes(2, "little") + bytes([3]) + bytes(lay.half_beta) + bytes(lay.step) + TOKEN,
            )


def test_board_refuses_out_of_order_commands(twin):
    import serial

    lay = p.Layout.of(BOARD.core.datapath)
    with serial.Serial(twin.port, timeout=0.05) as port:
        # A fresh configuration: RUN before LOAD, READ before RUN, LOAD skipping ahead, bad lengths.
        link = Link(port, timeout=5, retries=0)
        cfg = (4).to_bytes(2, "little") + bytes([3]) + bytes(lay.half_beta) + bytes(lay.step) + TOKEN
        link.request(Command.CONFIGURE, cfg)
        for cmd, payload, status in [
            (Command.RUN, b"", "NOT_LOADED"),
            (Command.READ, bytes(4), "NO_RESULT"),
            (Command.LOAD, TOKEN + (3).to_bytes(2, "little") + bytes(lay.coord), "BAD_RANGE"),
            (Command.LOAD, TOKEN + (0).to_bytes(2, "little") + bytes(13 * lay.coord), "BAD_RANGE"),
            (Command.LOAD, bytes(4) + (0).to_bytes(2, "little") + bytes(lay.coord), "BAD_TOKEN"),
            (Command.LOAD, TOKEN + b"\x00", "BAD_LENGTH"),
            (Command.IDENTIFY, b"\x00", "BAD_LENGTH"),
            (0x7F, b"", "UNKNOWN_COMMAND"),
        ]:
            with pytest.raises(BoardError, match=status):
                link.request(cmd, payload)


def test_silent_port_is_a_clear_error(capsys):
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        status = main(
            [
                "run",
                "--dim",
                "3",
                "--points",
                "8",
                "--iters",
                "1",
                "--backend",
                "board",
                "--port",
                os.ttyname(slave),
                "--timeout",
                "0.3",
                "--retries",
                "1",
            ]
        )
    finally:
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "no answer" in err[0], err


def test_a_device_that_is_not_a_spherecode_board(capsys):
    """Something that frames its answers correctly but is another device."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)

    def impostor():
        data = b""
        while len(data) < 7:
            ready, _, _ = select.select([master], [], [], 2)
            if not ready:
                return
            data += os.read(master, 64)
        os.write(master, response_frame(data[1], data[2], Status.OK, 0, b"ACME" + bytes(15)))

    threading.Thread(target=impostor, daemon=True).start()
    try:
        status = main(
            [
                "run",
                "--dim",
                "3",
                "--points",
                "8",
                "--iters",
                "1",
                "--backend",
                "board",
                "--port",
                os.ttyname(slave),
                "--timeout",
                "1",
            ]
        )
    finally:
        time.sleep(0.1)
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "not a spherecode board" in err[0], err


def test_missing_port(capsys):
    assert main(["run", "--dim", "3", "--points", "8", "--backend", "board", "--port", "/dev/nonexistent"]) == 2
    assert "cannot open serial port /dev/nonexistent" in capsys.readouterr().err
    assert main(["run", "--dim", "3", "--points", "8", "--backend", "board"]) == 2
    assert "needs --port" in capsys.readouterr().err


# ---- a damaged LOAD past the first chunk: the board forgot its prefix, the host loads again from 0 -------

LONG = 200  # N·D = 600 coordinates: two LOAD chunks
#: The answer timeout of the tests below where every damaged request is answered (BAD_CRC or TIMEOUT), so
#: that no answer is waited out: at 1 s, the BAD_CRC case failed twice here (no answer in time) while a
#: board build and two test runs shared the 2 cores.
ANSWERED = 10.0
#: Where one answer is lost and waited out: long enough that the answers after it come in time on a loaded
#: host (at 1 s this case failed every time here, also on main without the change under test, while a board
#: build and a full test run shared the 2 cores: "LOAD: no answer within 1 s, 2 attempts from index 0").
WAITED_OUT = 5.0


@pytest.mark.parametrize("damage", [flip, lambda d: d[:-4]], ids=["BAD_CRC", "TIMEOUT"])
def test_damaged_second_load_reloads_from_index_0(twin, damage):
    fault = Frames("up", p.SYNC_REQUEST, damage, nth=1, cmd=Command.LOAD)
    got, v = run_with(twin, fault, n=LONG, retries=1, timeout=ANSWERED)
    assert fault.done
    same(got, model().update(v, 7.0))


def test_damaged_second_load_with_its_answer_lost_reloads_from_index_0(twin):
    up = Frames("up", p.SYNC_REQUEST, flip, nth=1, cmd=Command.LOAD)
    down = Frames("down", p.SYNC_RESPONSE, lambda d: b"", nth=1, cmd=Command.LOAD)  # the BAD_CRC answer
    got, v = run_with(
        twin, lambda direction, data: down(direction, up(direction, data)), n=LONG, retries=1, timeout=WAITED_OUT
    )
    assert up.done and down.done
    same(got, model().update(v, 7.0))


def test_persistently_damaged_second_load_gives_up_after_the_retries(twin):
    def damage_every_second_load(direction, data):
        if direction == "up" and data[:2] == bytes([p.SYNC_REQUEST, Command.LOAD]) and data[9:11] != b"\0\0":
            return flip(data)
        return data

    with pytest.raises(
        BoardError,
        match=r"^LOAD: the board received a damaged request \(BAD_CRC\), "
        r"3 attempts from index 0$",
    ):
        run_with(twin, damage_every_second_load, n=LONG, retries=2, timeout=ANSWERED)


# ---- a shared port -------------------------------------------------------------------------------------


def test_a_second_host_on_the_port_is_refused(twin, capsys):
    first = BoardBackend(twin.port, timeout=10)
    try:
        with pytest.raises(BoardError, match=f"^serial port {twin.port} is in use by another process$"):
            BoardBackend(twin.port, timeout=10)
        status = main(["run", "--dim", "3", "--points", "8", "--iters", "1", "--backend", "board", "--port", twin.port])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and "in use by another process" in err[0], err
        v = vectors(12)
        same(first.update(v, 7.0), model().update(v, 7.0))  # the first host is undisturbed
    finally:
        first.close()
    BoardBackend(twin.port, timeout=10).close()  # free again


#: A token for requests sent by hand (the host draws a fresh one per CONFIGURE).
TOKEN = bytes([0x5E, 0x55, 0x10, 0x4E])


def foreign(cmd, payload):
    """A request of another host (which does not lock the port) that reaches the board in between ours."""
    return request_frame(cmd, 1, payload)


def inject_before(cmd, frames):
    """Fault: ``frames`` reach the board just before this host's first request ``cmd``."""

    def fault(direction, data):
        if direction == "up" and not state["done"] and data[:2] == bytes([p.SYNC_REQUEST, cmd]):
            state["done"] = True
            return b"".join(frames) + data
        return data

    state = {"done": False}
    fault.state = state
    return fault


def load_frames(n, d=3, seed=9, token=b"\xf0\x0e\x19\x40"):
    """Another host's CONFIGURE (with its own ``token``) and whole LOAD of N vectors."""
    dp = BOARD.core.datapath
    lay = p.Layout.of(dp)
    raw, hb, c = dp.inputs(vectors(n, d, seed), 3.0)
    configure = (
        n.to_bytes(2, "little")
        + bytes([d])
        + int(hb).to_bytes(lay.half_beta, "little")
        + int(c).to_bytes(lay.step, "little")
        + token
    )
    words = b"".join((int(x) & 0xFFFFFF).to_bytes(lay.coord, "little") for x in raw.ravel())
    return foreign(Command.CONFIGURE, configure), foreign(Command.LOAD, token + bytes(2) + words)


def test_foreign_load_over_the_result_is_detected(twin):
    """Another host's LOAD between this host's RUN and READ overwrites the result: the state bits show it
    (the loaded prefix is whole again), and the iteration is repeated."""
    fault = inject_before(Command.READ, [load_frames(12)[1]])
    got, v = run_with(twin, fault)
    assert fault.state["done"]
    same(got, model().update(v, 7.0))


def test_foreign_configuration_of_the_same_size_before_run_is_detected_by_the_token(twin):
    """Another host's whole CONFIGURE and LOAD of the same N and D just before this host's RUN: state bits
    and cycle count are this host's; RUN's answer quotes the other token, and the iteration is repeated."""
    fault = inject_before(Command.RUN, load_frames(12))
    got, v = run_with(twin, fault)
    assert fault.state["done"]
    same(got, model().update(v, 7.0))


def test_foreign_load_in_this_hosts_token_is_not_written(twin):
    """Another writer's LOAD between this host's LOADs cannot quote this host's token: the board refuses
    it (BAD_TOKEN) and writes nothing, and forgets its loaded prefix, so this host's RUN meets NOT_LOADED
    and repeats the iteration."""
    fault = inject_before(Command.RUN, [load_frames(12)[1]])
    got, v = run_with(twin, fault)
    assert fault.state["done"]
    same(got, model().update(v, 7.0))


def test_a_writer_that_does_not_lock_the_port_delays_but_never_changes_a_result(twin):
    """Another program writes whole CONFIGUREs and LOADs of the same N and D (other vectors, its own
    token) to the port every 0.05–0.3 s, without the lock and without reading: every update this host
    completes is the model's, byte for byte; the foreign requests cost repeats only."""
    rng = np.random.default_rng(3)
    stop = threading.Event()
    sent = []

    def write():
        fd = os.open(twin.port, os.O_WRONLY | os.O_NOCTTY)
        try:
            while not stop.wait(rng.uniform(0.05, 0.3)):
                os.write(fd, b"".join(load_frames(12, seed=len(sent))))
                sent.append(1)
        finally:
            os.close(fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    board = BoardBackend(twin.port, timeout=1.0, retries=50)
    try:
        for seed in range(6):
            v = vectors(12, seed=seed)
            same(board.update(v, 7.0), model().update(v, 7.0))
    finally:
        stop.set()
        writer.join()
        board.close()
    assert len(sent) >= 3


def test_foreign_configuration_before_run_is_detected_by_the_cycle_count(twin):
    """Another host's whole CONFIGURE and LOAD (N = 16) just before this host's RUN (N = 12): the board runs
    the other configuration, with the state bits this host expects; only the cycle count shows it."""
    fault = inject_before(Command.RUN, load_frames(16))
    got, v = run_with(twin, fault)
    assert fault.state["done"]
    same(got, model().update(v, 7.0))


# ---- the port or the twin fails ------------------------------------------------------------------------


def test_twin_killed_mid_run_is_a_one_line_error():
    with Twin(BOARD.twin(), 8) as own:
        board = BoardBackend(own.port, timeout=10)
        real = board.board.link.port

        class KillOnRun:
            port = own.port

            def write(self, frame):
                real.write(frame)
                if frame[1] == Command.RUN:
                    own.process.kill()
                    own.process.wait()

            def __getattr__(self, name):
                return getattr(real, name)

        board.board.link.port = KillOnRun()
        with pytest.raises(BoardError, match=f"^the serial port {own.port} closed or failed: ") as info:
            board.update(vectors(12), 7.0)
        assert "\n" not in str(info.value)
        board.close()


def test_twin_killed_under_the_cli_is_a_one_line_error(capsys):
    with Twin(BOARD.twin(), 8) as own:
        threading.Timer(2.0, own.process.kill).start()
        status = main(
            [
                "run",
                "--dim",
                "3",
                "--points",
                "8",
                "--iters",
                "30000",
                "--backend",
                "board",
                "--port",
                own.port,
                "--timeout",
                "5",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and f"the serial port {own.port} closed or failed" in err[0], err


def test_impossible_baud_rate_is_a_one_line_error(twin, capsys):
    status = main(
        [
            "run",
            "--dim",
            "3",
            "--points",
            "8",
            "--iters",
            "1",
            "--backend",
            "board",
            "--port",
            twin.port,
            "--baud",
            "99999999999",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "--baud must be in 300 … 2147483647" in err[0], err  # the parser's


# ---- `spherecode emulate` and its twin live and die together -------------------------------------------


def emulate():
    emu = subprocess.Popen(
        [sys.executable, "-m", "spherecode", "emulate", "--board", DEFAULT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    port = emu.stdout.readline().strip()
    assert port.startswith("/dev/"), port
    children = [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _ppid(int(entry)) == emu.pid]
    assert len(children) == 1, children
    return emu, children[0]


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_twin_dies_with_a_killed_emulate():
    emu, twin_pid = emulate()
    emu.kill()
    emu.wait()
    assert gone_or_killed(twin_pid, 2), "the twin outlived its emulate"


def test_emulate_reports_a_twin_that_died():
    emu, twin_pid = emulate()
    os.kill(twin_pid, signal.SIGKILL)
    try:
        assert emu.wait(timeout=30) == 1
    finally:
        emu.kill()
    err = [line for line in emu.stderr.read().splitlines() if not line.startswith("spherecode emulate:")]
    assert err == ["spherecode: error: the board twin was killed by SIGKILL"], err


def test_chip_loosening_on_a_board_without_loosen_is_refused(twin, capsys):
    """``--loosening chip`` on the shipped design (no LOOSEN in its IDENTIFY): one line, exit status 2."""
    code = main(["run", "-d", "3", "-n", "8", "-k", "5", "-b", "board", "--port", twin.port, "--loosening", "chip"])
    err = capsys.readouterr().err
    assert code == 2 and "runs no whole loosening runs" in err and len(err.strip().splitlines()) == 1
