"""``spherecode flash``: the bitstream it takes by default, and its result, with a stand-in openFPGALoader (the
loader's diagnoses: tests/boards/test_flash.py)."""

import json

from spherecode.boards import DEFAULT, get_board
from spherecode.host.cli import main

from ...boards.test_flash import fake_loader


def test_the_default_bitstream_is_the_boards_build(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["flash", "--board", DEFAULT]) == 2
    bitstream = f"build/{DEFAULT}/{get_board(DEFAULT).bitstream_name}"
    assert capsys.readouterr().err == (
        f"spherecode: error: no bitstream at {bitstream}: run `spherecode build --board {DEFAULT}` first\n"
    )


def test_json_and_text_of_a_programmed_board(tmp_path, monkeypatch, capsys):
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\xff" * 16)
    monkeypatch.setenv("OPENFPGALOADER", fake_loader(tmp_path, "Load SRAM: [====] 100.00%", 0))
    assert main(["flash", "--board", DEFAULT, "--bitstream", str(bit), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r == {"command": "flash", "board": DEFAULT, "bitstream": str(bit), "message": "Load SRAM: [====] 100.00%"}
    assert main(["flash", "--board", DEFAULT, "--bitstream", str(bit), "--persist"]) == 0
    assert capsys.readouterr().out == f"spherecode flash: {DEFAULT} programmed from {bit}: Load SRAM: [====] 100.00%\n"
    assert (tmp_path / "args").read_text().split() == ["-b", "ulx3s", "-f", str(bit)]  # --persist: the flash
