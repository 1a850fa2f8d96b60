"""The ``sim`` backend: every update runs on the RTL (:class:`~spherecode.hw.core.UpdaterCore`) under
Verilator, through cocotb. One simulator process serves all updates of a backend over two named pipes
(:mod:`spherecode.sim.tb_core`); builds are cached per configuration (:mod:`spherecode.sim.build`)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..host.backend import Update
from ..hw.core import UpdaterCore
from ..hw.fixed import Q
from .build import build

__all__ = ["SimBackend"]


class SimBackend:
    """Parameters: ``fmt`` (coordinate format), ``nmax``, ``dmax``, ``lanes`` — the hardware simulated."""

    name = "sim"

    def __init__(self, fmt: str | Q = "Q3.44", nmax: int = 64, dmax: int = 3, lanes: int = 1, **_):
        self.core = UpdaterCore(Q.parse(fmt) if isinstance(fmt, str) else fmt, nmax, dmax, lanes)
        self.dp = self.core.dp
        self._server = None
        self._sim = build(self.core)  # at construction, so that no update's time includes a build

    def _start(self):
        sim = self._sim
        self._work = tempfile.TemporaryDirectory(prefix="spherecode-simb-")
        req, resp = Path(self._work.name) / "req", Path(self._work.name) / "resp"
        os.mkfifo(req)
        os.mkfifo(resp)
        env = {"SPHERECODE_TB_REQ": str(req), "SPHERECODE_TB_RESP": str(resp)}
        self._error = None

        def serve():
            try:
                sim.run("spherecode.sim.tb_core", env, log=Path(self._work.name) / "sim.log")
            except Exception as exc:  # reported by the next request
                self._error = exc

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        self._req = open(req, "w")
        self._resp = open(resp)
        self._server = True

    def close(self):
        if self._server:
            self._req.write(json.dumps({"quit": True}) + "\n")
            self._req.close()
            self._thread.join(timeout=30)
            self._resp.close()
            self._work.cleanup()
            self._server = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def exchange(self, n: int, d: int, half_beta: int, step: int, coords: np.ndarray) -> dict:
        """One iteration on the simulated core with raw inputs, unchecked; returns the testbench's answer.
        Raises ``ValueError`` when the core refuses the configuration (its ``error`` flag)."""
        if not self._server:
            self._start()
        mask = (1 << self.dp.fmt.width) - 1
        req = {"n": n, "d": d, "half_beta": half_beta, "step": step,
               "coords": [format(int(x) & mask, "x") for x in coords]}
        self._req.write(json.dumps(req) + "\n")
        self._req.flush()
        line = self._resp.readline()
        if not line:
            raise RuntimeError(f"the simulator stopped: {self._error}")
        ans = json.loads(line)
        if ans["error"]:
            raise ValueError(ans["error"])
        return ans

    def update(self, vectors: np.ndarray, beta: float) -> Update:
        dp = self.dp
        n, d = vectors.shape
        raw, hb, c = dp.inputs(vectors, beta)
        ans = self.exchange(n, d, hb, c, raw.ravel())
        out = np.array([int(c, 16) for c in ans["coords"]], dtype=np.int64)
        out = np.where(out >> (dp.fmt.width - 1), out - (1 << dp.fmt.width), out).reshape(n, d)
        return Update(
            out * dp.fmt.ulp,
            int(ans["move_norm"], 16) * dp.s_fmt.ulp,
            None,
            {"cycles": ans["cycles"], "delta_min": int(ans["delta_min"], 16) * dp.d2_fmt.ulp},
        )
