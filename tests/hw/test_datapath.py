import pytest

from spherecode.hw.datapath import DIFF_FRACTION, DIRECTION_FRACTION, FORCE_WEIGHT_BITS, Datapath
from spherecode.hw.fixed import Q


def test_narrowed_widths_in_q3_44_and_q2_20_unchanged():
    wide = Datapath(Q(3, 44), 64, 3)
    assert wide.distance.diff_fmt == wide.force_product.diff_fmt == Q(3, DIFF_FRACTION)
    assert wide.force_product.w_bits == FORCE_WEIGHT_BITS and wide.weight.precision == 30
    assert wide.unit_fmt == Q(2, DIRECTION_FRACTION) and wide.force_rsqrt.mant_fmt == Q(1, DIRECTION_FRACTION, False)
    assert wide.moved_rsqrt.mant_fmt == Q(1, 44, False)  # r' = r*/|r*| keeps every bit
    narrow = Datapath(Q(2, 20), 64, 3)  # fewer fraction bits than every cut: exact differences, whole w
    assert narrow.distance.diff_fmt == narrow.force_product.diff_fmt == Q(3, 20)
    assert narrow.force_product.w_bits == 21 and narrow.force_product.k_max == 0 and narrow.unit_fmt == Q(2, 20)


@pytest.mark.parametrize("bad", [16, 27.0, None])
def test_direction_fraction_is_checked(bad):
    with pytest.raises(ValueError, match=rf"direction_frac must be an integer ≥ 17, not {bad!r}"):
        Datapath(Q(3, 44), 64, 3, direction_frac=bad)
