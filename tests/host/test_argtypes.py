"""The argparse types shared by the CLI, the backends and `compare`: each message names its option."""

import argparse

import pytest

from spherecode.host.argtypes import integer, positive_float, real_in, watts


def test_integer_accepts_its_range():
    assert integer("--k", 1)("7") == 7
    assert integer("--k", 2, 7)("2") == 2
    assert integer("--k", 2, 7)("7") == 7


@pytest.mark.parametrize(
    "kind, text, message",
    [
        (integer("--k", 1), "x", "--k must be an integer, got 'x'"),
        (integer("--k", 1), "1.5", "--k must be an integer, got '1.5'"),
        (integer("--k", 1), "0", "--k must be at least 1, got 0"),
        (integer("--k", 2, 7), "8", "--k must be in 2 … 7, got 8"),
        (integer("--k", 2, 7), "1", "--k must be in 2 … 7, got 1"),
        (positive_float("--b"), "nan", "--b must be a positive number, got 'nan'"),
        (positive_float("--b"), "0", "--b must be a positive number, got '0'"),
        (positive_float("--b"), "b", "--b must be a number, got 'b'"),
        (watts("--w"), "-1", "--w must be a non-negative number of watts, got '-1'"),
        (watts("--w"), "inf", "--w must be a non-negative number of watts, got 'inf'"),
        (watts("--w"), "w", "--w must be a number of watts, got 'w'"),
        (real_in("--s", 0, 1000), "1e308", "--s must be in 0 … 1000, got '1e308'"),
        (real_in("--s", 0, 1000), "-1", "--s must be in 0 … 1000, got '-1'"),
        (real_in("--s", 0, 1000), "nan", "--s must be in 0 … 1000, got 'nan'"),
        (real_in("--s", 0, 1000), "s", "--s must be a number, got 's'"),
    ],
)
def test_bad_values_name_the_option(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as e:
        kind(text)
    assert str(e.value) == message


def test_watts_accepts_zero():
    assert watts("--w")("0") == 0.0


def test_real_in_accepts_its_ends():
    assert real_in("--s", 0, 1000)("0") == 0.0 and real_in("--s", 0, 1000)("1000") == 1000.0
