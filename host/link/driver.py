"""A board as the host drives it (:class:`Board`): the token of a configuration, the vectors loaded and read
in chunks, an update, a whole loosening run."""

from __future__ import annotations

import numbers
import secrets
import time
from collections.abc import Callable

import numpy as np

from ...hw.board_link import protocol as p
from ...hw.board_link.protocol import Command, State, Status
from ...hw.board_link.protocol_model import Loosened
from .errors import BoardError, Refused, Reset
from .frames import Identity
from .transport import Again, Link, state_bits

#: Coordinates per LOAD or READ frame: a retry resends at most this many.
CHUNK = 512


def new_token() -> bytes:
    """A fresh token for one CONFIGURE (docs/protocol.md, "One host per port"): random, so that another
    process's CONFIGURE or LOAD, which cannot know it, shows in the answers."""
    return secrets.token_bytes(p.TOKEN_BYTES)


class Board:
    """A spherecode board behind a :class:`Link`: identity, configuration, one iteration (:meth:`iterate`) or a
    whole loosening run (:meth:`loosen`, a board with the LOOSEN capability)."""

    def __init__(self, link: Link):
        self.link = link
        self.identity = Identity.parse(
            link.request(Command.IDENTIFY, expect=(p.Layout.identity, p.Layout.identity_v1)).payload
        )
        self.config = self.identity.config
        self.dp = self.config.datapath
        self.layout = p.Layout.of(self.dp)

    def iterate(self, raw: np.ndarray, half_beta: int, step: int) -> tuple[np.ndarray, int, int, int]:
        """One iteration on raw coordinates (N, D) → (new raw coordinates, cycles, raw S, raw δ_min).

        Raises :class:`Reset` (repeat the iteration) where the board's answers show that its state is not
        what this host's requests left: a lost state, state bits or a RUN cycle count that another
        configuration produced (another process on the port)."""
        lay, link = self.layout, self.link
        n, d = raw.shape
        held = (7, State.CONFIGURED | State.RESULT)
        token = new_token()
        link.request(
            Command.CONFIGURE, p.pack(lay.configure_fields, n, d, half_beta, step) + token, state=(7, State.CONFIGURED)
        )
        flat = raw.ravel()
        self._load(flat, token)
        expected = self.config.cycles(n, d)
        stats = link.request(
            Command.RUN, expect=lay.stats, state=held, token=token, extra=expected / max(self.identity.clock_hz, 1)
        ).payload
        cycles, s, dmin = p.unpack(lay.stats_fields, stats)
        if cycles != expected:
            raise Reset(
                f"RUN: the board counted {cycles} cycles, N = {n}, D = {d} takes "
                f"{expected}: is another process using the port?"
            )
        return self._read(n, d, held, token), cycles, s, dmin

    def loosen(
        self,
        raw: np.ndarray,
        iterations: int,
        n: int = 1,
        l: int = 2 << p.L_FRACTION,
        progress: Callable[[int, int], None] | None = None,
        poll: float = 0.02,
    ) -> Loosened:
        """A whole loosening run on chip (LOOSEN): CONFIGURE, LOAD, LOOSEN, STATUS every ``poll`` s until
        the run ends (``progress(done, iterations)`` after each), RESULT, READ. ``raw`` (N, D): raw
        coordinates; ``iterations`` K ≥ 1; ``n`` and ``l`` (raw UQ18.48) the starting state (the run's
        usual start: n = 1, l = 2).

        Raises :class:`Reset` (repeat the run) where the board's answers show that it lost its state or
        that another host's requests came in between (state bits, or a final n other than n + K),
        :class:`Lost` when LOOSEN's answer is lost (it may have started), :class:`BoardError` when the
        board has no LOOSEN (:attr:`Identity.loosens`) or its run stands still for ``timeout`` s."""
        if not self.identity.loosens:
            raise BoardError(
                "the board runs no whole loosening runs (its IDENTIFY lists no LOOSEN): use --loosening host"
            )
        for name, value, top in (
            ("iterations", iterations, (1 << 32) - 1),
            ("n", n, (1 << 16) - 1),
            ("l", l, (1 << p.L_BITS) - 1),
        ):
            low = 0 if name == "l" else 1
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= top:
                raise ValueError(f"{name} must be an int in {low}..{top}, not {value!r}")
        lay, link = self.layout, self.link
        points, d = raw.shape
        token = new_token()
        link.request(
            Command.CONFIGURE, p.pack(lay.configure_fields, points, d, 0, 0) + token, state=(15, State.CONFIGURED)
        )
        self._load(raw.ravel(), token)
        link.request(
            Command.LOOSEN,
            p.pack(p.Layout.loosen_fields, iterations, n, l),
            expect=p.TOKEN_BYTES,
            state=(15, State.CONFIGURED | State.RUNNING),
            token=token,
        )
        seen, since = None, time.monotonic()
        while True:
            resp = link.request(Command.STATUS, expect=lay.status)
            done, running = p.unpack(p.Layout.status_fields, resp.payload)
            running = bool(running & 1)
            if not running and resp.state & 15 == State.CONFIGURED | State.RUNNING:
                continue  # the run ended between the header's state and the payload's flag: ask again
            want = State.CONFIGURED | (State.RUNNING if running else State.RESULT)
            if resp.state & 15 != want:
                raise Reset(
                    f"STATUS: the board's state is {state_bits(resp.state)}, not {state_bits(want)}: was it reset?"
                )
            if progress is not None:
                progress(min(done, iterations), iterations)
            if not running:
                break
            if done != seen:
                seen, since = done, time.monotonic()
            elif time.monotonic() - since > link.timeout:
                raise BoardError(
                    f"LOOSEN: the run has made no progress for {link.timeout:g} s "
                    f"({done} of {iterations} iterations done)"
                )
            time.sleep(poll)
        held = (15, State.CONFIGURED | State.RESULT)
        out = link.request(Command.RESULT, expect=lay.result, state=held, token=token).payload
        cycles, s, dmin, final_n, final_l = p.unpack(lay.result_fields, out)
        if final_n != (n + iterations) & 0xFFFF:
            raise Reset(
                f"RESULT: the run ended at n = {final_n}, not {n} + {iterations}: is another process using the port?"
            )
        return Loosened(self._read(points, d, held, token), cycles, s, dmin, final_n, final_l % (1 << p.L_BITS))

    def _read(self, n: int, d: int, held: tuple[int, int], token: bytes) -> np.ndarray:
        """READ all N·D coordinates of the held result of ``token``, CHUNK per request → raw (N, D)."""
        link, lay = self.link, self.layout
        out = []
        for k in range(0, n * d, CHUNK):
            count = min(CHUNK, n * d - k)
            data = link.request(
                Command.READ,
                p.pack(p.Layout.read_fields, k, count),
                expect=lay.read(count),
                state=held,
                token=token,
            ).payload
            out.append(np.frombuffer(data, dtype=np.uint8).reshape(count, lay.coord))
        return _words(np.concatenate(out), self.dp.fmt).reshape(n, d)

    def _load(self, flat: np.ndarray, token: bytes) -> None:
        """LOAD all coordinates, CHUNK per request, each quoting ``token``. A failed LOAD makes the board forget its
        loaded prefix
        (docs/protocol.md), so after any failure — a damaged request (BAD_CRC, TIMEOUT), a lost or garbled
        answer, or BAD_RANGE for a LOAD past the first (the prefix is gone) — the load starts again from
        index 0, at most ``retries`` times."""
        link, lay = self.link, self.layout
        mask = (1 << (8 * lay.coord)) - 1
        chunks = [
            token
            + k.to_bytes(2, "little")
            + b"".join((int(x) & mask).to_bytes(lay.coord, "little") for x in flat[k : k + CHUNK])
            for k in range(0, flat.size, CHUNK)
        ]
        i, failures = 0, 0
        while i < len(chunks):
            last = i == len(chunks) - 1
            try:  # before the last chunk the prefix may already be whole, from an earlier pass
                link.exchange(
                    Command.LOAD,
                    chunks[i],
                    state=(7, State.CONFIGURED | State.LOADED)
                    if last
                    else (State.CONFIGURED | State.RESULT, State.CONFIGURED),
                )
                i += 1
            except (Again, Refused) as exc:
                if isinstance(exc, Refused) and (exc.status != Status.BAD_RANGE or i == 0):
                    raise
                failures += 1
                reason = str(exc).removeprefix("LOAD: ")
                if failures > link.retries:
                    raise BoardError(f"LOAD: {reason}, {failures} attempts from index 0") from None
                link.retried += 1
                i = 0


def _words(octets: np.ndarray, fmt) -> np.ndarray:
    """Little-endian byte rows → raw values of the format ``fmt`` (:class:`~spherecode.hw.fixed.Q`; int64)."""
    value = np.zeros(len(octets), dtype=np.int64)
    for b in range(octets.shape[1] - 1, -1, -1):
        value = (value << 8) | octets[:, b].astype(np.int64)
    return fmt.from_bits(value)
