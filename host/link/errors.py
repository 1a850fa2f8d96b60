"""The link's errors: every failure, the serial port's own included, is a :class:`BoardError` with a one-line
message."""

from __future__ import annotations

from ...hw.board_link.protocol import Status

try:
    from termios import error as _TermiosError  # pyserial's reset_input_buffer() raises it on a dead tty
except ImportError:  # pragma: no cover (not POSIX)
    _TermiosError = OSError


class BoardError(Exception):
    """Anything that went wrong on the link, as one line for the user."""


class Reset(BoardError):
    """The board lost its configuration, loaded vectors or result: it was reset (or reprogrammed)."""


class Lost(BoardError):
    """The response to a request that must not be repeated (RUN) was lost or garbled."""


class Refused(BoardError):
    """The board refused a request with :attr:`status` (not a damaged request, not a lost state)."""

    def __init__(self, message: str, status: Status | None = None):  # a default: exceptions must unpickle
        super().__init__(message)
        self.status = status


class Busy(BoardError):
    """The board is in a LOOSEN run (``BUSY``): the request was not executed."""


class PortError(BoardError):
    """The serial port itself failed: it could not be opened, is in use, or closed under the host."""


#: What pyserial (and termios under it) raise for a port that cannot be opened or read, or died: its
#: ``SerialException`` is an ``OSError``; a baud rate beyond a C int is an ``OverflowError``.
PORT_ERRORS = (OSError, ValueError, OverflowError, _TermiosError)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
