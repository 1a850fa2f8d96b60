"""BoardTop's parameters (the whole top runs in the board twin: tests/boards/test_system_twin.py for the shipped
core, tests/host/link/test_driver.py for a FakeCore with the loosening ports)."""

import re

import pytest

from spherecode.hw.board_link.board_top import BoardTop
from spherecode.hw.config import CoreConfig

from ..board_model import CONFIG, FakeCore


def test_a_given_core_brings_its_configuration():
    core = FakeCore()
    assert BoardTop(core=core).config == CONFIG == BoardTop(CONFIG, core=core).config
    other = CoreConfig("Q2.20", nmax=16, dmax=3)
    message = f"config must be the core's ({CONFIG}) when a core is given, not {other!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BoardTop(other, core=core)
