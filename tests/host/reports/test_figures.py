"""The report's figures (:mod:`~spherecode.host.reports.figures`): one per kind, few distinct series, the legend
outside."""

import json

from spherecode.host.reports import figures as figs


def test_merged_folds_only_series_that_coincide():
    a = ("a", [1, 2], [1.0, 10.0], {"color": "k"})
    b = ("b", [1, 2], [1.05, 10.5], {"color": "r"})
    c = ("c", [1, 2], [1.0, 20.0], {"color": "g"})
    d = ("d", [1, 3], [1.0, 10.0], {"color": "b"})
    assert [s[0] for s in figs._merged([a, b, c, d])] == ["a\n= b", "c", "d"]


def test_figures_one_per_kind_few_distinct_series_legend_outside(tmp_path, monkeypatch):
    # The shipped full report: every board, two D, four quality D.
    from pathlib import Path

    shipped = json.loads((Path(__file__).resolve().parents[3] / "docs" / "report" / "report.json").read_text())
    figures = {}  # drawn, not saved (test_files_and_json checks the files)
    monkeypatch.setattr(figs, "_save", lambda fig, folder, stem: [figures.setdefault(stem, fig) and stem])
    assert figs.draw_figures(shipped, tmp_path) == ["time", "runs", "energy", "quality"]
    for stem, fig in figures.items():
        fig.canvas.draw()
        for ax in fig.axes:
            lines = [l for l in ax.get_lines() if not l.get_label().startswith("_")]
            assert len(lines) <= figs.MAX_SERIES, (stem, [l.get_label() for l in lines])
            styles = [(l.get_color(), l.get_marker()) for l in lines]
            assert len(set(styles)) == len(styles), (stem, styles)
            legend = ax.get_legend()
            if legend is not None:  # outside the data: left of it nothing, right of the axes
                assert legend.get_window_extent().x0 >= ax.get_window_extent().x1, stem
