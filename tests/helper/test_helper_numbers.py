"""One reading of counts and seconds (helper/numbers.py), checked against a plain regular
expression over any text, including the Unicode digits, signs and spaces that int() and float()
accept and str.isdigit() lets through."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ostree_autocleanup.helper.numbers import SATURATED, parse_count, parse_seconds

COUNT = re.compile(r"[0-9]+", re.ASCII)
SECONDS = re.compile(r"[0-9]*\.?[0-9]*", re.ASCII)

# Text made of what numbers are written with, in every script hypothesis knows.
NUMBERISH = st.text(
    alphabet=st.one_of(
        st.sampled_from("0123456789.+-_ eEinfatyINFATY\t\n\u00b2\u0663\u2028\uff11"),
        st.characters(categories=["Nd", "No", "Zs"]),
    ),
    max_size=30,
)


@settings(max_examples=2000, deadline=None, database=None)
@given(text=st.one_of(NUMBERISH, st.text(max_size=30)))
@example(text="²")
@example(text="٣")
@example(text="1_000")
@example(text=" 7")
@example(text="9" * 5000)
def test_parse_count_is_ascii_digits_only(text: str) -> None:
    value = parse_count(text)
    if COUNT.fullmatch(text) is None:
        assert value is None
    elif len(text.lstrip("0")) > 20:
        assert value == SATURATED
    else:
        assert value == int(text)


@settings(max_examples=2000, deadline=None, database=None)
@given(text=st.one_of(NUMBERISH, st.text(max_size=30)))
@example(text="nan")
@example(text="inf")
@example(text="1e3")
@example(text=".")
@example(text="٣.5")
def test_parse_seconds_is_ascii_decimal_only(text: str) -> None:
    value = parse_seconds(text)
    if SECONDS.fullmatch(text) is None or text in ("", "."):
        assert value is None
    else:
        assert value is not None
        whole = text.partition(".")[0]
        expected = float(SATURATED) if len(whole.lstrip("0")) > 20 else float(text)
        assert value == expected
        assert value == value and value != float("inf")  # never nan, never inf


def test_parse_seconds_at_its_edges_in_process() -> None:
    from ostree_autocleanup.helper import numbers

    assert numbers.parse_seconds("1.5") == 1.5
    assert numbers.parse_seconds(".5") == 0.5 and numbers.parse_seconds("5.") == 5.0
    assert numbers.parse_seconds("0.0123456789") == 0.0123456789
    assert numbers.parse_seconds("9" * 20) == float("9" * 20)
    assert numbers.parse_seconds("0" * 5 + "9" * 20) == float("9" * 20)
    assert numbers.parse_seconds("1" + "0" * 20) == float(numbers.SATURATED)
    for bad in ("", ".", "1.2.3", "-1", "1e3", "nan", "inf", " 1", "\u0661"):
        assert numbers.parse_seconds(bad) is None, bad
