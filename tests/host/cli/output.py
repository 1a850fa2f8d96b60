"""What the command tests share: the fields every run-like JSON result has, and a command's one JSON line."""

import json

from spherecode.host.cli import main


RUN_FIELDS = {
    "backend",
    "dim",
    "points",
    "iterations",
    "starts",
    "seed",
    "min_distance",
    "min_angle_deg",
    "best_known_angle_deg",
    "seconds",
}


def run_json(capsys, *argv):
    assert main(list(argv) + ["--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)
