"""The configuration of the one `spherecode compare` run that the report's tests share (smaller than
--quick): its first board and its command line."""

from spherecode.boards import get_board

BOARD = get_board("ulx3s-85f")
ARGV = [
    "compare",
    "--quick",
    "--board",
    "ulx3s-85f",
    "--board",
    "icebreaker",
    "--points",
    "4",
    "64",
    "1024",
    "2048",
    "--quality-points",
    "6",
    "--quality-dims",
    "3",
    "--starts",
    "2",
    "--iters",
    "30",
    "--jobs",
    "1",
]
