"""The report's text: ``report.md`` beside ``report.json`` and the figures, written to a temporary folder
and moved into place only when complete (:func:`write_report`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .figures import draw_figures
from .hwtime import BITS_PER_BYTE
from .measure import MIN_REPEATS, MIN_SECONDS
from .options import BETA

# ------------------------------------------------------------------------------------------------ output


def write_report(report: dict, out: Path, command_line: str) -> list[Path]:
    """Write ``report.md``, ``report.json`` and the figures into ``out`` (created if need be). Everything
    is written to a temporary folder beside ``out`` first; only complete files are moved into place
    (``report.json`` last), and the temporary folder is removed on every way out."""
    out = Path(out)
    report = {**report, "command_line": command_line}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        figures = draw_figures(report, tmp)
        (tmp / "report.md").write_text(_markdown(report, figures))
        (tmp / "report.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
        names = [*figures, "report.md", "report.json"]
        if not out.exists():
            os.rename(tmp, out)
            return [out / name for name in names]
        for name in names:
            os.replace(tmp / name, out / name)
        return [out / name for name in names]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} µs"


def _fmt_j(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, scale in (("J", 1), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x / 1e-15:.3g} fJ"


def _load_text(load: dict) -> str:
    values = [load.get(k) for k in ("start", "after_timing", "end")]
    if any(v is None for v in values):
        return "unknown"
    return f"{values[0]:.1f} at the start, {values[1]:.1f} after the software timing, {values[2]:.1f} at the end"


def _markdown(report: dict, figures: list[str]) -> str:
    """``report.md``: the sections in order, each from the report's data alone."""
    lines = []
    for section in (
        _header,
        _summary,
        _time_section,
        _checks_section,
        _runs_section,
        _energy_section,
        _quality_section,
        _formats_section,
    ):
        lines += section(report)
    lines += _constants_section(report, figures)
    return "\n".join(lines)


def _rows(report: dict) -> tuple[dict, int, list[str], dict, dict]:
    """The options, the cores, the fitting boards, and the software and board rows by (D, N, threads) and
    (board, D, N)."""
    sw = {(r["dim"], r["points"], r["threads"]): r for r in report["software"]}
    hw = {(r["board"], r["dim"], r["points"]): r for r in report["hardware"]}
    return report["options"], report["machine"]["cores"], _fitting_boards(report), sw, hw


def _fitting_boards(report: dict) -> list[str]:
    """The boards that hold at least one (N, D) of the sweep (the others are in the summary)."""
    return sorted({r["board"] for r in report["hardware"] if r["fits"]})


def _header(report: dict) -> list[str]:
    """The title and how the report was made: command, commit, machine, load; what is measured and modelled."""
    m = report["machine"]
    cores = report["machine"]["cores"]
    L = []
    add = L.append
    add("# spherecode: software against hardware" + (" (quick)" if report["quick"] else ""))
    add("")
    made = f" at commit {report['commit']}" if report.get("commit") else ""
    made += f", {report['date']}," if report.get("date") else ""
    add(
        f"Written by `{report['command_line']}`{made} on {m['cpu']}, {cores} core(s), Python {m['python']}, "
        f"NumPy {m['numpy']}; 1-minute load average {_load_text(m['load_average'])} — other work shared the "
        "cores, so software times are upper bounds (±20 % on a quiet machine, more under load). "
        f"RAPL {'readable: CPU power measured' if m['rapl'] else 'not readable here: CPU power modelled'}. "
        "Every number below says whether it was **measured** here or **modelled**; the model's constants are "
        "listed at the end and each can be overridden (`--power FILE.json`, `--cpu-watts`, `--board-watts`)."
    )
    add("")
    add(
        f"Unit: {report['unit']}. Software: the float64 reference (`host/backends/reference.py`) measured here, "
        "median of "
        f"≥ {MIN_REPEATS} updates and ≥ {MIN_SECONDS} s after a warm-up, at β = {BETA:g}; on one thread with BLAS held "
        "to one thread (the paper's baseline: single-threaded), timed as that thread's CPU time so that other "
        "work on the cores does not inflate it (the wall times are in report.json), and on all cores, timed by "
        "the wall clock (which such work does inflate). Hardware: modelled — the core's "
        "exact cycle formula (`CoreConfig.cycles`) at the board's clock, plus the bytes of one protocol "
        f"exchange (CONFIGURE, LOAD chunks, RUN, READ chunks with their framing and CRC, docs/protocol.md) at "
        f"{BITS_PER_BYTE} bits per byte and the board's baud rate, for host-run loosening (every update moves all "
        "N·D coordinates both ways). A board whose core loosens on chip (LOOSEN, docs/protocol.md) runs a "
        "whole run per command instead: its whole runs are in their own section below. The *core only* "
        "curves show what the core alone takes per update."
    )
    add("")
    return L


def _summary(report: dict) -> list[str]:
    """One line per board and D: the crossover and speed-ups per update and per whole run; the checks."""
    runs = report["runs"]
    L = []
    add = L.append
    add("## Summary")
    add("")
    for s in report["speed"]:
        if s.get("crossover", None) is None and "note" in s:
            add(f"- **{s['board']}**, D = {s['dim']}: {s['note']}.")
            continue
        cross = (
            f"hardware is faster than one software thread from N ≈ {s['crossover']:.0f}"
            if s["crossover"] is not None
            else f"hardware is **not** faster than one software thread at any N up to Nmax = {s['largest_fitting']}"
        )
        add(
            f"- **{s['board']}**, D = {s['dim']}: {cross}; at N = {s['largest_fitting']} the speed-up is "
            f"{s['speedup_at_largest']:.3g}× (core alone: {s['compute_only_speedup_at_largest']:.3g}×; the link "
            f"takes {100 * s['link_share_at_largest']:.0f} % of the hardware's time); asymptotically (N → ∞, "
            f"compute-bound, beyond this board's Nmax) {s['asymptotic_speedup']:.3g}× "
            f"(software per pair from N = {s['software_points']})."
        )
    add(
        "- The paper (Stanojević, Šenk, Milutinović, §III.C, Figure 3): on a Maxeler MAX2 against one thread of an "
        "i7-3770K, hardware faster for N ≳ 50, asymptotic speed-up (18 ÷ 24)× for D ∈ [3, 6]."
    )
    for s in runs["summary"]:
        if s["crossover"] is not None:
            cross = f"faster than one software thread from N ≈ {s['crossover']:.0f}"
        elif s["faster_at"]:
            cross = (
                f"faster than one software thread at N = {', '.join(map(str, s['faster_at']))} of the sweep, "
                f"**not** at N = {s['largest_fitting']}"
            )
        else:
            cross = f"**not** faster than one software thread at any N up to {s['largest_fitting']}"
        add(
            f"- **{s['board']}**, D = {s['dim']}, a whole run of {runs['iterations']} force-loosening iterations on "
            f"chip: {cross}; at N = {s['largest_fitting']} {fmt_s(s['chip_s'])} (modelled) against "
            f"{fmt_s(s['software_1_s'])} (2 × {runs['iterations']} × the measured update), "
            f"{s['speedup_at_largest']:.3g}×"
            + (
                f"; energy {_fmt_j(s['chip_j'])} against {_fmt_j(s['software_1_j'])} (both modelled, as in the "
                "energy section)."
                if s.get("chip_j") is not None
                else "."
            )
        )
    failed = [c for kind in ("cycles", "link") for c in report["checks"][kind] if not c["passed"]]
    add(f"- Checks in this run: {'all passed' if not failed else f'{len(failed)} FAILED'} (below).")
    add("")
    return L


def _time_section(report: dict) -> list[str]:
    """Time per update (the paper's Figure 3): software measured, each fitting board modelled."""
    opts, cores, boards, sw, hw = _rows(report)
    L = []
    add = L.append
    add("## Time per update (the paper's Figure 3)")
    add("")
    add("![time per update](time.svg)")
    add("")
    head = (
        "| D | N | software, 1 thread (measured, CPU time) | software, {} threads (measured, wall) | ".format(cores)
        + " | ".join(f"{b} (modelled: core + link)" for b in boards)
        + " |"
    )
    add(head)
    add("|" + "---:|" * (4 + len(boards)))
    for d in opts["dims"]:
        for n in opts["points"]:
            cells = [str(d), str(n), fmt_s(sw[d, n, 1]["seconds"]), fmt_s(sw[d, n, cores]["seconds"])]
            for b in boards:
                r = hw[b, d, n]
                cells.append(
                    f"{fmt_s(r['seconds'])} ({fmt_s(r['compute_s'])} + {fmt_s(r['link_s'])})"
                    if r["fits"]
                    else f"no point: {r['reason']}"
                )
            add("| " + " | ".join(cells) + " |")
    add("")
    return L


def _checks_section(report: dict) -> list[str]:
    """The cycle formula against the RTL counter and the link model against the twin."""
    L = []
    add = L.append
    add("### Checks")
    add("")
    for c in report["checks"]["cycles"]:
        verdict = "**pass**" if c["passed"] else "**FAIL**"
        got = c["counter"] if c.get("counter") is not None else f"not measured ({c.get('error')})"
        add(
            f"- Cycle formula against the simulated RTL ({c['config']}; one update, N = {c['points']}, D = {c['dim']}, "
            f"RTL under Verilator via the `sim` backend): counter {got}, formula {c['formula']} — {verdict}."
        )
    for c in report["checks"]["link"]:
        verdict = "**pass**" if c["passed"] else "**FAIL**"
        if c.get("bytes_measured") is None:
            add(f"- Link model against the {c['board']} twin: not measured ({c.get('error')}) — {verdict}.")
            continue
        add(
            f"- Link model against one exchange with the {c['board']} twin (its whole top, UART included, under "
            f"Verilator behind a pty; N = {c['points']}, D = {c['dim']}): {c['bytes_measured']} bytes counted on "
            f"the pty ({c['bytes_written']} written, {c['bytes_read']} read), model {c['bytes_model']}; the twin "
            f"core's counter {c['cycles_counter']} cycles, formula at the board's configuration "
            f"{c['cycles_formula']} — {verdict}. The exchange took {fmt_s(c['wall_s'])} of simulation wall time "
            f"({c['twin_uart']}): a check of bytes and cycles, not of the board's speed."
        )
    add("")
    return L


def _runs_section(report: dict) -> list[str]:
    """Whole force-loosening runs: software, host-run and on-chip loosening per board."""
    cores = report["machine"]["cores"]
    runs = report["runs"]
    L = []
    add = L.append
    add(f"## Whole runs: {runs['iterations']} force-loosening iterations")
    add("")
    add("![whole runs](runs.svg)")
    add("")
    add(
        f"A force-loosening iteration is two updates (β and β(1 + 1/n)). Software: 2 × {runs['iterations']} × its "
        "time per update above (modelled from the measured update). Host-run loosening on a board: 2 × "
        f"{runs['iterations']} × its modelled update (every update a full exchange over the link). Rows where no "
        "board holds N and D are left out. On chip "
        "(a board with LOOSEN): the loosening core's exact run formula (`CoreConfig.run_cycles`: the load, "
        "one sweep of both candidates per iteration, the output) at the board's clock, plus one CONFIGURE, "
        "LOAD, LOOSEN, RESULT and READ; the host's STATUS polls overlap the run and are not counted."
    )
    add("")
    run_boards = sorted({b for r in runs["rows"] for b in r["boards"]})
    chip_boards = {b for r in runs["rows"] for b, e in r["boards"].items() if "chip" in e}
    cols = []
    for b in run_boards:
        cols.append(f"{b}, host-run (modelled)")
        if b in chip_boards:
            cols.append(f"{b}, on chip (modelled: core + link)")
    add(f"| D | N | software, 1 thread | software, {cores} threads | " + " | ".join(cols) + " |")
    add("|" + "---:|" * (4 + len(cols)))
    for r in runs["rows"]:
        if not r["boards"]:  # no board holds N and D: the software's alone is in the table above
            continue
        cells = [str(r["dim"]), str(r["points"]), fmt_s(r["software_1_s"]), fmt_s(r["software_all_s"])]
        for b in run_boards:
            e = r["boards"].get(b)
            cells.append(fmt_s(e["host_s"]) if e else "—")
            if b in chip_boards:
                cells.append(
                    f"{fmt_s(e['chip']['seconds'])} ({fmt_s(e['chip']['compute_s'])} + {fmt_s(e['chip']['link_s'])})"
                    if e
                    else "—"
                )
        add("| " + " | ".join(cells) + " |")
    add("")
    return L


def _energy_section(report: dict) -> list[str]:
    """Power and energy (the paper's Table II), and each board's resources and power."""
    opts, cores, boards, sw, hw = _rows(report)
    L = []
    add = L.append
    add("## Power and energy (the paper's Table II)")
    add("")
    add("![energy per update](energy.svg)")
    add("")
    add("| who | power | W | N | D | time per update | energy per update | energy per pair |")
    add("|---|---|---:|---:|---:|---:|---:|---:|")
    pick = sorted({n for n in opts["points"] if n in (64, 256, 1024) or n == max(opts["points"])})
    for d in opts["dims"]:
        for n in pick:
            for threads in (1, cores):
                r = sw[d, n, threads]
                add(
                    f"| software, {threads} thread(s) | {r['power']} | {r['watts']:.3g} | {n} | {d} | "
                    f"{fmt_s(r['seconds'])} (measured) | {_fmt_j(r['joules'])} | {_fmt_j(r['joules_per_pair'])} |"
                )
            for b in boards:
                r = hw[b, d, n]
                if r["fits"] and r.get("joules") is not None:
                    add(
                        f"| {b} | {r['power']} | {r['watts']:.3g} | {n} | {d} | {fmt_s(r['seconds'])} (modelled) | "
                        f"{_fmt_j(r['joules'])} | {_fmt_j(r['joules_per_pair'])} |"
                    )
                else:
                    add(f"| {b} | — | — | {n} | {d} | {r.get('reason') or 'no power model'} | — | — |")
    add("")
    add(
        "Energy = power × time. Software: the CPU's power while it computes (RAPL package power where readable, "
        "else cores busy × `cpu_watts_per_core`); the rest of the host is not counted. Board: idle power over the "
        "whole update plus the core's dynamic power while it computes (clock × Σ resources × energy per cycle × "
        "activity); the host's own power while it drives the link is not counted. The paper measured the whole "
        "host at the mains: idle 68 W, software 88 W, hardware 74 W (Table II)."
    )
    add("")
    for b, build in report["builds"].items():
        if b not in boards:
            continue
        p = build["power"]
        res = ", ".join(f"{k} {v}" for k, v in build["resources"].items())
        idle = "—" if p["idle_w"] is None else f"{p['idle_w']:.3g} W"
        add(
            f"- {b}: resources {res or '—'} ({build['source']}); idle {idle}, dynamic while computing "
            f"{p['dynamic_w']:.3g} W (modelled)."
        )
    add("")
    return L


def _quality_section(report: dict) -> list[str]:
    """Quality against the best known (the paper's Figure 4)."""
    opts = report["options"]
    cores = report["machine"]["cores"]
    L = []
    add = L.append
    add("## Quality against the best known (the paper's Figure 4)")
    add("")
    add("![minimum distance](quality.svg)")
    add("")
    workers = "one after another" if opts["jobs"] == 1 else f"in parallel on {opts['jobs'] or cores} worker processes"
    add(
        f"Best of {opts['starts']} starts × {opts['iters']} force-loosening iterations (seed {opts['seed']}, starts "
        f"{workers}), measured: float64 reference, the bit-exact model in Q3.44 (the paper's format) and in each "
        "board's format where the board holds N and D. Δ = model − float64 in the minimum angle."
    )
    add("")
    add("| D | N | backend | min angle | min distance | Δ vs float64 | best known | short of best known |")
    add("|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in report["quality"]:
        name = "float64" if r["backend"] == "reference" else f"model {r['format']}"
        known = f"{r['best_known_angle_deg']:.6f}°" if r["best_known_angle_deg"] is not None else "—"
        known += " (own search)" if r.get("best_known_own") else ""
        short = f"{r['short_of_best_known_deg']:.6f}°" if r["short_of_best_known_deg"] is not None else "—"
        delta = "" if r["backend"] == "reference" else f"{r['delta_angle_deg']:+.6f}°"
        add(
            f"| {r['dim']} | {r['points']} | {name} | {r['min_angle_deg']:.6f}° | {r['min_distance']:.9f} | {delta} | "
            f"{known} | {short} |"
        )
    add("")
    return L


def _formats_section(report: dict) -> list[str]:
    """Formats and lanes: clock, post-route fmax, pairs/s and the format's quality cost per board."""
    L = []
    add = L.append
    add("## Formats and lanes")
    add("")
    add(
        "| board | format | lanes | Nmax | Dmax | clock | post-route fmax | pairs/s (core) | pairs/s (with link) | "
        "quality cost vs float64 (Δ min angle, measured) |"
    )
    add("|---|---|---:|---:|---:|---:|---|---:|---:|---|")
    for f in report["formats"]:
        if not f["fits"]:
            add(
                f"| {f['board']} | {f['format']} | {f['lanes']} | {f['nmax']} | {f['dmax']} | {f['clock_mhz']:g} MHz | "
                f"— | — | — | does not fit: {f['reason']} |"
            )
            continue
        fmax = f"{f['fmax_mhz']:g} MHz ({f['fmax_source']})" if f["fmax_mhz"] else f"— ({f['fmax_source']})"
        link = (
            f"{f['pairs_per_second_with_link']:.3g} (N = {f['pairs_per_second_at']['points']}, modelled)"
            if "pairs_per_second_with_link" in f
            else "—"
        )
        cost = (
            ", ".join(f"D{c['dim']} N{c['points']}: {c['delta_angle_deg']:+.4f}°" for c in f["quality_cost_deg"]) or "—"
        )
        add(
            f"| {f['board']} | {f['format']} | {f['lanes']} | {f['nmax']} | {f['dmax']} | {f['clock_mhz']:g} MHz | "
            f"{fmax} | {f['pairs_per_second_compute']:.3g} (modelled) | {link} | {cost} |"
        )
    add("")
    return L


def _constants_section(report: dict, figures: list[str]) -> list[str]:
    """The power model's constants, and links to the figures and the data."""
    L = []
    add = L.append
    add("## Model constants")
    add("")
    add("| constant | value | unit | kind | source |")
    add("|---|---:|---|---|---|")
    for c in report["power_model"]:
        add(f"| `{c['key']}` | {c['value']:g} | {c['unit']} | {c['kind']} | {c['source']} |")
    add("")
    add("Figures: " + ", ".join(f"[{name}]({name})" for name in figures) + ". The data: [report.json](report.json).")
    add("")
    return L
