"""The host's side of the framed command protocol (docs/protocol.md): frames, a request/response client
with timeouts and retries, and the board's identity.

It mirrors :class:`~spherecode.hw.board_link.host_link.HostLink` and speaks to anything with pyserial's
``read``/``write``/``reset_input_buffer``: a board's serial port or the board twin's pseudo-terminal.
Every failure, the port's own included, is a :class:`BoardError` with a one-line message.

Modules: :mod:`.errors`, :mod:`.frames`, :mod:`.transport` and :mod:`.driver`; their public names are
here too.
"""

from ...hw.board_link.protocol import request_frame, response_frame
from ...hw.board_link.protocol_model import Loosened
from .driver import CHUNK, Board, new_token
from .errors import BoardError, Busy, Lost, PortError, Refused, Reset
from .frames import Identity, Response
from .transport import Link, open_port

__all__ = [
    "BoardError",
    "Reset",
    "Lost",
    "Refused",
    "Busy",
    "PortError",
    "Identity",
    "Response",
    "Link",
    "Board",
    "Loosened",
    "request_frame",
    "response_frame",
    "open_port",
    "CHUNK",
    "new_token",
]
