"""CoreConfig: its checks and their messages, the cycle formula (checked against the RTL's counter in
tests/hw/dataflow/test_vector_updater.py and tests/boards/test_system_twin.py), the block-RAM sizing rule and the
IDENTIFY fields."""

import pickle

import pytest

from spherecode.hw.config import ECP5_EBR, NMAX_LIMIT, BlockRAM, CoreConfig
from spherecode.hw.dataflow.core import UpdaterCore
from spherecode.hw.fixed import Q
from spherecode.hw.dataflow.vector_updater import VectorUpdaterParameters


def test_defaults_and_string_formats():
    config = CoreConfig()
    assert (config.fmt, config.nmax, config.dmax, config.lanes) == (Q(3, 44), 64, 3, 1)
    assert CoreConfig("Q2.20", 16, 3, 2) == CoreConfig(Q(2, 20), 16, 3, 2)
    assert hash(CoreConfig("Q2.20")) == hash(CoreConfig(Q(2, 20)))
    assert str(CoreConfig("Q2.20", 1024)) == "Q2.20, Nmax 1024, Dmax 3, 1 lane(s)"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"fmt": "UQ3.44"},
            "fmt must be a signed Qi.f with i ≥ 2 and 17 ≤ f ≤ 48 (the widths the units build for), not 'UQ3.44'",
        ),
        (
            {"fmt": Q(1, 30)},
            "fmt must be a signed Qi.f with i ≥ 2 and 17 ≤ f ≤ 48 (the widths the units build for), not 'Q1.30'",
        ),
        ({"fmt": "Q2.16"}, ", not 'Q2.16'"),
        ({"fmt": "Q2.49"}, ", not 'Q2.49'"),
        ({"fmt": "Q3"}, "not a fixed-point format: 'Q3'"),
        ({"fmt": 3.44}, "fmt must be a Q or a string such as 'Q3.44', not 3.44"),
        ({"nmax": 1}, f"nmax must be an integer in 2..{NMAX_LIMIT}, not 1"),
        ({"nmax": NMAX_LIMIT + 1}, f"nmax must be an integer in 2..{NMAX_LIMIT}, not {NMAX_LIMIT + 1}"),
        ({"nmax": 64.0}, f"nmax must be an integer in 2..{NMAX_LIMIT}, not 64.0"),
        ({"dmax": 8}, "dmax must be an integer in 2..7 (the datapath supports D ≤ 7), not 8"),
        ({"dmax": 1}, "dmax must be an integer in 2..7 (the datapath supports D ≤ 7), not 1"),
        ({"dmax": True}, "dmax must be an integer in 2..7 (the datapath supports D ≤ 7), not True"),
        ({"lanes": 0}, "lanes must be a positive integer, not 0"),
        ({"lanes": "2"}, "lanes must be a positive integer, not '2'"),
        ({"loosening": 1}, "loosening must be True or False, not 1"),
        ({"loosening": "yes"}, "loosening must be True or False, not 'yes'"),
        ({"dsp": "ecp5"}, "dsp must be 'infer' or 'gw5a', not 'ecp5'"),
        ({"dsp": None}, "dsp must be 'infer' or 'gw5a', not None"),
    ],
)
def test_checks_and_their_messages(kwargs, message):
    with pytest.raises(ValueError) as exc:
        CoreConfig(**kwargs)
    assert message in str(exc.value)


def test_lanes_are_the_vector_updaters_to_decide():
    """The lane counts are the vector updater's: CoreConfig refuses exactly what it refuses, with its
    message and ", not {lanes!r}"."""
    config = CoreConfig()
    for lanes in range(1, 17):
        try:
            VectorUpdaterParameters(config.datapath, lanes)
        except ValueError as exc:
            with pytest.raises(ValueError) as ours:
                CoreConfig(lanes=lanes)
            assert str(ours.value).startswith(str(exc).rstrip("."))
            assert str(ours.value).endswith(f"not {lanes!r}")
        else:
            assert CoreConfig(lanes=lanes).lanes == lanes


def test_pickles_as_its_fields():
    config = CoreConfig("Q2.20", 256, 4, 2)
    _ = config.tail  # computed parts are not pickled
    again = pickle.loads(pickle.dumps(config))
    assert again == config and again.tail == config.tail


@pytest.mark.parametrize("fmt, lanes", [("Q3.44", 1), ("Q2.20", 1), ("Q2.20", 2), ("Q2.20", 4)])
def test_cycle_formula(fmt, lanes):
    """N·D + N·max(⌈N/L⌉, C) + ⌈N/L⌉ + T, C the per-vector step's interval, T from the RTL's latency
    attributes (the updater's tail + the core's 2)."""
    config = CoreConfig(fmt, 64, 3, lanes)
    updater = VectorUpdaterParameters(config.datapath, lanes)
    assert config.tail == updater.tail + 2
    for n, d in [(2, 2), (5, 3), (64, 3), (17, 2)]:
        rows = -(-n // lanes)
        assert config.cycles(n, d) == n * d + n * max(rows, updater.row_min) + rows + config.tail
        # the updater's own count (vectors offered back to back) plus the S/P load and the core's cycles
        assert config.cycles(n, d) == updater.cycles(n) + n * (d - 1) + 2


def test_core_and_board_take_the_config():
    from spherecode.hw.board_link.board_top import BoardTop

    config = CoreConfig("Q2.20", 32, 3, 2)
    core = UpdaterCore(config)
    assert core.config is config and core.dp is config.datapath and core.lanes == 2
    assert UpdaterCore().config == CoreConfig()
    assert BoardTop(config).config is config and BoardTop().config == CoreConfig()


def test_fits():
    config = CoreConfig(nmax=16, dmax=4)
    assert config.fits(16, 4) and config.fits(2, 2)
    assert not config.fits(17, 3) and not config.fits(8, 5) and not config.fits(1, 3) and not config.fits(8, 1)


def test_identify_fields_round_trip():
    from spherecode.hw.board_link import protocol as p

    config = CoreConfig("Q3.44", 16384, 6, 4)
    fields = config.to_identify()
    assert len(fields) == CoreConfig.IDENTIFY_BYTES and fields == bytes([3, 44, 4, 6]) + (16384).to_bytes(2, "little")
    assert CoreConfig.from_identify(fields) == config
    payload = p.identity(config, 60_000_000, 3_000_000)
    assert len(payload) == p.Layout.identity and payload[5:11] == fields
    with pytest.raises(ValueError, match="dmax must be"):
        CoreConfig.from_identify(bytes([3, 44, 1, 9, 64, 0]))
    with pytest.raises(ValueError, match="6 bytes, not 5"):
        CoreConfig.from_identify(bytes(5))


def test_block_ram_tiling():
    # ECP5 DP16KD: 1024×66 takes 4 blocks (4 × 1024×18 or 2 × 2 × 512×36); 3072×22 takes 6.
    assert ECP5_EBR.blocks(1024, 66) == 4
    assert ECP5_EBR.blocks(3072, 22) == 6
    assert ECP5_EBR.blocks(16384, 1) == 1 and ECP5_EBR.blocks(16385, 1) == 2
    assert BlockRAM("toy", 1024, ((1024, 1), (64, 16))).blocks(64, 17) == 2


def test_vector_memory_blocks_of_the_shipped_board():
    """ULX3S-85F, Q2.20, Nmax 1024, Dmax 3, L = 1: updater bank 4 + output buffer 4 + link buffer 6 = 14 of
    the 27 DP16KD its post-route report counts (docs/boards.md; yosys maps the link buffer in 5, see
    docs/architecture.md)."""
    assert CoreConfig("Q2.20", 1024, 3, 1).vector_memory_blocks() == 14
    # L = 4: four banks of 256 vectors × 66 bits, two 512×36 blocks each
    assert CoreConfig("Q2.20", 1024, 3, 4).vector_memory_blocks() == 4 * 2 + 4 + 6


def test_sizing_rule():
    """The largest Nmax whose memories fit the free blocks: one more vector would not fit."""
    config = CoreConfig.sized("Q2.20", 3, 1, blocks=208, reserved=13)
    assert config.fmt == Q(2, 20) and config.dmax == 3 and config.lanes == 1
    assert config.vector_memory_blocks() <= 208 - 13
    if config.nmax < NMAX_LIMIT and config.nmax * 3 < 1 << 16:
        assert CoreConfig("Q2.20", config.nmax + 1, 3, 1).vector_memory_blocks() > 208 - 13
    assert config.nmax >= 1024  # the shipped ULX3S-85F configuration is within it
    wide = CoreConfig.sized("Q3.44", 6, 1, blocks=208, reserved=13)
    assert wide.nmax < config.nmax  # wider vectors: fewer of them
    assert CoreConfig.sized("Q2.20", 2, 1, blocks=10**6, reserved=0).nmax == NMAX_LIMIT  # the limit caps it
    assert CoreConfig.sized("Q2.20", 7, 1, blocks=10**6, reserved=0).nmax == (1 << 16) // 7  # LOAD's index
    with pytest.raises(ValueError, match="no Nmax fits 2 free blocks .*, not 15 blocks less 13 reserved"):
        CoreConfig.sized("Q3.44", 7, 1, blocks=15, reserved=13)


def test_loosening_is_a_field_that_pickles_and_prints():
    config = CoreConfig("Q2.20", 16, 3, 2, loosening=True)
    assert config != CoreConfig("Q2.20", 16, 3, 2) and not CoreConfig().loosening
    assert pickle.loads(pickle.dumps(config)) == config and pickle.loads(pickle.dumps(config)).loosening
    assert str(config) == "Q2.20, Nmax 16, Dmax 3, 2 lane(s), on-chip loosening"
    assert config.updater.candidates == 2 and CoreConfig().updater.candidates == 1


def test_dsp_is_a_field_that_pickles_prints_and_keeps_the_cycles():
    """``dsp="gw5a"`` builds the products from MULTALU27X18 instances with the same latencies, so the
    cycle formulas are the inferred core's."""
    config = CoreConfig("Q3.44", 64, 3, 1, dsp="gw5a")
    assert config != CoreConfig() and CoreConfig().dsp == "infer" and config.datapath.dsp == "gw5a"
    assert pickle.loads(pickle.dumps(config)) == config
    assert str(config) == "Q3.44, Nmax 64, Dmax 3, 1 lane(s), GW5A DSP blocks"
    for n in (2, 17, 64):
        assert config.cycles(n, 3) == CoreConfig().cycles(n, 3)
        assert config.iteration_cycles(n) == CoreConfig().iteration_cycles(n)


def test_loosening_cycle_formulas():
    """The run's cycles (checked against the RTL's counter in tests/hw/test_core_loosening.py and
    tests/host/backends/test_sim.py): the update without its load, plus the control, per iteration."""
    config = CoreConfig("Q3.44", 1024, 3, 4, loosening=True)
    unit = config.control
    for n in (5, 64, 256, 1024):
        rows = config.updater.row_cycles(n)
        iteration = n * rows + -(-n // 4) + config.tail - 2 + unit.latency + 1
        assert config.iteration_cycles(n) == iteration
        for d, k in ((3, 1), (3, 7), (2, 3000)):
            assert config.run_cycles(n, d, k) == max(n * d + 3, unit.load_latency) + k * iteration + n + 2
            assert config.load_cycles(n, d, k) == max(n * d + 3, unit.load_latency) + n + 2
    for n in (256, 1024):  # the target: within 5 % of (N + 1)⌈N/L⌉ at N ≥ 256
        assert config.iteration_cycles(n) <= 1.05 * (n + 1) * -(-n // 4)
