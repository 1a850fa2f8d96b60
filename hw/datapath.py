"""The vector updater's datapath: every unit of the paper's steps 1–5 and every intermediate format.

One :class:`Datapath` object is the single definition both the gateware (``VectorUpdater``) and the
bit-exact whole-iteration model (``spherecode.host.model.updater``) are built from. For coordinates in
Q(i, f) and at most ``nmax`` vectors of ``dmax`` coordinates:

==========================  ==========================================  ==================================
quantity                    unit                                        format
==========================  ==========================================  ==================================
d²_ji = |r_j − r_i|²        :class:`~.distance.SquaredDistance`         UQ3.f (differences floored to Q3.31)
δ_j = min_i d²_ji           :class:`~.distance.RunningMin`              UQ3.f
1/δ_j (once per row)        :class:`~.reciprocal.Reciprocal`            mantissa UQ1.P, exponent
w_ji = (δ_j / d²_ji)^(β/2)  :class:`~.weight.RepulsionWeight`           UQ1.f (internally P = f − 4 ≤ 30)
w_ji (r_j − r_i)            :class:`~.force_product.ForceProduct`       Q(i + 1).(f + 2); w's top 29 bits
                                                                        × the difference in Q3.31, nearest
F*_j = Σ_i …                exact accumulator                           Q(bits(nmax) + 2).(f + 2)
F̂_j = F*_j · 2^s            block normalisation (max |F*_jd| ∈ [½, 1))  Q2.27 (floor; Q2.f if f < 27)
|F̂_j|²                      :class:`~.distance.SerialSquaredDistance`   UQ3.27
1/|F̂_j|                     :class:`~.rsqrt.RSqrt`                      mantissa UQ1.27, exponent
F_j = F̂_j / |F̂_j|           :class:`~.scale.Scale`                      Q2.27
α_j = δ_j · 1/(2β)          :class:`~.multiplier.Multiplier` (nearest)  UQ1.(f + 4); 1/(2β) in UQ1.(f + 4)
r*_j = r_j + α_j F_j        :class:`~.multiplier.Multiplier`, add       Q(i).f, saturated
r'_j = r*_j / |r*_j|        SerialSquaredDistance, RSqrt, Scale         Q(i).f
S_j = |r'_j − r_j|²         :class:`~.distance.SerialSquaredDistance`   UQ3.(2f), exact; S = Σ_j S_j
                                                                        exact, UQ(bits(nmax) + 3).(2f)
==========================  ==========================================  ==================================

β/2 arrives in UQ17.16 (:func:`~.weight.half_beta_format`). Every sum is exact, so the result does not
depend on the order of reduction (and so not on the number of lanes). Q3.31, 29 bits and Q2.27 are
:data:`DIFF_FRACTION`, :data:`FORCE_WEIGHT_BITS` and :data:`DIRECTION_FRACTION` (formats with fewer fraction
bits keep their exact differences, whole w and Q2.f direction: Q2.20 computes as before, bit for bit);
docs/arithmetic.md sizes them by an error analysis and by their measured effect on the codes
(``benchmarks/widths.py``). S is exact (2f fraction bits) because force loosening chooses between two
candidates by S' > S'': late in a run S is a few hundred ulps of UQ3.f and S' − S'' about one, so a rounded
S turns the choice into noise and β drifts up (measured: docs/arithmetic.md, "The move norm S").
"""

from __future__ import annotations

from .fixed import Q
from .units.distance import RunningMinParameters, SerialSquaredDistanceParameters, SquaredDistanceParameters, d2_format
from .units.force_product import ForceProductParameters
from .units.multiplier import MultiplierParameters, check_dsp
from .units.reciprocal import ReciprocalParameters
from .units.rsqrt import RSqrtParameters
from .units.scale import ScaleParameters
from .units.weight import RepulsionWeightParameters, half_beta_format, weight_precision

__all__ = ["Datapath", "MIN_FRACTION", "HALF_BETA_RANGE"]

#: Fraction bits kept below f in each force product and in the force accumulator.
FORCE_GUARD = 2
#: Fraction bits kept below f in 1/(2β) and in the step α.
STEP_GUARD = 4
#: Significant bits of w in each force product: two 17-bit limbs, the most whose product with a Q3.31
#: difference fits the model's int64 (17 bits measured too coarse; docs/arithmetic.md, "The force product").
FORCE_WEIGHT_BITS = 29
#: Fraction bits of the differences the squared distance and the force products multiply: Q3.31 is two
#: 17-bit limbs (docs/arithmetic.md, "Squared distances"); formats with fewer fraction bits keep theirs.
DIFF_FRACTION = 31
#: Fraction bits of the force's direction F̂ and F = F̂/|F̂| and of 1/|F̂|: 27 keeps every operand of that
#: path — |F̂|², 1/|F̂| (degree-3 table, products of two limbs), F̂·(1/|F̂|), α·F — at two 17-bit limbs
#: (docs/arithmetic.md, "The force's direction"); formats with fewer fraction bits keep theirs.
DIRECTION_FRACTION = 27
#: Fewest fraction bits f the datapath is built and tested for (the weight unit alone needs f ≥ 12, its
#: precision P = f − 4 ≥ 8; narrower formats have not been measured).
MIN_FRACTION = 17
#: The β/2 the weight unit covers (UQ17.16 in, t saturating at 64): force loosening's K iterations ask for
#: β/2 ≤ 2(K + 1) (:func:`spherecode.host.loosening.max_beta`), so K ≤ 32767.
HALF_BETA_RANGE = (1, 65536)


class Datapath:
    """The units and formats of one updater configuration (see the module docstring). Built by
    :attr:`CoreConfig.datapath <spherecode.hw.config.CoreConfig.datapath>`, where the configuration is
    defaulted and checked; no defaults here."""

    def __init__(
        self,
        fmt: Q,
        nmax: int,
        dmax: int,
        *,
        precision: int | None = None,
        d2_diff_frac: int | None = DIFF_FRACTION,
        force_diff_frac: int | None = DIFF_FRACTION,
        weight_bits: int = FORCE_WEIGHT_BITS,
        direction_frac: int = DIRECTION_FRACTION,
        dsp: str = "infer",
    ):
        """The keyword arguments override the widths docs/arithmetic.md derives (for measuring their effect):
        ``precision`` the weight's P (default :func:`~.weight.weight_precision`), ``d2_diff_frac`` and
        ``force_diff_frac`` the fraction bits of the truncated differences (None or ≥ f: exact),
        ``weight_bits`` the weight's significant bits in the force products, ``direction_frac`` the fraction
        bits of F̂, F and 1/|F̂|; ``dsp`` the DSP layer every unit's products are built for
        (:class:`~.multiplier.LimbProduct`)."""
        if not fmt.signed or fmt.i < 2:
            raise ValueError(f"coordinates need a signed format with at least 2 integer bits, not {fmt}")
        if fmt.f < MIN_FRACTION:
            raise ValueError(
                f"coordinates need at least {MIN_FRACTION} fraction bits (the narrowest format measured), not {fmt}"
            )
        if not 2 <= dmax <= 7:
            raise ValueError("dmax must be in 2..7 (|F̂|² < dmax must fit UQ3.f)")
        if nmax < 2:
            raise ValueError("nmax must be at least 2")
        f = fmt.f
        self.fmt, self.nmax, self.dmax = fmt, nmax, dmax
        self.dsp = dsp = check_dsp(dsp)
        self.d2_fmt = d2_format(fmt)
        self.half_beta_fmt = half_beta_format()
        self.step_fmt = Q(1, f + STEP_GUARD, signed=False)  # 1/(2β) and α
        self.diff_fmt = Q(fmt.i + 1, f)
        self.prod_fmt = Q(fmt.i + 1, f + FORCE_GUARD)
        self.acc_fmt = Q(nmax.bit_length() + 2, f + FORCE_GUARD)
        if not (isinstance(direction_frac, int) and MIN_FRACTION <= direction_frac):
            raise ValueError(f"direction_frac must be an integer ≥ {MIN_FRACTION}, not {direction_frac!r}")
        self.unit_fmt = Q(2, min(f, direction_frac))  # F̂ and F
        self.s_fmt = Q(3 + nmax.bit_length(), 2 * f, signed=False)  # exact: see the module docstring

        def truncated(frac):
            return Q(3, f, signed=True) if frac is None or frac >= f else Q(3, frac, signed=True)

        self.d2_diff_fmt = truncated(d2_diff_frac)  # the squared distance's differences
        self.force_diff_fmt = truncated(force_diff_frac)  # the force products' differences
        self.weight_precision = weight_precision(self.d2_fmt.f) if precision is None else precision
        w_fmt = Q(1, f, signed=False)
        self.weight_bits = min(weight_bits, w_fmt.width)  # Q2.20: the whole UQ1.20 w, as exact as before
        mant_fmt = Q(1, f, signed=False)  # RSqrt(d2_fmt)'s mantissa
        self._factories = {  # the parameters of each unit, by name
            "distance": lambda: SquaredDistanceParameters(fmt, dmax, self.d2_diff_fmt, dsp),
            "running_min": lambda: RunningMinParameters(self.d2_fmt),
            "reciprocal": lambda: ReciprocalParameters(self.d2_fmt, self.weight_precision),
            "weight": lambda: RepulsionWeightParameters(self.d2_fmt, self.weight_precision, dsp=dsp),
            "force_product": lambda: ForceProductParameters(
                w_fmt, self.diff_fmt, self.force_diff_fmt, self.prod_fmt, dmax, self.weight_bits, dsp
            ),
            "force_norm": lambda: SerialSquaredDistanceParameters(self.unit_fmt, dmax, dsp=dsp),
            # the step's two reciprocal square roots take one input per vector: one product each; |F̂|² in
            # UQ3.(direction bits)
            "force_rsqrt": lambda: RSqrtParameters(d2_format(self.unit_fmt), shared=True, dsp=dsp),
            "direction": lambda: ScaleParameters(
                self.unit_fmt, Q(1, self.unit_fmt.f, signed=False), self.unit_fmt, dsp
            ),
            "step": lambda: MultiplierParameters(self.d2_fmt, self.step_fmt, self.step_fmt, dsp=dsp),
            "move": lambda: MultiplierParameters(self.step_fmt, self.unit_fmt, fmt, dsp=dsp),
            "moved_norm": lambda: SerialSquaredDistanceParameters(fmt, dmax, dsp=dsp),
            "moved_rsqrt": lambda: RSqrtParameters(self.d2_fmt, shared=True, dsp=dsp),
            "renormalise": lambda: ScaleParameters(fmt, mant_fmt, fmt, dsp),
            "move_norm": lambda: SerialSquaredDistanceParameters(fmt, dmax, out_frac=2 * f, dsp=dsp),  # exact
        }
        # One parameter object of each (formats, tables, latency, the bit-exact model); the gateware makes
        # its own units from them with :meth:`make`.
        for name, parameters in self._factories.items():
            setattr(self, name, parameters())

    def make(self, name: str):
        """A new instance of the unit called ``name``, with this configuration's parameters."""
        return getattr(self, name).create()

    def inputs(self, vectors, beta: float):
        """What the host sends for one iteration: raw coordinates (N, D), raw β/2 and raw 1/(2β).

        Raises ``ValueError`` when N or D is outside this configuration or β outside its range."""
        n, d = vectors.shape
        if not (2 <= n <= self.nmax and 2 <= d <= self.dmax):
            raise ValueError(f"N = {n}, D = {d} outside this configuration (2 ≤ N ≤ {self.nmax}, 2 ≤ D ≤ {self.dmax})")
        return (self.fmt.from_float(vectors), *self.constants(beta))

    def constants(self, beta: float) -> tuple[int, int]:
        """The host's runtime constants for β: raw β/2 (UQ17.16) and raw 1/(2β) (UQ1.(f + 4)).

        Raises ``ValueError`` when β/2 is outside [1, 65536], the range the weight unit covers.
        """
        half, (low, high) = beta / 2, HALF_BETA_RANGE
        if not low <= half <= high:
            raise ValueError(f"β/2 = {half:g} is outside the hardware's range [{low}, {high}]")
        half_beta = int(self.half_beta_fmt.from_float(half))
        step = int(self.step_fmt.from_float(1 / (2 * beta)))
        return half_beta, step
