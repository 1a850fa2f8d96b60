"""`spherecode compare` end to end, once for all the report's test modules: (exit status, JSON result,
report folder)."""

import contextlib
import io
import json

import pytest

from spherecode.host.cli import main

from .report_run import ARGV


@pytest.fixture(scope="session")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    out = folder / "report"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(ARGV + ["--builds", str(folder / "no-builds"), "--out", str(out), "--json"])
    return status, json.loads(stdout.getvalue()), out
