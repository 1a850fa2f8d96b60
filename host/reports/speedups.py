"""What the measured and modelled times mean: the crossover N, the speed-ups per update and per whole run,
and the formats' cost in quality."""

from __future__ import annotations

import math

from ...boards import BoardConfig
from .hwtime import chip_run_time, misfit, update_time


def board_joules(power: dict, seconds: float, compute_s: float) -> float:
    """A board's modelled energy (:func:`~spherecode.host.power.board_power`'s ``power``): idle power over
    the whole ``seconds``, dynamic power while the core computes (``compute_s``)."""
    return power["idle_w"] * seconds + power["dynamic_w"] * compute_s


# ------------------------------------------------------------------------------------------------ summaries


def crossover(points: list[int], software: list[float], hardware: list[float]) -> float | None:
    """The N from which hardware stays faster: the first grid point from which hardware < software at every
    larger N, interpolated log–log with the point before it (None if hardware is not faster at the largest
    N; the first N itself if it is faster everywhere)."""
    ratio = [s / h for s, h in zip(software, hardware)]
    if not ratio or ratio[-1] <= 1:
        return None
    k = len(ratio) - 1
    while k > 0 and ratio[k - 1] > 1:
        k -= 1
    if k == 0:
        return float(points[0])
    x0, x1 = math.log(points[k - 1]), math.log(points[k])
    y0, y1 = math.log(ratio[k - 1]), math.log(ratio[k])
    return float(math.exp(x0 + (x1 - x0) * (0 - y0) / (y1 - y0)))


def speed(report: dict, boards: list[BoardConfig]) -> list[dict]:
    """Per fitting board and D: the crossover against one thread, the ratio at the largest N that fits,
    and the asymptotic ratio (N → ∞: software's time per pair at its largest measured N against the
    core's 1/(lanes × clock) per pair; the link's O(N) share vanishes)."""
    one = {(r["dim"], r["points"]): r["seconds"] for r in report["software"] if r["threads"] == 1}
    out = []
    for board in boards:
        for d in sorted({r["dim"] for r in report["software"]}):
            hw = [r for r in report["hardware"] if r["board"] == board.name and r["dim"] == d and r["fits"]]
            entry = {"board": board.name, "dim": d}
            if not hw:
                entry.update(
                    crossover=None,
                    note=board.misfit
                    and "the core does not fit this board's device"
                    or f"no N in the sweep fits (Nmax {board.nmax}, Dmax {board.dmax})",
                )
                out.append(entry)
                continue
            pts = [r["points"] for r in hw]
            sw = [one[d, n] for n in pts]
            ht = [r["seconds"] for r in hw]
            biggest = max(n for (dd, n) in one if dd == d)
            per_pair_sw = one[d, biggest] / (biggest * (biggest - 1))
            entry.update(
                crossover=crossover(pts, sw, ht),
                largest_fitting=pts[-1],
                speedup_at_largest=sw[-1] / ht[-1],
                compute_only_speedup_at_largest=sw[-1] / hw[-1]["compute_s"],
                asymptotic_speedup=per_pair_sw * board.lanes * board.clock_hz,
                software_points=biggest,
                link_share_at_largest=hw[-1]["link_s"] / hw[-1]["seconds"],
            )
            out.append(entry)
    return out


def runs(report: dict, boards: list[BoardConfig], iterations: int) -> dict:
    """Whole runs of K = ``iterations`` force-loosening iterations at each (D, N) of the timing sweep:
    software, 2K times its measured time per update (``software_1_s`` on one thread, ``software_all_s`` on
    ``threads_all``); per fitting
    board, host-run loosening, 2K modelled updates (``host_s``), and where the board's core loosens on chip,
    the modelled whole run (``chip``: :func:`~spherecode.host.hwtime.chip_run_time`). ``summary``: per
    board with on-chip loosening and D, the ratio to one software thread at the largest N that fits and the
    N from which the board stays faster (:func:`crossover`)."""
    sw = {(r["dim"], r["points"], r["threads"]): r["seconds"] for r in report["software"]}
    watts = {(r["dim"], r["points"], r["threads"]): r["watts"] for r in report["software"]}
    rows = []
    for d, n in sorted({(r["dim"], r["points"]) for r in report["software"]}):
        threads = max(t for (dd, nn, t) in sw if (dd, nn) == (d, n))
        row = {
            "dim": d,
            "points": n,
            "software_1_s": 2 * iterations * sw[d, n, 1],
            "software_1_j": 2 * iterations * sw[d, n, 1] * watts[d, n, 1],
            "software_all_s": 2 * iterations * sw[d, n, threads],
            "threads_all": threads,
            "boards": {},
        }
        for board in boards:
            if misfit(board, n, d) is None:
                entry = {"host_s": 2 * iterations * update_time(board, n, d).seconds}
                if board.core.loosening:
                    entry["chip"] = t = chip_run_time(board, n, d, iterations).as_dict()
                    power = report["builds"][board.name]["power"]
                    if power["idle_w"] is not None:  # modelled as for an update
                        t["joules"] = board_joules(power, t["seconds"], t["compute_s"])
                row["boards"][board.name] = entry
        rows.append(row)
    summary = []
    for board in boards:
        if not board.core.loosening:
            continue
        for d in sorted({r["dim"] for r in rows}):
            at = [r for r in rows if board.name in r["boards"] and r["dim"] == d]
            if not at:
                continue
            pts = [r["points"] for r in at]
            one = [r["software_1_s"] for r in at]
            chip = [r["boards"][board.name]["chip"]["seconds"] for r in at]
            faster = [n for n, a, b in zip(pts, one, chip) if b < a]
            last = at[-1]["boards"][board.name]["chip"]
            summary.append(
                {
                    "board": board.name,
                    "dim": d,
                    "largest_fitting": pts[-1],
                    "software_1_s": one[-1],
                    "chip_s": chip[-1],
                    "speedup_at_largest": one[-1] / chip[-1],
                    "software_1_j": at[-1]["software_1_j"],
                    "chip_j": last.get("joules"),
                    "crossover": crossover(pts, one, chip),
                    "faster_at": faster,
                }
            )
    return {"iterations": iterations, "rows": rows, "summary": summary}


def formats(report: dict, boards: list[BoardConfig]) -> list[dict]:
    rows = []
    for board in boards:
        build = report["builds"][board.name]
        cost = [
            r
            for r in report["quality"]
            if r["backend"] == "model"
            and r["format"] == str(board.fmt)
            and misfit(board, r["points"], r["dim"]) is None
        ]
        row = {
            "board": board.name,
            "format": str(board.fmt),
            "lanes": board.lanes,
            "nmax": board.nmax,
            "dmax": board.dmax,
            "clock_mhz": board.clock_hz / 1e6,
            "fits": board.fits,
            "reason": board.misfit,
            "fmax_mhz": build["fmax_mhz"],
            "fmax_source": build["source"],
            "pairs_per_second_compute": board.lanes * board.clock_hz if board.fits else None,
        }
        at = [r for r in report["hardware"] if r["board"] == board.name and r["fits"]]
        if at:
            last = max(at, key=lambda r: (r["points"], r["dim"]))
            row["pairs_per_second_with_link"] = last["points"] * (last["points"] - 1) / last["seconds"]
            row["pairs_per_second_at"] = {"points": last["points"], "dim": last["dim"]}
        row["quality_cost_deg"] = [
            {"dim": r["dim"], "points": r["points"], "delta_angle_deg": r["delta_angle_deg"]} for r in cost
        ]
        rows.append(row)
    return rows
