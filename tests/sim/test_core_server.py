"""The simulated core's process (sim/core_server.py): request and answer lines over two pipes, every failure a
one-line ``SimError`` naming the log and never a hang, and the process and its folder gone after ``close``
— here with shell scripts standing in for the simulator; the testbench's port access in C++. (The server under
the ``sim`` backend, with the real simulator: tests/host/backends/test_sim.py.)"""

import os
import subprocess
import tempfile
import textwrap
import time

import pytest

from spherecode.sim import core_server
from spherecode.sim.core_server import CoreServer
from spherecode.sim.toolchain import setup
from spherecode.sim.verilator import Build, SimError

#: A stand-in simulator that answers each request line with "got LINE" and exits on "quit".
ECHO = """exec 3<"$SPHERECODE_TB_REQ"
while read -r line <&3; do
  [ "$line" = quit ] && exit 0
  echo "got $line" > "$SPHERECODE_TB_RESP"
done
"""


def simulator(folder, script: str) -> Build:
    (folder / "top").write_text("#!/bin/sh\n" + script)
    (folder / "top").chmod(0o755)
    return Build(folder)


def test_requests_are_answered_line_by_line_and_close_ends_it_all(tmp_path):
    server = CoreServer(simulator(tmp_path, ECHO))
    process, work = server.process, server.work
    try:
        assert work.name.startswith("spherecode-simb-") and os.getsid(process.pid) == process.pid
        assert server.request(b"run 1 2\n", 5) == "got run 1 2"
        assert server.request(b"a\n", 5) == "got a" and server.request(b"b\n", 5) == "got b"
    finally:
        server.close()
    assert process.returncode == 0 and not work.exists()  # it read "quit"
    server.close()  # idempotent


def test_a_simulator_that_does_not_quit_is_ended(tmp_path):
    server = CoreServer(simulator(tmp_path, 'exec 3<"$SPHERECODE_TB_REQ"\nexec sleep 60\n'))
    process, work = server.process, server.work
    t = time.monotonic()
    server.close()
    assert time.monotonic() - t < 5 and process.returncode is not None and not work.exists()


#: The start of a stand-in simulator that reads one request line.
READ_ONE = 'exec 3<"$SPHERECODE_TB_REQ"\nread -r line <&3\n'


@pytest.mark.parametrize(
    "script, message",
    [
        (
            'printf "\\377\\n" > "$SPHERECODE_TB_RESP"\nexec sleep 60\n',
            r"^the simulator answered b'\\xff', not text \(log: ",
        ),
        ("echo late >&2\nexec sleep 60\n", r"^the simulator did not answer within 1 s \(log: "),
        ("exit 4\n", r"^the simulator stopped \(exit status 4\) \(log: "),
    ],
    ids=["binary", "late", "stopped"],
)
def test_a_bad_answer_is_one_line_and_ends_the_simulator(tmp_path, monkeypatch, script, message):
    """The simulator's log is kept out of its folder (removed) for the error that names it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    server = CoreServer(simulator(tmp_path, READ_ONE + script))
    process, work = server.process, server.work
    t = time.monotonic()
    try:
        with pytest.raises(SimError, match=message) as exc:
            server.request(b"run\n", 1)
        assert time.monotonic() - t < 5 and "\n" not in str(exc.value) and process.returncode is not None
    finally:
        server.close()
    assert not work.exists() and exc.value.log.parent == tmp_path
    assert exc.value.log.read_text() == ("late\n" if "late" in script else "")


def test_a_simulator_that_does_not_start_is_a_sim_error_and_leaves_nothing(tmp_path, monkeypatch):
    """It never opens its end of the request pipe: an error after START_TIMEOUT, its folder removed."""
    monkeypatch.setattr(core_server, "START_TIMEOUT", 1.0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(SimError, match=r"^the simulator did not start within 1 s \(log: ") as exc:
        CoreServer(simulator(tmp_path, "echo starting\nexec sleep 60\n"))
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == [exc.value.log.name]
    assert exc.value.log.read_text() == "starting\n"


def test_testbench_ports_of_every_width(tmp_path):
    """The testbench's hexadecimal port access round-trips values into Verilator's port types, the wide
    ones (VlWide, > 64 bits: coordinates of a wide format, S of a large Nmax) included."""
    root = setup()
    (tmp_path / "t.cpp").write_text(
        textwrap.dedent(f"""
        #define CORE_MAIN_PORTS_ONLY
        #include "{core_server.MAIN}"
        int main() {{
            const char* cases[] = {{"0", "1", "ffffffff", "100000000", "2aaaabbbbccccdddd1",
                                    "3ffffffffffffffffffffff"}};
            for (const char* c : cases) {{
                VlWide<3> w; put(w, c);
                if (hex(w) != c) return 1;
            }}
            VlWide<3> w; put(w, "2aaaabbbbccccdddd1");
            if (w[0] != 0xcccdddd1u || w[1] != 0xaaabbbbcu || w[2] != 0x2au) return 2;
            QData q; put(q, "7fffffffffffffff");
            if (q != 0x7fffffffffffffffULL || hex(q) != "7fffffffffffffff") return 4;
            CData b; put(b, "a5"); if (b != 0xa5 || hex(b) != "a5") return 5;
            return 0;
        }}
    """)
    )
    exe = tmp_path / "t"
    subprocess.run(
        [
            "c++",
            "-std=c++17",
            "-O0",
            f"-I{root / 'include'}",
            f"-I{root / 'include' / 'vltstd'}",
            str(tmp_path / "t.cpp"),
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
    )
    assert subprocess.run([str(exe)]).returncode == 0
