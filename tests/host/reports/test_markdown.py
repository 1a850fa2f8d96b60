"""The report's text (:mod:`~spherecode.host.reports.markdown`): what ``report.md`` states, and no partial
report on an interrupt."""

import pytest

from spherecode.host.reports import markdown


def test_markdown_states_the_results(report):
    _, r, out = report
    text = (out / "report.md").read_text()
    assert "![time per update](time.svg)" in text and "(18 ÷ 24)×" in text
    assert text.count("**pass**") == 2 and "FAIL" not in text
    assert "N > Nmax = 1024" in text and "measured" in text and "modelled" in text
    assert r["command_line"].split(" --out ")[0] in text


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    report = {"x": 1}

    def boom(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(markdown, "draw_figures", boom)
    with pytest.raises(KeyboardInterrupt):
        markdown.write_report(report, tmp_path / "out", "spherecode compare")
    assert list(tmp_path.iterdir()) == []
