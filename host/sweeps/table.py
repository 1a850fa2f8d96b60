"""Tables of codes over a range of N: every (N, start) pair an independent task on Dask distributed, resumable.

:func:`table_tasks` makes the :class:`~.starts.StartTask` of every (N, start) (backend ``reference`` on one
thread: the starts already fill the cores); :func:`sweep` runs those not yet in the output file on a Dask
cluster — a ``LocalCluster`` of processes with one thread each (as many as cores unless told), or an existing
cluster by its scheduler's address — and appends each finished row to the file as it arrives; :func:`best_rows`
keeps the best start of each N.

Files, by suffix: ``.tsv`` (a header of :data:`COLUMNS`, one row a line, appended whole with flush + fsync)
or ``.json`` (a list of row objects, one a line, rewritten to a temporary file and renamed). Floats are
written as ``repr`` and read back bit-identical; an unknown best-known angle (and gap) is empty / null.
With ``search`` seconds, a task is an iterated search of that budget (:class:`SearchTask`, run by
:class:`~.search.Search` inside the worker's process: rounds one after another, the budget checked between
them) instead of a single start; its row has ``polish`` true, ``iterations`` the method's per round and
``search`` the budget (0 for a start; files written before this column existed read as starts and are
rewritten with it).
A .tsv table is only appended to, then sorted by a rewrite where the folder has room for a second copy;
a .json table is rewritten whole for every batch, and is refused up front (one line, the room it needs)
where the folder lacks room for two copies of it. A row is keyed by (dim, points, method, polish, iterations,
seed, start, search): a re-run with the same parameters runs only the missing keys (start k of seed X is the
same code whatever the number of starts, see :mod:`.starts`), and may extend the range of N or the number of
starts. A file with rows of other (dim, method, polish, iterations, seed, search), another header, a damaged
line or a path that is not a regular file is refused with a one-line ``ValueError`` before anything runs. A
completed sweep leaves the file sorted by (points, start), room permitting.

Tasks are submitted largest N first (the long ones start early, the short ones fill in at the end); a
task's exception comes back as it is, after the same clean-up as an interrupt.

Interrupts: a ``KeyboardInterrupt`` (or any exception) cancels the pending tasks, terminates the local
workers without waiting for their running starts (0.6 s from Ctrl-C to exit, measured; up to ~2.5 s while the
workers are still starting), closes the client and the local cluster and goes on; the rows already written
stay. Local workers ignore SIGINT from their first instruction (the terminal sends it to them too: this
process decides), and end by themselves when this process dies. SIGINT, SIGTERM and SIGHUP wait for the
~0.1 s in which the cluster and its client are made (an interrupt inside left them half-made). On an
existing cluster a running task finishes on its worker and its result is dropped.

Trust: the local cluster speaks TLS with credentials made for it (no other user can connect to it); an
existing cluster named by ``scheduler`` is trusted as it is: its scheduler and workers run the tasks and
hand back the rows.

The local cluster is quiet (Dask's logs at CRITICAL, its warnings ignored during the sweep), opens no
dashboard (only Dask's internal HTTP server, on a free loopback port) and keeps its scratch files in a
temporary folder removed afterwards; nothing is written under HOME.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..codefile import parse_json, regular_file, write_atomically, write_code
from ..metrics import summary
from ..methods import METHODS
from ...sim.process import signals_deferred
from .starts import StartTask, run_start

__all__ = ["COLUMNS", "SUFFIXES", "SearchTask", "table_tasks", "sweep", "best_rows", "read_rows", "code_name"]

COLUMNS = (
    "dim",
    "points",
    "method",
    "polish",
    "iterations",
    "seed",
    "start",
    "min_angle_deg",
    "min_distance",
    "best_known_angle_deg",
    "gap_deg",
    "seconds",
    "search",
)
#: The columns of files written before ``search`` existed: read as rows with ``search`` 0.
OLD_COLUMNS = COLUMNS[:-1]
#: The columns that must be the same for every row of a file (one sweep's parameters).
PARAMETERS = ("dim", "method", "polish", "iterations", "seed", "search")
#: A row's identity for resuming.
KEY = ("dim", "points", "method", "polish", "iterations", "seed", "start", "search")
SUFFIXES = (".tsv", ".json")

_INT = ("dim", "points", "iterations", "seed", "start")
_FLOAT = ("min_angle_deg", "min_distance", "seconds", "search")
_OPTIONAL_FLOAT = ("best_known_angle_deg", "gap_deg")

#: An upper bound of a row's bytes in a .json table (about 240 with floats of 17 digits).
JSON_ROW_BYTES = 320
#: Bytes kept free beyond a .tsv table's sorted copy.
ROOM_MARGIN = 1 << 20
#: Seconds to wait for an existing scheduler before giving up (a refused port is retried until then).
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for the client and the local cluster to close.
CLOSE_TIMEOUT = 10.0
#: Seconds an interrupted local worker has (× 0.8) to stop before it is terminated.
STOP_TIMEOUT = 0.5


def table_tasks(
    dim: int,
    points: Iterable[int],
    starts: int,
    iterations: int,
    seed: int,
    method: str = "vrf",
    polish: bool = False,
    search: float | None = None,
) -> list[StartTask | SearchTask]:
    """The tasks of a table: for each N of ``points``, starts 0 … ``starts`` − 1, in that order.

    ``search``: seconds; each task is then an iterated search of that budget (:mod:`.search`, its code
    always polished, ``iterations`` the method's per round) instead of one start."""
    points = list(points)
    if dim < 2 or not points or min(points) < 2 or starts < 1 or iterations < 0:
        got = f"D = {dim}, N in {min(points)}..{max(points)}" if points else f"D = {dim}, no N"
        raise ValueError(
            f"a table needs D ≥ 2, N ≥ 2, at least one start and iterations ≥ 0 "
            f"(got {got}, {starts} starts, {iterations} iterations)"
        )
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (available: {', '.join(METHODS)})")
    if polish:
        import importlib.util

        if importlib.util.find_spec(f"{__package__}.polish") is None:
            raise ValueError("--polish is not available in this version")
    if search is not None:
        from .search import ITERATIONS, METHODS as SEARCH_METHODS

        search_methods = [m for m in SEARCH_METHODS if m in METHODS]  # the registry's (overlap is search's own)
        if method not in search_methods or not (math.isfinite(search) and search > 0):
            raise ValueError(
                f"a search table needs method {' or '.join(search_methods)} and a positive time "
                f"budget (got {method!r}, {search!r} s)"
            )
        return [
            SearchTask(dim, n, method, float(search), ITERATIONS[method], seed, k)
            for n in points
            for k in range(starts)
        ]
    return [
        StartTask("reference", dim, n, iterations, seed, k, starts, {"threads": 1}, method, bool(polish))
        for n in points
        for k in range(starts)
    ]


@dataclass(frozen=True)
class SearchTask:
    """One iterated search (:class:`~.search.Search`, in the worker's own process) of a table."""

    dim: int
    points: int
    method: str
    seconds: float
    iterations: int  #: the method's iterations per round (:data:`.search.ITERATIONS`)
    seed: int
    index: int  #: which search of this N (its starts and moves are its own)


def row_of(task: StartTask) -> dict:
    """Run one task (on a worker) and return its table row; ``seconds``: the start's own wall time, and
    ``vectors`` the code (not a column: :func:`sweep` takes it out)."""
    t0 = time.perf_counter()
    if isinstance(task, SearchTask):
        from .search import Search

        vectors = Search(
            task.dim, task.points, task.seconds, method=task.method, seed=task.seed, index=task.index, processes=False
        ).run()
    else:
        vectors = run_start(task).vectors
    seconds = time.perf_counter() - t0
    s = summary(vectors)
    return {
        **_key_dict(task),
        "min_angle_deg": s["min_angle_deg"],
        "min_distance": s["min_distance"],
        "best_known_angle_deg": s["best_known_angle_deg"],
        "gap_deg": s["best_known_gap_deg"],
        "seconds": round(seconds, 3),
        "vectors": vectors,
    }


def code_name(row: dict) -> str:
    """The file name of a row's code in a sweep's ``codes`` folder: the row's key, ``.txt``."""
    return f"{_key_name(row)}.txt"


def _key_name(row: dict) -> str:
    """A row's key (:data:`KEY`) as one name: ``d3-n5-cg-search30.0-k1500-seed0-start0``."""
    kind = f"-search{row['search']!r}" if row["search"] else "-polish" if row["polish"] else ""
    return (
        f"d{row['dim']}-n{row['points']}-{row['method']}{kind}-k{row['iterations']}"
        f"-seed{row['seed']}-start{row['start']}"
    )


def best_rows(rows: Iterable[dict]) -> list[dict]:
    """The best start of each (parameters, N): largest minimum distance, ties to the lower start (as
    :func:`~.starts.run_starts`); sorted by N."""
    best: dict[tuple, dict] = {}
    for row in rows:
        group = tuple(row[c] for c in PARAMETERS) + (row["points"],)
        b = best.get(group)
        if b is None or (row["min_distance"], -row["start"]) > (b["min_distance"], -b["start"]):
            best[group] = row
    return sorted(best.values(), key=lambda r: r["points"])


def sweep(
    tasks: list[StartTask],
    out: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
    codes: Path | None = None,
) -> list[dict]:
    """Run the tasks not already in ``out`` on Dask, appending each finished row to ``out`` as it arrives;
    return all rows of the file (old and new), sorted by (points, start).

    ``scheduler``: the address of an existing cluster's scheduler (``tcp://host:8786``), else a LocalCluster
    of ``workers`` processes (default: the cores this process may use, at most one per task) is started and
    closed. ``progress``: a tqdm bar on stderr, shown only on a terminal. ``on_row`` sees each new row once it
    is in the file. ``codes``: a folder that receives each new row's code (:func:`code_name`, the ``.txt``
    format ``verify`` reads), written before its row, so that every row this sweep adds has its code. Raises
    ``ValueError`` (one line) for a bad ``out`` (see the module) or a scheduler that
    cannot be reached within :data:`CONNECT_TIMEOUT` seconds; a task's exception goes on as it is.
    """
    out = Path(out)
    suffix = _suffix(out)
    rows = {_key(r): r for r in read_rows(out)}
    if not os.access(out.parent, os.W_OK):  # before the cluster runs anything
        raise ValueError(f"cannot write {out}: {out.parent} is not a writable folder")
    if codes is not None and not (Path(codes).is_dir() and os.access(codes, os.W_OK)):
        raise ValueError(f"cannot write codes to {codes}: not a writable folder")
    if tasks:
        _check_parameters(out, rows.values(), tasks)
    pending = list({_key(_key_dict(t)): t for t in tasks if _key(_key_dict(t)) not in rows}.values())
    if rows and suffix == ".tsv" and _header(out) != "\t".join(COLUMNS):  # an older file: the rows appended
        _rewrite(out, suffix, _sorted(rows.values()))  # below must match its header
    if pending and suffix == ".json":  # rewritten whole for every batch: the old copy and the new one
        need = 2 * JSON_ROW_BYTES * (len(rows) + len(pending))
        if _room(out) < need:
            raise ValueError(
                f"{out}: a .json table of {len(rows) + len(pending)} rows needs about "
                f"{need / 1e6:.3g} MB free for its rewrites, {out.parent} has "
                f"{_room(out) / 1e6:.3g} MB (a .tsv table needs no second copy)"
            )
    if pending:
        bar = _bar(len(tasks), len(tasks) - len(pending), progress)
        try:
            # closing: an exception here (on_row, a full disk) must stop the cluster now, not when the
            # traceback holding the generator is dropped.
            with contextlib.closing(_run(pending, scheduler, workers)) as batches:
                for batch in batches:
                    for row in batch:
                        vectors = row.pop("vectors")
                        if codes is not None:
                            write_code(Path(codes) / code_name(row), vectors)
                    _append(out, suffix, rows, batch)
                    bar.update(len(batch))
                    if on_row is not None:
                        for row in batch:
                            on_row(row)
        finally:
            bar.close()
    result = _sorted(rows.values())
    if suffix == ".tsv" and list(rows.values()) != result and _room(out) > out.stat().st_size + ROOM_MARGIN:
        # Appended as they came: now in table order, where there is room for the sorted copy (else the
        # file stays in completion order, which reads back the same).
        _rewrite(out, suffix, result)
    return result


def _room(out: Path) -> int:
    """Bytes free to this user in the folder of ``out``."""
    st = os.statvfs(out.parent)
    return st.f_bavail * st.f_frsize


# -- running on Dask ------------------------------------------------------------------------------------------


def _run(tasks: list[StartTask], scheduler: str | None, workers: int | None):
    """Yield lists of finished rows as they come, until all of ``tasks`` are done."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ValueError(f"a table needs Dask distributed ({exc}): pip install distributed") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet())
        cluster = None
        if scheduler is None:
            scratch = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="spherecode-dask-", ignore_cleanup_errors=True)
            )
            stack.enter_context(dask.config.set({"temporary-directory": scratch}))
            stack.enter_context(_workers_ignore_sigint(scratch))
            with signals_deferred():
                cluster = _local_cluster(LocalCluster, scratch)
                stack.callback(_close, cluster)
                # 0.04 s before the workers, 1.6 s after
                client = Client(cluster, set_as_default=False, security=cluster.security)
                stack.callback(_close, client)
            cluster.scale(max(1, min(len(tasks), workers or len(os.sched_getaffinity(0)))))  # started meanwhile
        else:
            try:
                with signals_deferred():  # at most 2 × CONNECT_TIMEOUT
                    security = _probe_scheduler(scheduler)
                    client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False, security=security)
                    stack.callback(_close, client)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                message = " ".join(str(exc).split()) or type(exc).__name__
                raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {message}") from None
        # Largest N first: the long tasks start early and the short ones fill the gaps at the end.
        futures = [client.submit(row_of, t, key=_task_key(t), priority=t.points) for t in tasks]
        try:
            for batch in as_completed(futures, loop=client.loop).batches():
                yield client.gather(batch)
                for f in batch:
                    f.release()
        except BaseException:  # Ctrl-C, a failed task, a lost scheduler: nothing more to run
            with contextlib.suppress(Exception):
                client.cancel(futures)
            if cluster is not None:
                # A worker with a running task would be given 4 s to finish it before being terminated
                # (Nanny.close's default timeout × 0.8, measured 4.0 s): no wait, the rows done are in the file.
                with contextlib.suppress(Exception):
                    cluster.sync(_stop_workers, cluster)
            raise


def _probe_scheduler(address: str):
    """The :class:`~distributed.security.Security` (Dask's configuration) to reach ``address``, once one
    connection there, within :data:`CONNECT_TIMEOUT` seconds in all, has answered Dask's ``identity`` as a
    scheduler; else ``ValueError``. Before the :class:`~distributed.Client`: a Client that fails to start
    is not closed by its maker, and its finaliser then waited 10 s and printed a traceback (measured); a
    server that is not Dask held it until that server went away, or sent a frame length read as gigabytes."""
    import asyncio

    from distributed.comm import connect, parse_address
    from distributed.security import Security

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls") or not location.rpartition(":")[0] or not location.rpartition(":")[2].isdigit():
        raise ValueError("expected tcp://HOST:PORT (or tls://HOST:PORT with Dask's TLS configuration)")
    security = Security()

    async def identity():
        comm = await connect(address, timeout=CONNECT_TIMEOUT, **security.get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), CONNECT_TIMEOUT))
    except (asyncio.TimeoutError, TimeoutError):
        raise ValueError(f"no answer from a Dask scheduler within {CONNECT_TIMEOUT:g} s") from None
    except MemoryError:
        raise ValueError("not a Dask scheduler (its answer is garbage)") from None
    except OSError as exc:
        raise ValueError(" ".join(str(exc).split()) or type(exc).__name__) from None
    except Exception as exc:  # noqa: BLE001 -- whatever a non-Dask server's bytes make the decoder raise
        raise ValueError(f"not a Dask scheduler ({' '.join(str(exc).split()) or type(exc).__name__})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ValueError("not a Dask scheduler")
    return security


def _local_cluster(LocalCluster, scratch: str):
    """A LocalCluster without workers yet (:meth:`scale` adds them), on this machine's loopback only, and
    over TLS with credentials made for it alone (Dask's ``Security.temporary()``: a key and a self-signed
    certificate in memory, which every member must present): another local user who finds its port cannot
    connect, nor run code in its workers as this user."""
    from distributed.security import Security

    # dashboard_address=None alone still starts Dask's HTTP server on port 8787 (with a warning when that is
    # taken): no dashboard, and that server on a free loopback port. No worker is started here, so that a
    # Ctrl-C landing in this call leaves no process behind.
    return LocalCluster(
        n_workers=0,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tls://",
        security=Security.temporary(),
        dashboard_address=None,
        local_directory=scratch,
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )


@contextlib.contextmanager
def _workers_ignore_sigint(scratch: str):
    """Worker processes spawned meanwhile start with SIGINT ignored, from their first instruction on.

    The terminal's Ctrl-C goes to the whole foreground group: each Dask worker printed a KeyboardInterrupt
    traceback (measured); this process decides and stops them. Ignoring it from the worker's own Python code
    would leave its start-up (about a second) exposed; a blocked signal mask did not reach the workers
    (multiprocessing unblocks SIGINT in the spawning thread when it starts its resource tracker) and a
    handler is reset by exec; an ignored signal stays ignored across exec, and Python leaves it so. Hence
    the interpreter that multiprocessing spawns is, for the duration, a shell script that ignores SIGINT and
    execs it. Not on a noexec folder (then a Ctrl-C may show the workers' tracebacks).
    """
    from multiprocessing import spawn

    original = spawn.get_executable()
    exe = os.fsdecode(original)
    if not os.path.exists("/bin/sh") or os.statvfs(scratch).f_flag & getattr(os, "ST_NOEXEC", 0):
        yield
        return
    wrapper = Path(scratch, "python")
    wrapper.write_text(f'#!/bin/sh\ntrap "" INT\nexec {shlex.quote(exe)} "$@"\n')
    wrapper.chmod(0o755)
    spawn.set_executable(str(wrapper))
    try:
        yield
    finally:
        spawn.set_executable(original)


async def _stop_workers(cluster) -> None:
    import asyncio

    await asyncio.gather(*(w.close(timeout=STOP_TIMEOUT) for w in list(cluster.workers.values())))


def _sorted(rows: Iterable[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["points"], r["start"]))


def _close(resource) -> None:
    with contextlib.suppress(Exception):
        resource.close(timeout=CLOSE_TIMEOUT)


def _task_key(task: StartTask) -> str:
    return f"spherecode-table-{_key_name(_key_dict(task))}"


@contextlib.contextmanager
def _quiet():
    """Dask's logs at CRITICAL and its warnings ignored, in this process, for the duration."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _bar(total: int, done: int, progress: bool):
    from tqdm import tqdm

    # As the CLI's bars: none off a terminal, none for a sweep shorter than two seconds.
    return tqdm(
        total=total,
        initial=done,
        unit="start",
        file=sys.stderr,
        disable=None if progress else True,
        delay=2.0,
        leave=False,
    )


# -- the file -------------------------------------------------------------------------------------------------


def _suffix(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"a table file must end in {' or '.join(SUFFIXES)}, got {str(out)!r}")
    return suffix


def _key_dict(task: StartTask | SearchTask) -> dict:
    search = isinstance(task, SearchTask)
    return {
        "dim": task.dim,
        "points": task.points,
        "method": task.method,
        "polish": search or task.polish,
        "iterations": task.iterations,
        "seed": task.seed,
        "start": task.index,
        "search": task.seconds if search else 0.0,
    }


def _key(row: dict) -> tuple:
    return tuple(row[c] for c in KEY)


def _describe(p: tuple) -> str:
    d = dict(zip(PARAMETERS, p))
    how = f"search {d['search']:g} s" if d["search"] else f"{d['iterations']} iterations"
    return f"D = {d['dim']}, method {d['method']}{', polish' if d['polish'] else ''}, {how}, seed {d['seed']}"


def _check_parameters(out: Path, rows: Iterable[dict], tasks: list[StartTask]) -> None:
    wanted = {tuple(_key_dict(t)[c] for c in PARAMETERS) for t in tasks}
    for row in rows:
        p = tuple(row[c] for c in PARAMETERS)
        if p not in wanted:
            raise ValueError(
                f"{out} holds rows of other parameters ({_describe(p)}) than this table "
                f"({_describe(min(wanted, key=str))}): choose another output file"
            )


def _header(out: Path) -> str:
    with open(out, encoding="utf-8") as fh:
        return fh.readline().rstrip("\n")


def read_rows(out: Path) -> list[dict]:
    """The rows of a table file (none if it does not exist or is empty), checked; ``ValueError`` (one line)
    for another header, a damaged line or a repeated row."""
    out = Path(out)
    suffix = _suffix(out)
    regular_file(out)
    try:
        text = out.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {out}: {exc}") from None
    if not text:
        return []
    if suffix == ".json":
        doc = parse_json(text, str(out))
        if not isinstance(doc, list):
            raise ValueError(f"{out} is not a JSON table (a list of rows)")
        rows = [
            _checked(
                {**row, "search": 0.0} if isinstance(row, dict) and set(row) == set(OLD_COLUMNS) else row,
                f"{out}: row {i + 1}",
            )
            for i, row in enumerate(doc)
        ]
    else:
        lines = text.split("\n")
        if lines[0] == "\t".join(OLD_COLUMNS):  # written before the search column: its rows are starts
            lines = [lines[0] + "\tsearch"] + [line + "\t0.0" if line else line for line in lines[1:]]
        if lines[0] != "\t".join(COLUMNS):
            raise ValueError(f"{out} is not a table of these columns (its header: {lines[0][:80]!r})")
        if lines[-1]:
            raise ValueError(f"{out}: line {len(lines)} is damaged (no end of line)")
        rows = [_parsed(line, f"{out}: line {i + 2}") for i, line in enumerate(lines[1:-1])]
    seen = set()
    for row in rows:
        if _key(row) in seen:
            raise ValueError(f"{out} holds the row of N = {row['points']}, start {row['start']} twice")
        seen.add(_key(row))
    return rows


def _parsed(line: str, where: str) -> dict:
    fields = line.split("\t")
    if len(fields) != len(COLUMNS):
        raise ValueError(f"{where} is damaged ({len(fields)} fields, {len(COLUMNS)} expected)")
    row = dict(zip(COLUMNS, fields))
    try:
        for c in _INT:
            row[c] = int(row[c])
        for c in _FLOAT:
            row[c] = float(row[c])
        for c in _OPTIONAL_FLOAT:
            row[c] = float(row[c]) if row[c] else None
        row["polish"] = {"true": True, "false": False}[row["polish"]]
    except (ValueError, KeyError):
        raise ValueError(f"{where} is damaged: {line[:80]!r}") from None
    return _checked(row, where)


def _checked(row, where: str) -> dict:
    """``row`` if it has exactly the columns, of their types, else ``ValueError``."""

    def number(x, optional=False):
        return (optional and x is None) or (
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        )

    ok = (
        isinstance(row, dict)
        and set(row) == set(COLUMNS)
        and all(isinstance(row[c], int) and not isinstance(row[c], bool) for c in _INT)
        and all(number(row[c]) for c in _FLOAT)
        and all(number(row[c], True) for c in _OPTIONAL_FLOAT)
        and row["method"] in METHODS
        and isinstance(row["polish"], bool)
    )
    if not ok:
        raise ValueError(f"{where} is damaged: {str(row)[:80]!r}")
    return {c: float(row[c]) if c in _FLOAT + _OPTIONAL_FLOAT and row[c] is not None else row[c] for c in COLUMNS}


def _tsv_line(row: dict) -> str:
    def text(x) -> str:
        if x is None:
            return ""
        if isinstance(x, bool):
            return "true" if x else "false"
        return repr(x) if isinstance(x, float) else str(x)  # repr: the shortest text that reads back exactly

    return "\t".join(text(row[c]) for c in COLUMNS) + "\n"


def _append(out: Path, suffix: str, rows: dict, batch: list[dict]) -> None:
    """Add ``batch`` to ``rows`` and to the file: TSV lines in one write + fsync, JSON by a rewrite."""
    new_file = not rows and not (out.exists() and out.stat().st_size)
    for row in batch:
        rows[_key(row)] = row
    if suffix == ".json":
        _rewrite(out, suffix, _sorted(rows.values()))
        return
    data = ("\t".join(COLUMNS) + "\n" if new_file else "") + "".join(_tsv_line(r) for r in batch)
    with open(out, "ab") as fh:
        fh.write(data.encode())
        fh.flush()
        os.fsync(fh.fileno())


def _rewrite(out: Path, suffix: str, rows: list[dict]) -> None:
    """Write the whole table to a temporary file beside ``out`` and rename it over ``out``."""
    if suffix == ".json":
        text = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n" if rows else "[]\n"
    else:
        text = "\t".join(COLUMNS) + "\n" + "".join(_tsv_line(r) for r in rows)
    write_atomically(out, lambda fh: fh.write(text.encode()))
