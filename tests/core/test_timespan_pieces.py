"""Time spans, piece by piece: the exact value or the exact reason for each corner of the grammar.

tests/core/test_timespan.py compares timespan.parse with ``systemd-analyze timespan`` on a
generated corpus, but only on accepted or refused. Here the reason is pinned too, because the
setting's message depends on it (unitsafe.timespan_problem: "negative" and "range" have their
own words): systemd answers EINVAL ("syntax") or ERANGE ("range") for each of these strings,
and this module says "negative" where the number has a minus sign. The values are systemd's.
"""

from __future__ import annotations

import pytest

from ostree_autocleanup.generator.config import timespan

_LLONG_MAX = "9223372036854775807"

# (text, reason): systemd-analyze timespan refuses each with EINVAL (syntax) or ERANGE.
REFUSED = [
    ("", "syntax"),  # nothing at all
    ("infinityx", "syntax"),  # "infinity" must stand alone
    ("x", "syntax"),  # no number
    ("5s x", "syntax"),  # no number in the second part
    ("X5", "syntax"),  # a letter is no sign
    ("\v", "syntax"),  # strtoll() skips \v but finds no number
    ("5 \v", "syntax"),
    ("5x", "syntax"),  # no unit, no space
    ("1.5.5s", "syntax"),
    ("3.", "syntax"),  # a point needs digits after it
    ("3.s", "syntax"),
    ("\v-5", "negative"),  # a minus sign only strtoll() sees
    ("\v-" + _LLONG_MAX, "negative"),
    ("\v-9223372036854775808", "negative"),  # LLONG_MIN: still no overflow, only a minus
    ("1000000000000.h", "range"),  # too long, before the point without digits counts
    # The sum reaches 2^64-1, which is "infinity", not a length: whole and fractional parts.
    (f"{_LLONG_MAX}us {_LLONG_MAX}us 1us", "range"),
    (f"{_LLONG_MAX}us {_LLONG_MAX}us 0.001ms", "range"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_each_refusal_has_its_reason(text: str, reason: str) -> None:
    with pytest.raises(timespan.Invalid) as raised:
        timespan.parse(text)
    assert raised.value.reason == reason
    assert str(raised.value) == reason
    assert not timespan.is_valid(text)


# (text, microseconds): what systemd-analyze timespan prints as μs.
ACCEPTED = [
    ("5s", 5_000_000),
    ("1h 30min", 5_400_000_000),
    # One below 2^64-1 is the longest finite span, reached by whole and fractional parts.
    (f"{_LLONG_MAX}us 9223372036854775806us 1us", 2**64 - 2),
    (f"{_LLONG_MAX}us 9223372036854775806us 0.001ms", 2**64 - 2),
]


@pytest.mark.parametrize(("text", "usec"), ACCEPTED)
def test_accepted_values(text: str, usec: int) -> None:
    assert timespan.parse(text) == usec
    assert timespan.is_valid(text)
