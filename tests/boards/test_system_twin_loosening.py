"""The loosening board's design (``ulx3s-85f-loosening``: the ULX3S-85F with on-chip loosening) end to
end: a 3000-iteration run through ``--backend board`` with one LOAD and one READ, byte-identical to
``--backend model --loosening chip``."""

import dataclasses
import json

import pytest

from spherecode.boards import get_board
from spherecode.host.cli import main
from spherecode.host.reports.hwtime import chip_run_bytes
from spherecode.host.link import CHUNK
from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, Status
from spherecode.sim.twin import Twin

from .test_system_twin import Proxy

BOARD = get_board("ulx3s-85f-loosening")


@pytest.fixture(scope="module")
def twin():
    assert BOARD.core.loosening and BOARD.fits
    with Twin(BOARD.twin(8), 8) as t:
        yield t


def frames(stream: bytes, sync: int, header: int) -> list[bytes]:
    """The frames in the bytes one side sent (docs/protocol.md): ``header`` bytes from the sync byte to the
    end of the little-endian payload length, the payload, the CRC (2)."""
    out, k = [], 0
    while k < len(stream):
        assert stream[k] == sync, f"byte {k} is not a sync byte"
        end = k + header + int.from_bytes(stream[k + header - 2 : k + header], "little") + 2
        out.append(stream[k:end])
        k = end
    return out


def test_a_whole_run_is_one_load_one_loosen_one_read_and_the_models_code(twin, tmp_path, capsys):
    sent = {"up": bytearray(), "down": bytearray()}

    def record(direction, data):
        sent[direction].extend(data)
        return data

    proxy = Proxy(twin.port, record)
    files, results = {}, {}
    try:
        for backend, extra in (
            ("board", ["--port", proxy.port, "--timeout", "30"]),
            ("model", ["--format", str(BOARD.fmt), "--lanes", str(BOARD.lanes)]),
        ):
            files[backend] = tmp_path / f"{backend}.txt"
            argv = [
                "run",
                "--dim",
                "3",
                "--points",
                "64",
                "--iters",
                "3000",
                "--seed",
                "2",
                "--starts",
                "1",
                "--backend",
                backend,
                "--loosening",
                "chip",
                "--out",
                str(files[backend]),
                "--json",
                *extra,
            ]
            assert main(argv) == 0
            results[backend] = json.loads(capsys.readouterr().out)
    finally:
        proxy.close()
    assert files["board"].read_bytes() == files["model"].read_bytes()
    assert results["board"]["loosening"] == "chip" and results["board"]["final_beta"] == results["model"]["final_beta"]
    config = dataclasses.replace(BOARD.core, loosening=True)
    assert (
        results["board"]["cycles_per_loosening_iteration"]
        == results["model"]["cycles_per_loosening_iteration"]
        == config.iteration_cycles(64)
    )
    cmds = [f[1] for f in frames(bytes(sent["up"]), p.SYNC_REQUEST, 5)]
    # Executed: the requests answered OK. A request the twin timed out under load (a host stalled mid-frame
    # for 256 simulated byte times) is answered TIMEOUT and sent again, by design (docs/protocol.md).
    ok = [f[1] for f in frames(bytes(sent["down"]), p.SYNC_RESPONSE, 7) if f[3] == Status.OK]
    n_chunks = -(-64 * 3 // CHUNK)
    assert ok.count(Command.LOAD) == n_chunks and ok.count(Command.READ) == n_chunks
    assert ok.count(Command.LOOSEN) == 1 and ok.count(Command.RESULT) == 1 and Command.RUN not in cmds
    assert set(cmds) - {Command.LOAD, Command.READ, Command.LOOSEN, Command.RESULT} <= {
        Command.IDENTIFY,
        Command.CONFIGURE,
        Command.STATUS,
    }
    # The link model of a whole run (host/reports/hwtime.py, `spherecode compare`): the bytes of the run's executed
    # requests and their answers, STATUS polls aside, as counted on the pty.
    answered = {(f[1], f[2]): len(f) for f in frames(bytes(sent["down"]), p.SYNC_RESPONSE, 7) if f[3] == Status.OK}
    asked = {(f[1], f[2]): len(f) for f in frames(bytes(sent["up"]), p.SYNC_REQUEST, 5)}  # the last of each
    run = [
        key
        for key in answered
        if key[0] in (Command.CONFIGURE, Command.LOAD, Command.LOOSEN, Command.RESULT, Command.READ)
    ]
    assert sum(answered[key] + asked[key] for key in run) == chip_run_bytes(BOARD, 64, 3)["total"]


def test_chip_is_the_default_on_a_board_that_offers_it(twin, capsys):
    assert (
        main(["run", "-d", "3", "-n", "8", "-k", "5", "--starts", "1", "-b", "board", "--port", twin.port, "--json"])
        == 0
    )
    r = json.loads(capsys.readouterr().out)
    assert r["loosening"] == "chip"
    # The modelled time printed beside the run is the identified board's, not the default board's.
    assert r["hardware_model"]["board"] == BOARD.name and r["hardware_model"]["clock_hz"] == BOARD.clock_hz


def test_the_board_must_stay_the_one_identified(twin):
    from spherecode.host.backends.board import BoardBackend
    from spherecode.host.link import BoardError

    backend = BoardBackend(twin.port)
    identity = backend.board.identity
    backend.close()
    assert (identity.config, identity.clock_hz, identity.baud) == (BOARD.core, BOARD.clock_hz, BOARD.baud)
    other = dataclasses.replace(identity, clock_hz=identity.clock_hz + 1)
    with pytest.raises(BoardError, match="is not the one identified before the run"):
        BoardBackend(twin.port, identity=other)
