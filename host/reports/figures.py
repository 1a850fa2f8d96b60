"""The report's figures (matplotlib, PNG and SVG): one per kind, few distinct series, the legend outside."""

from __future__ import annotations

from pathlib import Path

from ...boards import DEFAULT, get_board

#: A panel is laid out for at most this many series (series that coincide are merged, :func:`_merged`).
MAX_SERIES = 6


#: Software's two series, then one style per board in the order of the report: colour and marker each.
_SOFTWARE_STYLES = (("black", "o", "--"), ("0.45", "D", ":"))


_BOARD_STYLES = (
    ("tab:blue", "s"),
    ("tab:orange", "^"),
    ("tab:green", "v"),
    ("tab:red", "P"),
    ("tab:purple", "X"),
    ("tab:brown", "*"),
    ("tab:pink", "h"),
    ("tab:olive", "<"),
    ("tab:cyan", ">"),
)


def _merged(series: list[tuple[str, list, list, dict]], rtol: float = 0.1) -> list[tuple[str, list, list, dict]]:
    """``series`` (label, xs, ys, style) with every series that lies on an earlier one (the same xs, every y
    within ``rtol``: on a log axis, on top of it) folded into it, its label joined with " = ": no series
    hides another."""
    out = []
    for label, xs, ys, style in series:
        for k, (l0, x0, y0, st0) in enumerate(out):
            if x0 == xs and all(abs(a - b) <= rtol * max(abs(a), abs(b)) for a, b in zip(y0, ys)):
                out[k] = (f"{l0}\n= {label}", x0, y0, st0)
                break
        else:
            out.append((label, xs, ys, style))
    return out


def _panel(ax, series, title: str, ylabel: str) -> None:
    """Draw ``series`` (after :func:`_merged`) on a log–log panel, its legend outside the data (right)."""
    series = _merged(series)
    for label, xs, ys, st in series:
        ax.plot(xs, ys, label=label, ms=4, **st)
    ax.set(xscale="log", yscale="log", xlabel="N (vectors)", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)


def draw_figures(report: dict, folder: Path) -> list[str]:
    """time (per update), runs (whole force-loosening runs), energy (per update) and quality: one panel per
    D (time: two, the whole update and the core alone), laid out for :data:`MAX_SERIES` series each, told
    apart by colour and marker, with the legend outside the data."""
    import matplotlib

    matplotlib.use("Agg")
    series = _Series(report)
    names = []
    for stem, draw in (("time", _time_figure), ("runs", _runs_figure), ("energy", _energy_figure)):
        names += _save(draw(series), folder, stem)
    names += _save(_quality_figure(report), folder, "quality")
    return names


class _Series:
    """The report's software and board rows as plot series (label, N, values, style), one style per board."""

    def __init__(self, report: dict):
        self.report = report
        self.software = report["software"]
        self.dims = sorted({r["dim"] for r in self.software})
        self.cores = max(r["threads"] for r in self.software)
        self.boards = sorted({r["board"] for r in report["hardware"] if r["fits"]})
        self.board_style = {
            b: dict(zip(("color", "marker"), _BOARD_STYLES[i % len(_BOARD_STYLES)]), linestyle="-")
            for i, b in enumerate(self.boards)
        }

    @staticmethod
    def style(threads: int) -> dict:
        return dict(zip(("color", "marker", "linestyle"), _SOFTWARE_STYLES[threads != 1]))

    def sw(self, d: int, threads: int, key: str, label: str) -> tuple:
        rows = [r for r in self.software if r["dim"] == d and r["threads"] == threads]
        return (label, [r["points"] for r in rows], [r[key] for r in rows], self.style(threads))

    def hw(self, d: int, board: str, key: str, label: str) -> tuple | None:
        rows = [
            r
            for r in self.report["hardware"]
            if r["board"] == board and r["dim"] == d and r["fits"] and r[key] is not None
        ]
        return (label, [r["points"] for r in rows], [r[key] for r in rows], self.board_style[board]) if rows else None

    def grid(self, cols: int):
        import matplotlib.pyplot as plt

        dims = self.dims
        return plt.subplots(len(dims), cols, figsize=(6.2 * cols + 1.2, 3.6 * len(dims)), squeeze=False)


def _time_figure(s: _Series):
    """Time per update: the whole update (core + link) and the core alone, per D."""
    fig, axes = s.grid(2)
    for row, d in zip(axes, s.dims):
        one = s.sw(d, 1, "seconds", "software, 1 thread")
        all_ = s.sw(d, s.cores, "seconds", f"software, {s.cores} threads")
        whole = [x for x in (s.hw(d, b, "seconds", b) for b in s.boards) if x]
        core = [x for x in (s.hw(d, b, "compute_s", b) for b in s.boards) if x]
        _panel(row[0], [one, all_, *whole], f"D = {d}: per update, core + link (modelled)", "seconds per update")
        if core:
            _panel(row[1], [one, *core], f"D = {d}: per update, the core alone (modelled)", "seconds per update")
        else:
            row[1].set_axis_off()
            row[1].text(0.5, 0.5, f"no board holds D = {d}", ha="center", va="center", transform=row[1].transAxes)
    return fig


def _runs_figure(s: _Series):
    """Whole runs: K force-loosening iterations, software against host-run and on-chip loosening."""
    runs, boards, cores = s.report["runs"], s.boards, s.cores
    default = DEFAULT if DEFAULT in boards else next((b for b in boards if not get_board(b).core.loosening), None)
    fig, axes = s.grid(1)
    for (ax,), d in zip(axes, s.dims):
        rows = [r for r in runs["rows"] if r["dim"] == d]
        series = [
            ("software, 1 thread", [r["points"] for r in rows], [r["software_1_s"] for r in rows], s.style(1)),
            (
                f"software, {cores} threads",
                [r["points"] for r in rows],
                [r["software_all_s"] for r in rows],
                s.style(cores),
            ),
        ]
        if default:
            at = [r for r in rows if default in r["boards"]]
            if at:
                series.append(
                    (
                        f"{default}, host-run loosening",
                        [r["points"] for r in at],
                        [r["boards"][default]["host_s"] for r in at],
                        {**s.board_style[default], "linestyle": "-."},
                    )
                )
        for b in boards:
            at = [r for r in rows if "chip" in r["boards"].get(b, {})]
            if at:
                series.append(
                    (
                        f"{b}, on chip",
                        [r["points"] for r in at],
                        [r["boards"][b]["chip"]["seconds"] for r in at],
                        s.board_style[b],
                    )
                )
        _panel(ax, series, f"D = {d}: a whole run of {runs['iterations']} iterations", "seconds per run")
    return fig


def _energy_figure(s: _Series):
    """Energy per update, per D."""
    fig, axes = s.grid(1)
    power = next(r["power"] for r in s.software if r["threads"] == 1)
    for (ax,), d in zip(axes, s.dims):
        one = s.sw(d, 1, "joules", f"software, 1 thread ({power})")
        series = [one, *[x for x in (s.hw(d, b, "joules", f"{b} (modelled)") for b in s.boards) if x]]
        _panel(ax, series, f"D = {d}: energy per update", "joules per update")
    return fig


def _quality_figure(report: dict):
    """Minimum distance against N, one panel per D: float64, each format, the best known."""
    import matplotlib.pyplot as plt

    qdims = sorted({r["dim"] for r in report["quality"]})
    formats = sorted({r["format"] for r in report["quality"] if r["format"]})
    fig, axes = plt.subplots(1, len(qdims), figsize=(4.2 * len(qdims) + 1.6, 3.8), squeeze=False)
    for ax, d in zip(axes[0], qdims):
        _quality_panel(ax, [r for r in report["quality"] if r["dim"] == d], formats, d)
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle("Minimum distance, best of the starts, against the best known")
    return fig


def _quality_panel(ax, rows: list[dict], formats: list[str], d: int) -> None:
    ref = sorted((r["points"], r["min_distance"]) for r in rows if r["backend"] == "reference")
    ax.plot(*zip(*ref), "-", marker="o", ms=4, color="black", label="float64")
    for fmt in sorted({r["format"] for r in rows if r["format"]}):
        pts = sorted((r["points"], r["min_distance"]) for r in rows if r["format"] == fmt)
        color, marker = _BOARD_STYLES[formats.index(fmt)]
        ax.plot(*zip(*pts), linestyle="none", marker=marker, ms=7, mfc="none", color=color, label=f"model {fmt}")
    known = sorted(
        (r["points"], r["best_known_distance"])
        for r in rows
        if r["backend"] == "reference" and r["best_known_distance"] is not None
    )
    if known:  # markers: the table has gaps, a line would invent values
        ax.plot(*zip(*known), linestyle="none", marker="_", ms=16, mew=2, color="tab:gray", label="best known")
    ticks = sorted({r["points"] for r in rows})
    ax.set(xscale="log", xlabel="N (vectors)", ylabel="minimum distance", title=f"D = {d}")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.grid(True, which="both", alpha=0.3)


def _save(fig, folder: Path, stem: str) -> list[str]:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    names = []
    for ext in ("png", "svg"):
        # SVG without a date or random ids, so that the same report gives the same file; the legends
        # outside the axes are kept inside the image.
        meta = {"Date": None} if ext == "svg" else {}
        fig.savefig(folder / f"{stem}.{ext}", dpi=120, metadata=meta, bbox_inches="tight")
        names.append(f"{stem}.{ext}")
    plt.close(fig)
    return names
