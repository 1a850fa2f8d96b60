"""The report's checks in the same run (:mod:`~spherecode.host.reports.checks`): the cycle formula against the
RTL's counter, the link model's bytes against the twin's, and the simulators they build."""

from spherecode.boards import get_board
from spherecode.host.reports import checks
from spherecode.hw.config import CoreConfig

from .report_run import BOARD
from .test_hwtime import protocol_bytes


def test_checks_pass_with_their_numbers(report):
    _, r, _ = report
    (cyc,) = r["checks"]["cycles"]
    assert cyc["passed"] and cyc["counter"] == cyc["formula"] == CoreConfig(
        BOARD.fmt, checks.CHECK_NMAX, BOARD.dmax, BOARD.lanes
    ).cycles(cyc["points"], cyc["dim"])
    (link,) = r["checks"]["link"]
    assert link["passed"] and link["bytes_measured"] == link["bytes_model"] == protocol_bytes(
        BOARD, link["points"], link["dim"]
    )
    assert link["bytes_written"] + link["bytes_read"] == link["bytes_measured"]
    assert link["cycles_counter"] == link["cycles_formula"]


def test_the_simulators_the_checks_build_are_named_and_built_once_each():
    boards = [get_board(b) for b in ("ulx3s-85f", "ecpix5-85f", "icebreaker", "ulx3s-85f-loosening")]
    names = [name for name, _ in checks.board_simulators(boards)]
    assert names == [
        "core Q3.44, 2 lane(s)",
        "core Q3.44, 1 lane(s), loosening",
        "ulx3s-85f's twin",
        "ecpix5-85f's twin",
        "ulx3s-85f-loosening's twin",
    ]
    assert [checks.build_workers(c) for c in (1, 2, 3, 16)] == [1, 1, 1, 8]
    built, steps = [], []
    checks.build_simulators([(str(k), lambda k=k: built.append(k)) for k in range(3)], 4, lambda k=1: steps.append(k))
    assert sorted(built) == [0, 1, 2] and steps == [1, 1, 1]
