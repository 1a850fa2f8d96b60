"""The link's errors: one family (every one a :class:`BoardError`), one line each, and what counts as the port
failing."""

import pickle
import termios

import pytest
import serial

from spherecode.hw.board_link.protocol import Status
from spherecode.host.link.errors import PORT_ERRORS, BoardError, Busy, Lost, PortError, Refused, Reset, one_line


@pytest.mark.parametrize("error", [Reset, Lost, Refused, Busy, PortError])
def test_every_link_error_is_a_board_error(error):
    assert issubclass(error, BoardError) and issubclass(BoardError, Exception)


def test_refused_keeps_its_status_and_unpickles():
    """A start on a worker process hands its exception back pickled: the message survives the trip."""
    refused = Refused("CONFIGURE: the board answered BAD_CONFIG", Status.BAD_CONFIG)
    assert refused.status is Status.BAD_CONFIG and Refused("no status").status is None
    back = pickle.loads(pickle.dumps(refused))
    assert type(back) is Refused and str(back) == str(refused)


def test_one_line_joins_the_lines_and_names_an_empty_error():
    assert (
        one_line(OSError("read failed:\n  [Errno 5]\tInput/output error "))
        == "read failed: [Errno 5] Input/output error"
    )
    assert one_line(OverflowError()) == "OverflowError"
    assert one_line(ValueError("   ")) == "ValueError"


@pytest.mark.parametrize(
    "exc",
    [
        serial.SerialException("device reports readiness to read but returned no data"),
        serial.SerialTimeoutException("Write timeout"),
        termios.error(5, "Input/output error"),
        OverflowError("Python int too large to convert to C int"),
        FileNotFoundError(2, "No such file or directory"),
    ],
)
def test_what_pyserial_and_termios_raise_is_a_port_error(exc):
    assert isinstance(exc, PORT_ERRORS)
    assert not isinstance(KeyError("x"), PORT_ERRORS) and not isinstance(RuntimeError("x"), PORT_ERRORS)
