"""``spherecode compare``'s run: options checked, :func:`~.measure.compare`, :func:`~.markdown.write_report`."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .markdown import fmt_s, write_report
from .measure import compare
from .options import check_out, options_from


def command(args, progress: Callable | None = None) -> tuple[dict, str, int]:
    """``spherecode compare``: (JSON result, text for people, exit status: 0, or 1 if a check failed).
    ``ValueError`` with one line for bad input."""
    options = options_from(args)
    check_out(args.out)
    report = compare(options, progress, say=lambda line: print(line, file=sys.stderr, flush=True))
    report["command_line"] = options.command_line(str(args.out))
    files = write_report(report, args.out, report["command_line"])
    failed = [c for kind in ("cycles", "link") for c in report["checks"][kind] if not c["passed"]]
    text = [f"spherecode compare: {args.out / 'report.md'} ({len(files)} files)"]
    for s in report["speed"]:
        if "speedup_at_largest" not in s:
            text.append(f"  {s['board']}, D = {s['dim']}: {s['note']}")
            continue
        cross = (
            f"faster than 1 thread from N ≈ {s['crossover']:.0f}"
            if s["crossover"] is not None
            else f"not faster than 1 thread up to N = {s['largest_fitting']}"
        )
        text.append(
            f"  {s['board']}, D = {s['dim']}: {cross}; {s['speedup_at_largest']:.3g}× at N = "
            f"{s['largest_fitting']}, asymptotically {s['asymptotic_speedup']:.3g}× (modelled)"
        )
    for s in report["runs"]["summary"]:
        text.append(
            f"  {s['board']}, D = {s['dim']}: a whole run of {report['runs']['iterations']} iterations on chip "
            f"at N = {s['largest_fitting']}: {fmt_s(s['chip_s'])} against {fmt_s(s['software_1_s'])} on "
            f"1 thread, {s['speedup_at_largest']:.3g}× (modelled)"
        )
    text.append(
        "  checks: "
        + ("all passed" if not failed else "FAILED: " + "; ".join(c.get("error") or "mismatch" for c in failed))
    )
    result = {**report, "out": str(args.out), "files": [str(f) for f in files]}
    return result, "\n".join(text), 1 if failed else 0
