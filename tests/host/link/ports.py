"""What the link's tests share: a token for requests sent by hand, the board's protocol model behind a
pyserial-like port (whole loosening runs, LOOSEN), and the vectors and results of a run."""

import numpy as np

from spherecode.hw.board_link import protocol as p
from spherecode.hw.board_link.protocol import Command, State
from spherecode.host.link import response_frame


#: A token for requests sent by hand (the host draws a fresh one per CONFIGURE).
TOKEN = bytes([0x5E, 0x55, 0x10, 0x4E])


class ModelPort:
    """A board (:class:`~spherecode.hw.board_link.protocol_model.ProtocolModel`) behind a pyserial-like port. A
    LOOSEN run advances one iteration
    per STATUS and ends with its K-th. ``faults``: request index → "lost" (executed, no answer) or
    "reset" (the board is reset before the request). ``late_end``: the STATUS answer on which a run ends
    carries the state from before its end (RUNNING) in its header and running = 0 in its payload — the
    board sends the header before the payload, and a run can end in between."""

    def __init__(self, loosening=True, faults=None, late_end=False):
        from ...hw.board_model import protocol_model

        self.make = lambda: protocol_model(loosening)
        self.board, self.faults, self.sent, self.answers, self.pending = self.make(), dict(faults or {}), [], [], b""
        self.late_end = late_end

    def write(self, frame):
        cmd = frame[1]
        fault = self.faults.pop(len(self.sent), None)
        self.sent.append(cmd)
        if fault == "reset":
            self.board = self.make()
        board, before = self.board, self.board.state()
        if cmd == Command.STATUS:
            board.advance()
        answer = board.answer(frame)
        self.answers.append(answer[3])
        if self.late_end and before & State.RUNNING and not board.running:  # the header went out before the end
            answer = response_frame(answer[1], answer[2], answer[3], before, answer[p.RESPONSE_HEADER : -2])
        if fault != "lost":
            self.pending += answer

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def reset_input_buffer(self):
        self.pending = b""


def _vectors(seed=0, n=8, d=3):
    from ...hw.board_model import WIDTH

    rng = np.random.default_rng(seed)
    return rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), (n, d))


def _expected(raw, k, n0=1, l0=2 << p.L_FRACTION):
    from ...hw.board_model import FakeBehaviour

    out = FakeBehaviour().loosen(raw, k, n0, l0)
    return out.vectors, out.cycles, out.move_norm, out.delta_min, out.n, out.l
