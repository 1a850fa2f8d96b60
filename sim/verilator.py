"""Amaranth → Verilog → a cached Verilator build, and running a cocotb testbench against it.

Builds are cached per configuration: the key is a hash of the generated Verilog, the top-level name and
the Verilator options, so the test suite and the ``sim`` backend build each configuration once. The cache
lives in ``$SPHERECODE_SIM_CACHE`` (default ``~/.cache/spherecode/verilator``). An entry is used only if
its manifest (written last, at the end of a successful build) matches its executable's size and SHA-256;
anything else — an interrupted build, a truncated or deleted executable — is moved aside and rebuilt.

A design that instantiates an FPGA primitive (the GW5A DSP block, :mod:`spherecode.hw.units.multiplier`) is
built with the primitive's simulation model (:data:`PRIMITIVE_MODELS`), whose source is part of the key.

Every failure a user can meet here (no cache folder, a failed build, a simulator that dies or fails) is a
:class:`SimError`, one line naming the log file where there is one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Const, Value

from .process import die_with_parent
from .toolchain import make_vars, setup

__all__ = [
    "SimError",
    "ports",
    "to_verilog",
    "to_rtlil",
    "rtlil_to_verilog",
    "Build",
    "build",
    "spawn",
    "end_process",
    "keep_log",
    "cache_dir",
    "cache_key",
    "cached",
    "compile_model",
    "verilate_main",
    "PRIMITIVE_MODELS",
    "primitive_models",
    "write_models",
]

TOP = "top"
_OPTIONS = ("-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast")
MANIFEST = "manifest.json"
#: Simulation models of the FPGA primitives a design may instantiate, by module name.
PRIMITIVE_MODELS = {"MULTALU27X18": Path(__file__).with_name("gowin_dsp.v")}


class SimError(RuntimeError):
    """A failure of the simulation toolchain or of a simulator, for the user: ``str()`` is one line (it
    names a log file where there is more to read)."""

    def __init__(self, message: str, log: Path | None = None):
        self.log = log
        line = " ".join(str(message).split())
        super().__init__(f"{line} (log: {log})" if log else line)


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


def to_rtlil(component, name: str = TOP, platform=None) -> str:
    """The RTLIL that :func:`to_verilog` translates: pure Python and fast, so a cache key can be computed
    from it without running Yosys. ``platform`` is passed to every ``elaborate()`` (e.g. a
    :class:`~spherecode.hw.pipeline.SimulationPlatform`)."""
    return rtlil.convert(component, name=name, platform=platform, ports=ports(component), emit_src=False)


def rtlil_to_verilog(text: str) -> str:
    """What ``amaranth.back.verilog.convert`` does after generating RTLIL (Yosys: ``proc``, ``write_verilog``)."""
    return verilog._convert_rtlil_text(text)


def primitive_models(text: str) -> dict[str, str]:
    """The simulation models (file name → source) of the primitives that the Verilog or RTLIL ``text``
    instantiates: what a build of it compiles, and part of its cache key."""
    models = {}
    for name, path in PRIMITIVE_MODELS.items():
        if re.search(rf"\b{name}\b", text):
            models[path.name] = path.read_text()
    return models


def write_models(directory: Path, models: dict[str, str]) -> list[str]:
    """Write ``models`` (:func:`primitive_models`) into the build folder ``directory``; their paths, for
    Verilator's command line."""
    for name, source in models.items():
        (directory / name).write_text(source)
    return [str(directory / name) for name in models]


@dataclass(frozen=True)
class Build:
    """A built simulator: its folder and top-level name."""

    directory: Path
    toplevel: str = TOP

    def start(
        self,
        test_module: str,
        work: Path,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        python_path: Sequence[Path] = (),
    ) -> subprocess.Popen:
        """Start the simulator on the cocotb ``test_module`` in the folder ``work`` (results in
        ``work/results.xml``, output in ``log``, default ``work/sim.log``) and return its process: the
        caller owns it and ends it (:func:`end_process`); it gets SIGTERM if the calling thread ends
        first. The command and environment are those of ``cocotb_tools.runner``'s Verilator runner, ``env``
        taking precedence over the inherited environment. The simulator's Python path is ``python_path``
        (the folders of a testbench that is not importable from here, e.g. the tests') before this
        interpreter's ``sys.path``; it runs in ``work``, so the folders are made absolute. Raises
        :class:`SimError` if it cannot start."""
        import cocotb_tools.config as cfg
        import find_libpython

        setup()
        env = {**os.environ, **(env or {})}
        env["PATH"] = env.get("PATH", "") + os.pathsep + str(cfg.libs_dir)
        env["PYTHONPATH"] = os.pathsep.join([*(str(Path(p).resolve()) for p in python_path), *sys.path])
        env["PYGPI_PYTHON_BIN"] = sys.executable
        if "GPI_USERS" not in env:
            libpython = env.get("LIBPYTHON_LOC") or find_libpython.find_libpython()
            if libpython is None:
                raise SimError("cannot find libpython, which cocotb needs to run a simulator")
            env["GPI_USERS"] = f"{libpython};{cfg.pygpi_entry_point()}"
        env.setdefault("COCOTB_TRUST_INERTIAL_WRITES", "1")
        env.update(
            COCOTB_TOPLEVEL=self.toplevel,
            COCOTB_TEST_MODULES=test_module,
            TOPLEVEL_LANG="verilog",
            COCOTB_RESULTS_FILE=str(Path(work) / "results.xml"),
        )
        return spawn(self.directory / self.toplevel, work, env, log)

    def run(
        self,
        test_module: str,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        python_path: Sequence[Path] = (),
    ) -> None:
        """Run the cocotb ``test_module`` (found on ``python_path``, see :meth:`start`) against this build
        and wait for it; raise :class:`SimError` (a ``RuntimeError``) if a test fails or the simulator does,
        naming its log (kept where ``log`` was not given). The temporary folder is removed and the simulator
        ended on every way out, interrupts included."""
        from cocotb_tools.check_results import get_results

        work = _mkdtemp("spherecode-sim-")
        try:
            log = log or work / "sim.log"
            process = self.start(test_module, work, env, log, python_path)
            try:
                status = process.wait()
            finally:
                end_process(process)
            try:
                tests, failed = get_results(work / "results.xml")
            except Exception:  # no results, or unreadable ones: the simulator did not finish
                tests, failed = 0, 0
            if status or not tests or failed:
                raise SimError(
                    f"cocotb: a test failed in {test_module} (simulator exit status {status})", keep_log(log, work)
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)


def spawn(exe: Path, work: Path, env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """Start the simulator executable ``exe`` in the folder ``work`` with exactly the environment ``env``,
    its output (stdout and stderr) in ``log`` (default ``work/sim.log``), in a session of its own (a
    terminal's Ctrl-C reaches the host only, which ends the simulator) and with SIGTERM when the calling
    thread ends. The caller owns the process (:func:`end_process`). Raises :class:`SimError` if it cannot
    start."""
    log = log or Path(work) / "sim.log"
    try:
        with open(log, "wb") as out:
            return subprocess.Popen(
                [str(exe)],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )
    except OSError as exc:
        raise SimError(f"cannot start the simulator {exe}: {exc.strerror or exc}") from None


def end_process(process: subprocess.Popen, grace: float = 0.0) -> None:
    """Wait up to ``grace`` seconds for ``process`` to exit, then SIGTERM it, then SIGKILL it after a
    second; reaps it. Safe while an exception propagates (an interrupt during the wait still ends it)."""
    try:
        if grace > 0 and process.poll() is None:
            process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def keep_log(log: Path, work: Path) -> Path | None:
    """``log`` if it lies outside the temporary folder ``work``; else moved out of it to a file of its
    own in the system's temporary folder, which the caller names in an error. None if there is none."""
    try:
        if not log.is_file():
            return None
        if not log.resolve().is_relative_to(Path(work).resolve()):
            return log
        fd, kept = tempfile.mkstemp(prefix="spherecode-sim-", suffix=".log")
        os.close(fd)
        shutil.move(log, kept)
        return Path(kept)
    except OSError:
        return None


def _mkdtemp(prefix: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=prefix))
    except OSError as exc:
        raise SimError(f"cannot create a temporary folder in {tempfile.gettempdir()}: {exc.strerror or exc}") from None


def build(component, extra_options: tuple[str, ...] = ()) -> Build:
    """Generate Verilog for ``component`` and build it with Verilator, or reuse the cached build. Raises
    :class:`SimError` if the cache cannot be written or the build fails."""
    source = to_verilog(component)
    options = _OPTIONS + tuple(extra_options)
    models = primitive_models(source)

    def fill(staging: Path) -> None:
        (staging / f"{TOP}.v").write_text(source)
        _verilate(staging, options, write_models(staging, models))

    return Build(cached(cache_key(source, TOP, options, *([models] if models else [])), TOP, fill))


def cache_key(*parts) -> str:
    """The cache key of a build made from ``parts`` (JSON-able: Verilog, options, …), the tool versions and
    the make variables. The interpreter (:func:`~spherecode.sim.toolchain.make_vars`) is not part of it."""
    return hashlib.sha256(json.dumps([*parts, _versions(), _MAKE_VARS]).encode()).hexdigest()[:20]


def cached(key: str, target: str, fill: Callable[[Path], None]) -> Path:
    """The cache folder of ``key``, holding the file ``target`` and a manifest that matches it. Otherwise
    ``fill(staging)`` fills a fresh folder with the Verilator toolchain set up; the manifest is written
    and the folder renamed into place (atomically: a concurrent builder of the same key that wins keeps
    its entry, and a broken entry is moved aside first). Raises :class:`SimError` when the cache cannot
    be written or a Verilator or make step fails (its output goes to ``<cache>/<key>.log``)."""
    root = cache_dir()
    directory = root / key
    if _valid(directory, target):
        return directory
    setup()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root))
    except OSError as exc:
        raise SimError(
            f"cannot create the simulator cache {root}: {exc.strerror or exc} (set SPHERECODE_SIM_CACHE)"
        ) from None
    log = root / f"{key}.log"
    try:
        fill(staging)
        _write_manifest(staging, target)
        _install(staging, directory, target)
        log.unlink(missing_ok=True)  # of an earlier failed build
    except subprocess.CalledProcessError as exc:
        try:
            log.write_bytes(f"$ {' '.join(map(str, exc.cmd))}\n".encode() + (exc.stdout or b"") + (exc.stderr or b""))
        except OSError:
            log = None
        raise SimError("Verilator build failed", log) from None
    except OSError as exc:
        raise SimError(f"cannot build in the simulator cache {root}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone once installed
    return directory


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_manifest(directory: Path, target: str) -> None:
    path = directory / target
    manifest = {"target": target, "size": path.stat().st_size, "sha256": _digest(path)}
    (directory / MANIFEST).write_text(json.dumps(manifest))


def _valid(directory: Path, target: str) -> bool:
    """Whether ``directory`` is a complete cache entry: its manifest names ``target`` with its size and
    SHA-256 (hashing costs milliseconds next to a simulator's start)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        path = directory / target
        return (
            manifest["target"] == target
            and path.stat().st_size == manifest["size"]
            and _digest(path) == manifest["sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _install(staging: Path, directory: Path, target: str) -> None:
    """Rename ``staging`` to ``directory``, moving a broken entry there aside first; if a concurrent
    builder installed a valid entry meanwhile, keep that one."""
    for _ in range(5):
        try:
            staging.rename(directory)
            return
        except OSError:  # not empty: a concurrent builder won, or a broken entry is there
            if _valid(directory, target):
                return
        aside = Path(tempfile.mkdtemp(prefix=f"{directory.name}-broken-", dir=directory.parent))
        try:
            directory.rename(aside / "entry")
        except FileNotFoundError:  # another builder moved it
            pass
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    staging.rename(directory)


#: Make variables for the generated C++: optimise the per-cycle code for speed (Verilator's default is -Os:
#: measured 2.9× slower than -O2 on the Q3.44 core; -O3 is 1.17× faster than -O2, docs/benchmarks.md), and
#: fill in CFG_CXXFLAGS_PCH_I, which the wheel's verilated.mk leaves empty (that breaks split builds). No
#: -march: a cached build must run on any machine of the same architecture. Part of every cache key.
_MAKE_VARS = ("OPT_FAST=-O3", "OPT_SLOW=-O1", "CFG_CXXFLAGS_PCH_I=-include")


def verilate_main(
    staging: Path, text: str, main: Path, main_text: str, exe: str, options: tuple[str, ...], models: dict
) -> None:
    """Build a simulator of our own C++ ``main`` (a file beside this module, whose text ``main_text`` is the
    one the caller's cache key holds) around the design ``text`` (RTLIL, as Verilog) in ``staging``: the
    executable ``exe``, with the primitives' ``models``. The build folder is self-contained (the Verilog and
    the main are copied in). Only the top's ports are reachable from C++ (Verilator's default): internals
    stay optimisable."""
    (staging / f"{TOP}.v").write_text(rtlil_to_verilog(text))
    (staging / main.name).write_text(main_text)
    subprocess.run(
        [
            "verilator",
            "--cc",
            "--exe",
            "-Mdir",
            str(staging),
            "--top-module",
            TOP,
            "--prefix",
            "Vtop",
            "-o",
            exe,
            *options,
            str(staging / main.name),
            str(staging / f"{TOP}.v"),
            *write_models(staging, models),
        ],
        check=True,
        capture_output=True,
    )
    compile_model(staging)


def _verilate(directory: Path, options: tuple[str, ...], sources: list[str] = ()) -> None:
    """What cocotb's runner does for Verilator, except that only the top level's ports are made public
    (the runner makes every signal public with ``--public-flat-rw``, which keeps Verilator from
    optimising the design); cocotb needs nothing else."""
    import cocotb_tools.config as cfg

    (directory / "public.vlt").write_text('`verilator_config\npublic_flat_rw -module "top" -var "*"\n')
    libs = cfg.libs_dir
    subprocess.run(
        [
            "verilator",
            "-cc",
            "--exe",
            "-Mdir",
            str(directory),
            "--top-module",
            TOP,
            "--vpi",
            "--prefix",
            "Vtop",
            "-o",
            TOP,
            "-LDFLAGS",
            f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
            *options,
            str(cfg.share_dir / "lib" / "verilator" / "verilator.cpp"),
            str(directory / "public.vlt"),
            str(directory / f"{TOP}.v"),
            *sources,
        ],
        check=True,
        capture_output=True,
    )
    compile_model(directory)


def compile_model(directory: Path) -> None:
    """Compile what Verilator generated in ``directory`` (``--prefix Vtop``) with :data:`_MAKE_VARS` and
    the running interpreter as make's PYTHON3."""
    subprocess.run(
        ["make", "-j", str(os.cpu_count() or 1), "-C", str(directory), "-f", "Vtop.mk", *_MAKE_VARS, *make_vars()],
        check=True,
        capture_output=True,
    )


def _versions() -> list[str]:
    from importlib.metadata import version

    import cocotb_tools.config as cfg

    # The simulator finds cocotb's VPI library by an absolute rpath into one environment: a build made from
    # another (since deleted) venv failed with exit status 127 (measured), so that path is part of the key.
    return [version("verilator"), version("cocotb"), str(cfg.libs_dir), os.environ.get("CXXFLAGS", "")]
