"""Power for the comparison report (the paper's Table II): the CPU measured by RAPL where the machine
exposes it, otherwise a per-core figure; a board from a model — its idle power plus dynamic power from
resource counts × energy per resource per cycle × activity. Every constant sits in one table
(:data:`CONSTANTS`), each with its unit, its source and whether it is cited or assumed, and every one can be
overridden (:meth:`PowerModel.with_overrides`, ``spherecode compare --power FILE.json`` or
``--cpu-watts``/``--board-watts``).

Energies are in joules, powers in watts.
"""

from __future__ import annotations

import glob
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Constant", "CONSTANTS", "PowerModel", "Rapl", "rapl", "board_power"]


@dataclass(frozen=True)
class Constant:
    value: float
    unit: str
    kind: str  #: "assumed" or "cited"
    source: str


#: The model's constants. Keys are what ``--power FILE.json`` may override (a flat JSON object of numbers).
CONSTANTS: dict[str, Constant] = {
    "cpu_watts_per_core": Constant(
        5.5,
        "W",
        "assumed",
        "TDP / cores of a 64-core, 350 W 5th-generation Xeon (e.g. Platinum 8592+: 350 W, 64 cores, per the "
        "vendor's specification as listed by serverrental.store/index.php?title=Intel_Xeon_CPUs); this VM shows "
        "'Intel(R) Xeon(R) Processor', family 6 model 207, and no RAPL, so the part and its power are not "
        "known: used only when RAPL cannot be read",
    ),
    "idle_watts.ulx3s-85f": Constant(
        0.20,
        "W",
        "assumed",
        "configured, idle ULX3S-85F (a figure reported as measured elsewhere; no primary source "
        "was found here). For scale, the board's manual (github.com/emard/ulx3s, doc/MANUAL.md, 'Power') "
        "says 5 V / 0.5 A (2.5 W) is enough for a fully loaded board",
    ),
    "idle_watts.ecpix5-85f": Constant(
        0.20,
        "W",
        "assumed",
        "taken equal to the ULX3S-85F's (the same 85k-LUT ECP5 die); the ECPIX-5's other devices (DDR3, "
        "Ethernet PHY) are not counted",
    ),
    "idle_watts.ulx3s-85f-loosening": Constant(
        0.20, "W", "assumed", "the ULX3S-85F's (the same board, configured with the loosening core's bitstream)"
    ),
    "idle_watts.ecpix5-85f-loosening": Constant(
        0.20, "W", "assumed", "the ECPIX-5's (the same board, configured with the loosening core's bitstream)"
    ),
    "idle_watts.ulx3s-25f": Constant(
        0.20,
        "W",
        "assumed",
        "taken equal to the ULX3S-85F's (the same board with the smaller LFE5U-25F, whose static power is lower: "
        "an upper figure); no measurement was found here",
    ),
    "pj_per_cycle.lut4": Constant(
        2.0,
        "pJ",
        "assumed",
        "energy per LUT4 (with its share of routing) per switching event, an order-of-magnitude figure for a "
        "40 nm FPGA; not from a vendor power calculator",
    ),
    "pj_per_cycle.ff": Constant(
        1.0, "pJ", "assumed", "energy per flip-flop per switching event (clock and data), order of magnitude, 40 nm"
    ),
    "pj_per_cycle.dsp": Constant(
        20.0, "pJ", "assumed", "energy per MULT18X18D per 18×18 product, order of magnitude, 40 nm"
    ),
    "pj_per_cycle.bram": Constant(15.0, "pJ", "assumed", "energy per DP16KD access, order of magnitude, 40 nm"),
    "activity.logic": Constant(
        0.125,
        "",
        "assumed",
        "fraction of LUTs and flip-flops switching per cycle while the "
        "core computes (the usual 12.5 % default of FPGA power estimators)",
    ),
    "activity.arith": Constant(
        1.0,
        "",
        "assumed",
        "multipliers and block RAMs are used every cycle while the core computes (the pipeline takes a pair per cycle)",
    ),
}


@dataclass(frozen=True)
class PowerModel:
    """The constants in force: :data:`CONSTANTS` with overrides. ``values[key]`` is a number; ``kinds[key]``
    says ``assumed``, ``cited`` or ``override`` (from the command line or a file)."""

    values: dict[str, float] = field(default_factory=lambda: {k: c.value for k, c in CONSTANTS.items()})
    kinds: dict[str, str] = field(default_factory=lambda: {k: c.kind for k, c in CONSTANTS.items()})

    def with_overrides(self, overrides: dict[str, float], origin: str = "override") -> PowerModel:
        """A copy with ``overrides`` (key → positive finite number; keys of :data:`CONSTANTS`, or
        ``idle_watts.BOARD`` for any board). ``ValueError`` naming the first bad entry."""
        values, kinds = dict(self.values), dict(self.kinds)
        for key, value in overrides.items():
            if key not in CONSTANTS and not key.startswith("idle_watts."):
                raise ValueError(f"unknown power constant {key!r} (known: {', '.join(CONSTANTS)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"power constant {key} must be a non-negative number, not {value!r}")
            values[key], kinds[key] = float(value), origin
        return PowerModel(values, kinds)

    @classmethod
    def from_file(cls, path: str | Path) -> PowerModel:
        """The defaults overridden by a JSON object in ``path``; ``ValueError`` with one line if unreadable."""
        from ..codefile import parse_json, regular_file

        regular_file(Path(path), "--power ")
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ValueError(f"--power {path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # not UTF-8
            raise ValueError(f"--power {path}: not JSON ({exc})") from None
        data = parse_json(text, f"--power {path}")
        if not isinstance(data, dict):
            raise ValueError(f"--power {path}: expected a JSON object of constants, not {type(data).__name__}")
        return cls().with_overrides(data, f"override ({path})")

    def table(self) -> list[dict]:
        """Every constant in force with unit, kind and source (for the report)."""
        rows = []
        for key, value in self.values.items():
            c = CONSTANTS.get(key)
            rows.append(
                {
                    "key": key,
                    "value": value,
                    "unit": c.unit if c else "W",
                    "kind": self.kinds[key],
                    "source": c.source if c and self.kinds[key] == c.kind else self.kinds[key],
                }
            )
        return rows

    def idle_watts(self, board: str) -> float | None:
        return self.values.get(f"idle_watts.{board}")


def board_power(model: PowerModel, board: str, resources: dict[str, int], clock_hz: float) -> dict:
    """A board's modelled power: ``idle_w`` (configured, waiting) and ``compute_w`` = idle + dynamic while
    the core computes, dynamic = clock × Σ_r count_r × energy_r × activity_r over ``resources`` (counts of
    ``lut4``, ``ff``, ``dsp``, ``bram``). ``idle_w`` is None where the model has no idle figure for the
    board."""
    v = model.values
    activity = {
        "lut4": v["activity.logic"],
        "ff": v["activity.logic"],
        "dsp": v["activity.arith"],
        "bram": v["activity.arith"],
    }
    parts = {r: clock_hz * resources.get(r, 0) * v[f"pj_per_cycle.{r}"] * 1e-12 * activity[r] for r in activity}
    idle = model.idle_watts(board)
    dynamic = sum(parts.values())
    return {
        "idle_w": idle,
        "dynamic_w": dynamic,
        "dynamic_parts_w": parts,
        "compute_w": None if idle is None else idle + dynamic,
    }


class Rapl:
    """The CPU package energy counters of Linux's powercap interface (``intel-rapl:N``, top-level zones
    only), read around a piece of work. :attr:`available` is False where none is readable (a VM, no
    permission)."""

    def __init__(self, root: str = "/sys/class/powercap"):
        self.zones = []
        for path in sorted(glob.glob(f"{root}/intel-rapl:*")):
            p = Path(path)
            if p.name.count(":") != 1:  # sub-zones (core, uncore, dram) are inside the package's figure
                continue
            try:
                int((p / "energy_uj").read_text())
                top = int((p / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                continue
            self.zones.append((p / "energy_uj", top))

    @property
    def available(self) -> bool:
        return bool(self.zones)

    def _read(self) -> list[int]:
        return [int(path.read_text()) for path, _ in self.zones]

    def measure(self, work: Callable[[], object]) -> tuple[float, float | None]:
        """Run ``work()``; return (seconds, average package watts or None if unavailable)."""
        before = self._read() if self.zones else None
        t0 = time.perf_counter()
        work()
        seconds = time.perf_counter() - t0
        if before is None:
            return seconds, None
        after = self._read()
        joules = sum((a - b) % top for a, b, (_, top) in zip(after, before, self.zones)) * 1e-6  # one wrap at most
        return seconds, joules / seconds if seconds > 0 else None


def rapl() -> Rapl:
    return Rapl()
