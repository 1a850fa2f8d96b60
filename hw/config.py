"""CoreConfig: the elaboration parameters of one updater core — coordinate format, Nmax, Dmax, lanes —
with their checks, the exact cycle formula, the block-RAM sizing rule and the IDENTIFY encoding.

It is the one place these four are defaulted and checked: :class:`~.core.UpdaterCore`,
:class:`~.board.BoardTop`, :class:`~.host_link.HostLink`'s identity, the board configurations, the host's
link (:class:`spherecode.host.link.Identity`), the bit-exact model and the ``sim`` backend all take a
``CoreConfig``.

The cycle count of one iteration, ``start`` to ``done`` with coordinates offered back to back, is
(docs/architecture.md)::

    cycles(N, D) = N·D + N·max(⌈N/L⌉, C) + ⌈N/L⌉ + T,    T = VectorUpdater.tail + 2

N·D is the load through the S/P converter; each of the N rows takes max(⌈N/L⌉, C) cycles, where C
(:attr:`~.vector_updater.VectorUpdater.row_min`) is the per-vector step's interval (a row shorter than it
waits); ⌈N/L⌉ is the last row's read; and the tail T is read from the RTL's own latency attribute
(:attr:`~.vector_updater.VectorUpdater.tail`: force path + per-vector step + output) plus the core's two
cycles (the S/P converter's register and ``done``). The RTL tests check the core's
cycle counter against :meth:`CoreConfig.cycles` for every tested (N, D, L).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from math import ceil

from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .datapath import Datapath, MIN_FRACTION
from .fixed import Q
from .units.multiplier import DSP_KINDS

__all__ = ["CoreConfig", "MAX_FRACTION", "NMAX_LIMIT", "DMAX_LIMIT", "BlockRAM", "ECP5_EBR", "ICE40_EBR", "GW5A_BSRAM"]

#: Most fraction bits the units build for (their tables and products are sized up to Q·.48).
MAX_FRACTION = 48
#: Most vectors a core holds: the paper's largest configuration (16384 at D ≤ 6); IDENTIFY sends Nmax in
#: two bytes.
NMAX_LIMIT = 16384
#: Most coordinates per vector: |F̂|² < Dmax must fit the datapath's UQ3.f (:class:`~.datapath.Datapath`).
DMAX_LIMIT = 7


@dataclass(frozen=True)
class BlockRAM:
    """One FPGA family's block RAM: ``bits`` per block and the (depth, width) shapes one block can take."""

    family: str
    bits: int
    shapes: tuple[tuple[int, int], ...]

    def blocks(self, depth: int, width: int) -> int:
        """Blocks for a memory of ``depth`` words of ``width`` bits: the cheapest tiling by one shape. yosys
        may mix shapes across the width and use fewer (3072×22: 5 DP16KD, not 6; docs/architecture.md), so
        this errs on the safe side."""
        return min(ceil(depth / d) * ceil(width / w) for d, w in self.shapes)


#: ECP5 DP16KD (18 kbit): 16384×1 … 1024×18 true dual port, 512×36 pseudo dual port (Lattice TN1264,
#: "ECP5 and ECP5-5G Memory Usage Guide", sysMEM EBR configurations).
ECP5_EBR = BlockRAM("ecp5", 18432, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)))
#: iCE40 SB_RAM40_4K (4 kbit): 256×16, 512×8, 1024×4, 2048×2 (Lattice TN1250, "Memory Usage Guide for
#: iCE40 Devices").
ICE40_EBR = BlockRAM("ice40", 4096, ((256, 16), (512, 8), (1024, 4), (2048, 2)))
#: GW5A BSRAM (18 kbit): 16384×1 … 1024×18 dual port, 512×36 semi-dual port (Gowin UG300, "Gowin BSRAM &
#: SSRAM User Guide", BSRAM configurations).
GW5A_BSRAM = BlockRAM("gw5a", 18432, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)))


@dataclass(frozen=True)
class CoreConfig:
    """One updater core's elaboration parameters.

    Parameters
    ----------
    fmt : Q or str
        Coordinate format, a signed Qi.f with i ≥ 2 and 17 ≤ f ≤ 48 (a string such as ``"Q3.44"`` is
        parsed). Default Q3.44, the paper's.
    nmax : int
        Most vectors per iteration, 2 … 16384.
    dmax : int
        Most coordinates per vector, 2 … 7.
    lanes : int
        Pairs per cycle (the vector memory is banked by i mod L): what
        :class:`~.vector_updater.VectorUpdater` builds for.
    loosening : bool
        Whether the core runs force loosening on chip (both candidates in one sweep, three vector sets,
        :class:`~.loosening.LooseningControl`; :class:`~.core.UpdaterCore`'s ``loosen`` ports). Default
        False: the one-candidate core, whose DSP and memory counts the boards are sized for.
    dsp : str
        How the core's wide products are built (:mod:`~.multiplier`): ``"infer"`` (the default: ``*``
        products, which yosys maps to DSP blocks, as on ECP5) or ``"gw5a"`` (hand-instantiated GW5A
        ``MULTALU27X18`` blocks, which yosys does not infer). The same results and cycle counts.

    Every check raises ``ValueError`` ("…, not {x!r}"). Instances are immutable, hashable and pickle as
    their six fields; :attr:`datapath` and :attr:`tail` are computed once.
    """

    fmt: Q = Q(3, 44)
    nmax: int = 64
    dmax: int = 3
    lanes: int = 1
    loosening: bool = False
    dsp: str = "infer"
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        fmt = self.fmt
        if isinstance(fmt, str):
            fmt = Q.parse(fmt)
            object.__setattr__(self, "fmt", fmt)
        if not isinstance(fmt, Q):
            raise ValueError(f"fmt must be a Q or a string such as 'Q3.44', not {fmt!r}")
        if not fmt.signed or fmt.i < 2 or not MIN_FRACTION <= fmt.f <= MAX_FRACTION:
            raise ValueError(
                f"fmt must be a signed Qi.f with i ≥ 2 and {MIN_FRACTION} ≤ f ≤ {MAX_FRACTION} "
                f"(the widths the units build for), not {str(fmt)!r}"
            )
        if not _integer(self.nmax) or not 2 <= self.nmax <= NMAX_LIMIT:
            raise ValueError(f"nmax must be an integer in 2..{NMAX_LIMIT}, not {self.nmax!r}")
        if not _integer(self.dmax) or not 2 <= self.dmax <= DMAX_LIMIT:
            raise ValueError(
                f"dmax must be an integer in 2..{DMAX_LIMIT} (the datapath supports D ≤ "
                f"{DMAX_LIMIT}), not {self.dmax!r}"
            )
        if not _integer(self.lanes) or self.lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {self.lanes!r}")
        if not isinstance(self.loosening, bool):
            raise ValueError(f"loosening must be True or False, not {self.loosening!r}")
        if not isinstance(self.dsp, str) or self.dsp not in DSP_KINDS:
            raise ValueError(f"dsp must be 'infer' or 'gw5a', not {self.dsp!r}")
        self._updater()  # the vector updater decides which lane counts it builds for

    def __reduce__(self):
        return (CoreConfig, (self.fmt, self.nmax, self.dmax, self.lanes, self.loosening, self.dsp))

    @property
    def datapath(self) -> Datapath:
        """The :class:`~.datapath.Datapath` (units and formats) of this configuration."""
        if "datapath" not in self._derived:
            self._derived["datapath"] = Datapath(self.fmt, self.nmax, self.dmax, dsp=self.dsp)
        return self._derived["datapath"]

    def _updater(self):
        if "updater" not in self._derived:
            from .dataflow.vector_updater import VectorUpdaterParameters

            try:
                self._derived["updater"] = VectorUpdaterParameters(
                    self.datapath, self.lanes, 2 if self.loosening else 1
                )
            except ValueError as exc:
                message = str(exc).rstrip(".")
                raise ValueError(
                    message if repr(self.lanes) in message.split()[-1:] else f"{message}, not {self.lanes!r}"
                ) from None
        return self._derived["updater"]

    @property
    def signature(self) -> wiring.Signature:
        """The ports of this configuration's :class:`~.core.UpdaterCore` (described there)."""
        from .dataflow.loosening_control import N_BITS

        dp, nmax, dmax = self.datapath, self.nmax, self.dmax
        members = {
            "i": In(stream.Signature(self.fmt.shape())),
            "o": Out(stream.Signature(self.fmt.shape())),
            "n": In(range(1 << (nmax.bit_length() + 1))),
            "d": In(range(1 << ((dmax + 1).bit_length()))),
            "half_beta": In(dp.half_beta_fmt.shape()),
            "step": In(dp.step_fmt.shape()),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
            "cycles": Out(48 if self.loosening else 32),
            "move_norm": Out(dp.s_fmt.shape()),
            "delta_min": Out(dp.d2_fmt.shape()),
        }
        if self.loosening:
            members.update(
                {
                    "loosen": In(1),
                    "iterations": In(32),
                    "loosen_n": In(N_BITS),
                    "loosen_l": In(self.control.l_width),
                    "progress": Out(32),
                    "state_n": Out(N_BITS),
                    "state_l": Out(self.control.l_width),
                }
            )
        return wiring.Signature(members)

    def create(self):
        """A new :class:`~.core.UpdaterCore` of this configuration."""
        from .dataflow.core import UpdaterCore

        return UpdaterCore(self)

    @property
    def updater(self):
        """The configuration's :class:`~.vector_updater.VectorUpdaterParameters`:
        its lane check, row length and latencies are the source of :meth:`cycles`."""
        return self._updater()

    @property
    def tail(self) -> int:
        """T: the cycles after the last row until ``done``, from the RTL's latency attributes."""
        return self._updater().tail + 2

    def cycles(self, n: int, d: int) -> int:
        """The exact cycle count of one iteration (``start`` to ``done``), inputs back to back:
        N·D + N·max(⌈N/L⌉, C) + ⌈N/L⌉ + T, C the per-vector step's interval (a row shorter than C waits;
        the last row's result does not). The core's counter gives exactly this (tested under Verilator)."""
        return n * d + n * self._updater().row_cycles(n) + -(-n // self.lanes) + self.tail

    # ---- on-chip loosening (``loosening=True``): the cycles of a run, exactly (tested under Verilator)

    @property
    def control(self):
        """The core's :class:`~.loosening_control.LooseningControlParameters`, on-chip loosening or not."""
        if "control" not in self._derived:
            from .dataflow.loosening_control import LooseningControlParameters

            self._derived["control"] = LooseningControlParameters(self.datapath)
        return self._derived["control"]

    def iteration_cycles(self, n: int) -> int:
        """Cycles of one on-chip loosening iteration of N vectors, exactly (the RTL's counter, tested under
        Verilator): N·max(⌈N/L⌉, C) + ⌈N/L⌉ + (T − 2) + T_L — :meth:`cycles` without its N·D load and the
        core's two cycles (the sweep of both candidates from the vector memory), and T_L =
        ``LooseningControl.latency`` + 1: the choice (the cycle after the sweep's last step) and the next
        constants (the next sweep starts the cycle they are ready). Always of the loosening core (this
        configuration with ``loosening=True``): only it runs these iterations, and its rows and tail are its
        own (one per-vector step serves both candidates)."""
        core = self if self.loosening else dataclasses.replace(self, loosening=True)
        return core._updater().sweep_cycles(n) + self.control.latency + 1

    def run_cycles(self, n: int, d: int, iterations: int) -> int:
        """The exact cycle count of a whole on-chip run (``start`` to ``done``, coordinates offered back to
        back as for :meth:`cycles`), tested under Verilator: max(N·D + 3, ``LooseningControl.load_latency``)
        + K·:meth:`iteration_cycles` + N + 2. The first term loads the vectors while the control takes the
        run's start state (n, l and the first constants; the first sweep starts when both are done); the
        last streams the kept vectors into the output buffer (N reads, ``done`` after the last)."""
        prelude = max(n * d + 3, self.control.load_latency)
        return prelude + iterations * self.iteration_cycles(n) + n + 2

    def load_cycles(self, n: int, d: int, iterations: int) -> int:
        """The cycles of a whole on-chip run outside its iterations (the load and the kept vectors out):
        :meth:`run_cycles` less K·:meth:`iteration_cycles`."""
        return self.run_cycles(n, d, iterations) - iterations * self.iteration_cycles(n)

    def fits(self, n: int, d: int) -> bool:
        """Whether the core computes N vectors of D coordinates (2 ≤ N ≤ Nmax, 2 ≤ D ≤ Dmax)."""
        return 2 <= n <= self.nmax and 2 <= d <= self.dmax

    # ---- block RAM: the sizing rule

    def vector_memory_blocks(self, ram: BlockRAM = ECP5_EBR) -> int:
        """Blocks of ``ram`` that the memories sized by Nmax take on a board: the updater's L banks
        (⌈Nmax/L⌉ vectors of Dmax·W bits each), the P/S converter's output buffer (Nmax vectors) and the
        host link's vector buffer (Nmax·Dmax coordinates of W bits), W the coordinate width. The units'
        tables and the small FIFOs do not depend on Nmax and are not counted here."""
        return _memory_blocks(self.fmt.width, self.nmax, self.dmax, self.lanes, ram)

    @classmethod
    def sized(
        cls, fmt: Q | str, dmax: int, lanes: int, blocks: int, reserved: int, ram: BlockRAM = ECP5_EBR
    ) -> CoreConfig:
        """The configuration with the largest Nmax whose vector memories
        (:meth:`vector_memory_blocks`) fit the ``blocks`` − ``reserved`` blocks of ``ram`` a board leaves
        them — ``reserved``: what the rest of the design takes (its tables; measured by
        ``spherecode build``) — and whose Nmax·Dmax coordinates a LOAD/READ index (two bytes,
        docs/protocol.md) can number; at most :data:`NMAX_LIMIT`. ``ValueError`` when not even Nmax = 2
        fits."""
        base = cls(fmt, 2, dmax, lanes)
        free = blocks - reserved

        def fits(nmax: int) -> bool:
            return nmax * dmax <= 1 << 16 and _memory_blocks(base.fmt.width, nmax, dmax, lanes, ram) <= free

        if not fits(2):
            raise ValueError(
                f"no Nmax fits {free} free blocks for {base.fmt}, Dmax {dmax}, {lanes} lane(s), "
                f"not {blocks!r} blocks less {reserved!r} reserved"
            )
        low, high = 2, NMAX_LIMIT + 1  # fits(low), and the answer is below high; block counts grow with Nmax
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if fits(mid) else (low, mid)
        return cls(base.fmt, low, dmax, lanes)

    # ---- IDENTIFY (docs/protocol.md): format i, format f, lanes, Dmax, Nmax (2 bytes, little-endian)

    IDENTIFY_BYTES = 6

    def to_identify(self) -> bytes:
        """The core's fields of the IDENTIFY payload."""
        return bytes([self.fmt.i, self.fmt.f, self.lanes, self.dmax]) + self.nmax.to_bytes(2, "little")

    @classmethod
    def from_identify(cls, fields: bytes) -> CoreConfig:
        """The configuration a board reports in its IDENTIFY payload's core fields (:meth:`to_identify`);
        ``ValueError`` when they are not a configuration this host can compute with."""
        if len(fields) != cls.IDENTIFY_BYTES:
            raise ValueError(f"the IDENTIFY core fields are {cls.IDENTIFY_BYTES} bytes, not {len(fields)!r}")
        i, f, lanes, dmax = fields[:4]
        return cls(Q(i, f), int.from_bytes(fields[4:6], "little"), dmax, lanes)

    def __str__(self) -> str:
        return (
            f"{self.fmt}, Nmax {self.nmax}, Dmax {self.dmax}, {self.lanes} lane(s)"
            + (", on-chip loosening" if self.loosening else "")
            + (", GW5A DSP blocks" if self.dsp == "gw5a" else "")
        )


def _memory_blocks(width: int, nmax: int, dmax: int, lanes: int, ram: BlockRAM) -> int:
    vec = dmax * width
    return lanes * ram.blocks(-(-nmax // lanes), vec) + ram.blocks(nmax, vec) + ram.blocks(nmax * dmax, width)


def _integer(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
