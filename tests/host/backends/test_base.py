"""The backend interface: the registry, each backend's own options and reports, and the import graph
(host never imports sim at import time)."""

import argparse
import pickle
import subprocess
import sys

import numpy as np
import pytest

from spherecode.host.backends import BACKENDS, backend_class, get_backend
from spherecode.host.backends.base import Backend, Update, add_shared, loosening_mode
from spherecode.host.backends.reference import random_start
from spherecode.host.sweeps.starts import StartTask
from spherecode.hw.config import CoreConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    p.add_argument("--dim", type=int)
    p.add_argument("--points", type=int)
    for name in BACKENDS:
        backend_class(name).add_arguments(p)
    return p


def test_registry_gives_classes_by_name():
    assert set(BACKENDS) == {"reference", "model", "sim", "board"}
    for name in BACKENDS:
        cls = backend_class(name)
        assert cls.name == name and Backend in cls.__mro__  # the protocol's defaults are inherited
    with pytest.raises(ValueError, match="unknown backend 'gpu' \\(available: reference, model, sim, board\\)"):
        backend_class("gpu")


def test_every_option_is_declared_once_and_shared_ones_mean_the_same():
    p = parser()
    flags = [s for a in p._actions for s in a.option_strings]
    assert len(flags) == len(set(flags))
    for flag in ("--format", "--lanes", "--port", "--baud", "--timeout", "--retries", "--loosening"):
        assert flag in flags
    args = p.parse_args(["--dim", "3", "--points", "5"])
    assert (args.format, args.lanes, args.port, args.baud, args.timeout, args.retries) == (
        None,
        None,
        None,
        3_000_000,
        5.0,
        3,
    )
    assert args.loosening is None  # each backend's own default
    add_shared(p, "--format", help="declared again")  # a second declaration is a no-op
    assert [a for a in p._actions if "--format" in a.option_strings][0].help != "declared again"


def test_options_build_each_backend():
    args = parser().parse_args(["--dim", "4", "--points", "100", "--format", "Q2.20", "--lanes", "2"])
    assert backend_class("reference").options(args, 3) == {"threads": 3}
    model = backend_class("model").options(args, 2)
    assert model == {"config": CoreConfig("Q2.20", 128, 4, 2), "threads": 2, "loosening": "chip"}
    assert backend_class("sim").options(args, 2) == {"config": CoreConfig("Q2.20", 128, 4, 2), "loosening": "host"}
    backend = backend_class("model").from_args(args, 2)
    assert backend.config == CoreConfig("Q2.20", 128, 4, 2) and backend.threads == 2
    update = get_backend("model", **model).update(random_start(5, 4, np.random.default_rng(0)), 8.0)
    assert isinstance(update, Update) and update.stats["cycles"] == model["config"].cycles(5, 4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "Q2.16"], "17 ≤ f ≤ 48"),
        (["--format", "UQ3.44"], "signed"),
        (["--lanes", "17"], "lanes must be in 1..16, not 17"),
        (["--lanes", "x"], "--lanes must be an integer, got 'x'"),
        (["--baud", "10"], "--baud must be in 300 … 2147483647"),
    ],
)
def test_option_types_refuse_with_one_line(argv, message):
    with pytest.raises(argparse.ArgumentError, match=message):
        parser().parse_args(["--dim", "3", "--points", "5", *argv])


def test_reports():
    stats = {"updates": 4, "cycles": 400, "update_seconds": 2.0}
    assert backend_class("reference").report({"threads": 1}, stats) == {"format": None, "lanes": None}
    config = CoreConfig("Q2.20", 64, 3, 2)
    assert backend_class("model").report({"config": config}, stats) == {
        "format": "Q2.20",
        "lanes": 2,
        "cycles_per_iteration": 100.0,
        "loosening": "host",
        "cycles_per_loosening_iteration": 200.0,
    }
    chip = {"iterations": 4, "cycles": 490, "load_cycles": 90, "sweep_seconds": 1.0}
    assert backend_class("model").report({"config": config, "loosening": "chip"}, chip) == {
        "format": "Q2.20",
        "lanes": 2,
        "loosening": "chip",
        "cycles_per_loosening_iteration": 100.0,
    }
    assert backend_class("model").report({"config": config, "loosening": "chip"}, stats) == {  # bench: updates
        "format": "Q2.20",
        "lanes": 2,
        "loosening": "chip",
        "cycles_per_iteration": 100.0,
    }
    assert backend_class("sim").report({"config": config}, stats) == {
        "format": "Q2.20",
        "lanes": 2,
        "cycles_per_iteration": 100.0,
        "sim_cycles_per_second": 200.0,
        "loosening": "host",
        "cycles_per_loosening_iteration": 200.0,
    }
    assert backend_class("board").report({"config": config}, {"updates": 0}) == {
        "format": "Q2.20",
        "lanes": 2,
        "loosening": "host",
    }


def test_class_attributes():
    board, model, reference = (backend_class(n) for n in ("board", "model", "reference"))
    assert not board.parallel and board.fixed_config
    assert model.parallel and not model.fixed_config and model.beta_range == (2.0, 131072.0)
    assert reference.beta_range is None


def test_start_tasks_pickle_with_their_options():
    args = parser().parse_args(["--dim", "3", "--points", "5"])
    task = StartTask("model", 3, 5, 10, 0, 0, 1, backend_class("model").options(args, 1))
    again = pickle.loads(pickle.dumps(task))
    assert again == task and again.options["config"].tail == CoreConfig().tail


def test_board_options_need_a_port():
    from spherecode.host.link import BoardError

    args = parser().parse_args(["--dim", "3", "--points", "5"])
    with pytest.raises(BoardError, match="needs --port"):
        backend_class("board").options(args, 1)


def test_the_simulator_is_imported_only_when_its_backend_is_asked_for():
    """The command line and the backend registry leave the sim backend and the simulator's build machinery
    unimported (the registry names each backend by module path and imports it when asked for it)."""
    code = (
        "import sys\n"
        "import spherecode.host.cli\n"
        "from spherecode.host.backends import backend_class\n"
        "loaded = {'spherecode.host.backends.sim', 'spherecode.sim.verilator'} & set(sys.modules)\n"
        "assert not loaded, sorted(sys.modules)\n"
        "backend_class('sim')\n"
        "assert 'spherecode.host.backends.sim' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loosening_mode_defaults_per_backend_and_refuses_what_it_lacks():
    args = parser().parse_args(["--dim", "3", "--points", "9"])
    assert loosening_mode(args, "x") == "host" and loosening_mode(args, "x", ("chip", "host")) == "chip"
    args = parser().parse_args(["--dim", "3", "--points", "9", "--loosening", "host"])
    assert loosening_mode(args, "x", ("chip", "host")) == "host"
    args = parser().parse_args(["--dim", "3", "--points", "9", "--loosening", "chip"])
    with pytest.raises(
        ValueError,
        match="--loosening chip is not offered by backend reference \\(only host\\); "
        "on-chip loosening runs on --backend model, sim, or a board that offers it",
    ):
        backend_class("reference").options(args, 1)
    assert backend_class("model").options(args, 1)["loosening"] == "chip"
    assert backend_class("sim").options(args, 1)["loosening"] == "chip"
    assert backend_class("sim").options(parser().parse_args(["--dim", "3", "--points", "9"]), 1)["loosening"] == "host"
