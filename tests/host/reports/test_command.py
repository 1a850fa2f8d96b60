"""The report's command (:func:`~spherecode.host.reports.command.command`): its files and its JSON result."""

import json


def test_files_and_json(report):
    status, r, out = report
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "report.md",
        "report.json",
        *(f"{s}.{e}" for s in ("time", "runs", "energy", "quality") for e in ("png", "svg")),
    }
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["command_line"].startswith("spherecode compare --quick --board ulx3s-85f --board icebreaker")
    assert {k: v for k, v in r.items() if k not in ("out", "files")} == on_disk
    assert (out / "time.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (out / "time.svg").read_bytes()[:400]
    assert not list(out.parent.glob(".report.tmp-*"))
