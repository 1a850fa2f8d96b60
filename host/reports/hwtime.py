"""The modelled time of one update on a board: core cycles at the board's clock plus the bytes that the
host link moves at the board's baud rate (docs/protocol.md), for host-run force loosening; and of a whole
run with on-chip loosening (:func:`chip_run_time`), where the coordinates cross the link once each way.

One *update* is the paper's iteration (steps 1–5 for all N vectors, §III.C); a force-loosening iteration is
two updates. With host-run loosening every update is one protocol exchange — CONFIGURE, LOAD in chunks of
:data:`~spherecode.host.link.CHUNK` coordinates, RUN, READ in chunks — so all N·D coordinates cross the
link both ways every update. Nothing here is hard-coded: the cycle count comes from the core's own
formula and the byte count from the frames :mod:`spherecode.host.link` builds, with the field widths of
the board's :class:`~spherecode.hw.board_link.protocol.Layout`.

Times are in seconds; a UART byte is 10 bits on the wire (8N1: start, 8 data, stop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

from ...boards import DEFAULT, BoardConfig, get_board

__all__ = [
    "BITS_PER_BYTE",
    "HardwareTime",
    "core_cycles",
    "exchange_bytes",
    "chip_run_bytes",
    "update_time",
    "chip_run_time",
    "misfit",
    "iteration_comparison",
]

#: 8N1: a start bit, 8 data bits, a stop bit.
BITS_PER_BYTE = 10


def core_cycles(board: BoardConfig, n: int, d: int) -> int:
    """Clock cycles of one update of N vectors in D dimensions on ``board``'s core (start to done, inputs
    back to back): the core's exact cycle formula. The one place this module asks for it."""
    return board.core.cycles(n, d)


@lru_cache(maxsize=None)
def _layout(fmt: str, nmax: int, dmax: int):
    from ...hw.datapath import Datapath
    from ...hw.fixed import Q
    from ...hw.board_link.protocol import Layout

    return Layout.of(Datapath(Q.parse(fmt), nmax, dmax))


def _frames(cmd, request: int, response: int) -> int:
    """Bytes of one request with a ``request``-byte payload and its response with a ``response``-byte one."""
    from ..link import request_frame, response_frame

    return len(request_frame(cmd, 0, bytes(request))) + len(response_frame(cmd, 0, 0, 0, bytes(response)))


def exchange_bytes(board: BoardConfig, n: int, d: int) -> dict[str, int]:
    """Bytes on the wire, both directions, for one update on ``board`` as :class:`~spherecode.host.link.Board`
    runs it: ``{"configure", "load", "run", "read", "total"}``, each the request plus its response frame
    (sync byte, header, payload, CRC). No retries."""
    from ...hw.board_link.protocol import LOAD_PREFIX, Command
    from ..link import CHUNK

    lay = _layout(str(board.fmt), board.nmax, board.dmax)
    coords = n * d
    chunks = [min(CHUNK, coords - k) for k in range(0, coords, CHUNK)]
    out = {
        "configure": _frames(Command.CONFIGURE, lay.configure, 0),
        "load": sum(_frames(Command.LOAD, LOAD_PREFIX + m * lay.coord, 0) for m in chunks),
        "run": _frames(Command.RUN, 0, lay.stats),
        "read": sum(_frames(Command.READ, 4, lay.read(m)) for m in chunks),
    }
    out["total"] = sum(out.values())
    return out


def chip_run_bytes(board: BoardConfig, n: int, d: int) -> dict[str, int]:
    """Bytes on the wire, both directions, for a whole on-chip loosening run as
    :meth:`spherecode.host.link.Board.loosen` runs it: ``{"configure", "load", "loosen", "result", "read",
    "total"}``, each the request plus its response frame, whatever the number of iterations. Not counted:
    the STATUS polls with which the host follows the run (one request and answer every 20 ms by default),
    which overlap the board's computation. No retries."""
    from ...hw.board_link.protocol import TOKEN_BYTES, Command

    lay = _layout(str(board.fmt), board.nmax, board.dmax)
    update = exchange_bytes(board, n, d)
    out = {
        "configure": update["configure"],
        "load": update["load"],
        "loosen": _frames(Command.LOOSEN, lay.loosen, TOKEN_BYTES),
        "result": _frames(Command.RESULT, 0, lay.result),
        "read": update["read"],
    }
    out["total"] = sum(out.values())
    return out


def misfit(board: BoardConfig, n: int, d: int) -> str | None:
    """None if N vectors in D dimensions fit ``board``'s core, else why not (one phrase)."""
    if not board.fits:
        return "the core does not fit this board's device"
    if n > board.nmax:
        return f"N > Nmax = {board.nmax}"
    if d > board.dmax:
        return f"D > Dmax = {board.dmax}"
    return None


@dataclass(frozen=True)
class HardwareTime:
    """One update on one board (modelled): ``cycles`` at ``clock_hz`` give ``compute_s``; ``bytes`` at
    ``baud`` give ``link_s``; ``seconds`` = their sum (the link and the core take turns: LOAD, then RUN,
    then READ)."""

    board: str
    points: int
    dim: int
    cycles: int
    clock_hz: int
    bytes: int
    baud: int
    compute_s: float
    link_s: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def update_time(board: BoardConfig, n: int, d: int) -> HardwareTime:
    """The modelled time of one update of N vectors in D dimensions on ``board`` (host-run loosening).
    ``ValueError`` if they do not fit (:func:`misfit`)."""
    why = misfit(board, n, d)
    if why:
        raise ValueError(f"{board.name}: N = {n}, D = {d} does not fit: {why}")
    cycles = core_cycles(board, n, d)
    nbytes = exchange_bytes(board, n, d)["total"]
    compute, link = cycles / board.clock_hz, nbytes * BITS_PER_BYTE / board.baud
    return HardwareTime(board.name, n, d, cycles, board.clock_hz, nbytes, board.baud, compute, link, compute + link)


def chip_run_time(board: BoardConfig, n: int, d: int, iterations: int) -> HardwareTime:
    """The modelled time of a whole on-chip loosening run of K = ``iterations``: the loosening core's exact
    cycle count (:meth:`CoreConfig.run_cycles <spherecode.hw.config.CoreConfig.run_cycles>`: load, K
    one-sweep iterations, output; of ``board``'s core with ``loosening=True`` — ``ulx3s-85f-loosening`` and
    ``ecpix5-85f-loosening`` are built with it) at the board's clock, plus the bytes of :func:`chip_run_bytes`
    (CONFIGURE, LOAD, LOOSEN, RESULT, READ) at its baud rate. Not counted: the host's wait for its next STATUS
    poll after the run ends (at most one poll interval, 20 ms by default). ``ValueError`` if N, D do not fit."""
    why = misfit(board, n, d)
    if why:
        raise ValueError(f"{board.name}: N = {n}, D = {d} does not fit: {why}")
    cycles = board.core.run_cycles(n, d, iterations)
    nbytes = chip_run_bytes(board, n, d)["total"]
    compute, link = cycles / board.clock_hz, nbytes * BITS_PER_BYTE / board.baud
    return HardwareTime(board.name, n, d, cycles, board.clock_hz, nbytes, board.baud, compute, link, compute + link)


def iteration_comparison(
    points: int, dim: int, runs: dict[str, dict], board: str | BoardConfig | None = None
) -> tuple[dict, list[str]]:
    """For ``spherecode run``: time per update measured for each backend that ran, beside the modelled time
    on ``board`` (a name or a configuration; None: the default board, for a run on no board). ``runs`` maps
    a backend name to its best start's loosening statistics (``updates``, ``update_seconds``). Returns
    (JSON fields, lines of text). A ``sim`` backend's time is the simulator's wall time, labelled as
    simulation."""
    cfg = board if isinstance(board, BoardConfig) else get_board(board or DEFAULT)
    fields: dict = {"seconds_per_update": {}, "hardware_model": None}
    lines = ["  time per update (steps 1–5 for all N vectors; a loosening iteration is two updates)"]
    labels = {
        "reference": "float64 reference, measured here",
        "model": "bit-exact model, measured here (software)",
        "sim": "RTL under Verilator: simulation wall time, not hardware speed",
        "board": "board, measured over its serial port",
    }
    for name, stats in runs.items():
        if stats.get("updates"):
            seconds = stats["update_seconds"] / stats["updates"]
            fields["seconds_per_update"][name] = seconds
            lines.append(f"    {name:<10} {_ms(seconds):>12}   {labels.get(name, name)}")
    chip = {name: stats for name, stats in runs.items() if stats.get("sweep_seconds") and stats.get("iterations")}
    for name, stats in chip.items():  # on-chip loosening: one sweep gives both candidates (two updates' work)
        seconds = stats["sweep_seconds"] / (2 * stats["iterations"])
        fields["seconds_per_update"][name] = seconds
        lines.append(f"    {name:<10} {_ms(seconds):>12}   {labels.get(name, name)}, on-chip loosening: half a sweep")
    why = misfit(cfg, points, dim)
    if why:
        lines.append(f"    {cfg.name:<10} {'—':>12}   modelled: does not fit ({why})")
        fields["hardware_model"] = {"board": cfg.name, "fits": False, "reason": why}
    else:
        t = update_time(cfg, points, dim)
        fields["hardware_model"] = {"fits": True, **t.as_dict()}
        lines.append(
            f"    {cfg.name:<10} {_ms(t.seconds):>12}   modelled: {cfg.fmt} core, {t.cycles} cycles at "
            f"{cfg.clock_hz / 1e6:g} MHz ({_ms(t.compute_s)}) + {t.bytes} bytes at {cfg.baud / 1e6:g} Mbaud "
            f"({_ms(t.link_s)})"
        )
        for stats in list(chip.values())[:1]:
            run = chip_run_time(cfg, points, dim, stats["iterations"])
            fields["chip_run_model"] = run.as_dict()
            lines.append(
                f"    {cfg.name:<10} {_ms(run.seconds):>12}   modelled: the whole run with on-chip loosening "
                f"(RTL formula), {run.cycles} cycles ({_ms(run.compute_s)}) + {run.bytes} bytes: one LOAD, LOOSEN, "
                f"RESULT and READ ({_ms(run.link_s)})"
            )
    return fields, lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms"
