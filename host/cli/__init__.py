"""The ``spherecode`` command line.

Every failure the user can cause or meet (bad numbers, bad files, unknown backends, a board or simulator
that fails, too little memory) ends in one line on stderr and exit status 2; results go to stdout, as a
short table or, with ``--json``, one JSON object; progress bars go to stderr and only appear on a
terminal, after two seconds. Ctrl-C ends a command with one line and status 130 (SIGTERM: 143, SIGHUP:
129), its worker processes and simulators stopped and no partial output file left.

One module per command (``cmd_<command>.py``): its ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``execute(args)``, which returns (result, text, exit status), or an exit status where the command prints its
own output; :mod:`.common` holds what they share.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from spherecode import __version__

from ..codefile import CodeFileError
from ..link import BoardError
from . import (
    cmd_bench,
    cmd_build,
    cmd_codebook,
    cmd_compare,
    cmd_emulate,
    cmd_flash,
    cmd_polish,
    cmd_run,
    cmd_search,
    cmd_table,
    cmd_verify,
)
from .common import Parser, Terminated, UsageError, print_result

__all__ = ["main"]

#: The commands, in the order ``spherecode --help`` lists them.
COMMANDS = (
    cmd_run,
    cmd_verify,
    cmd_polish,
    cmd_table,
    cmd_search,
    cmd_bench,
    cmd_build,
    cmd_flash,
    cmd_emulate,
    cmd_compare,
    cmd_codebook,
)


def _terminate(signum, frame):
    _ignore_further()
    raise Terminated(signum)


def _interrupt(signum, frame):
    _ignore_further()
    raise KeyboardInterrupt


def _ignore_further() -> None:
    """After the first interrupt, the next ones would only break the clean-up (workers, simulators and
    temporary files being stopped and removed, a bounded wait): ignore them until the command returns."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="spherecode", description="Spherical codes by the variable-repulsion-force method.")
    p.add_argument("--version", action="version", version=f"spherecode {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        parser = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(parser)
        parser.set_defaults(execute=command.execute)
    return p


def main(argv: list[str] | None = None) -> int:
    handlers = {signal.SIGINT: _interrupt, signal.SIGTERM: _terminate, signal.SIGHUP: _terminate}
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, h) for signum, h in handlers.items()} if main_thread else {}
    status = _main(argv)
    if status < 128:  # after an interrupt the signals stay ignored: the process is only exiting now
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def _main(argv: list[str] | None) -> int:
    args = None
    try:
        args = _parser().parse_args(argv)
        outcome = args.execute(args)
        if isinstance(outcome, int):  # the command printed its own output
            return outcome
        result, text, status = outcome
        print_result(args, result, text)
        return status
    except Terminated as exc:
        print(f"spherecode: terminated ({signal.Signals(exc.signum).name}){getattr(exc, 'note', '')}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:
        print(f"spherecode: interrupted{getattr(exc, 'note', '')}", file=sys.stderr)
        return 130
    except (UsageError, BoardError, CodeFileError) as exc:
        return _error(exc)
    except MemoryError:
        return _error("out of memory: try fewer --points, a smaller --dim or fewer --jobs")
    except OSError as exc:
        return _error(exc)
    except RuntimeError as exc:
        from spherecode.sim.verilator import SimError

        if isinstance(exc, SimError):
            return _error(exc)
        raise


def _error(message) -> int:
    line = " ".join(str(message).split()) or type(message).__name__
    print(f"spherecode: error: {line}", file=sys.stderr)
    return 2
