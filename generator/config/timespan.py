"""systemd time spans (systemd.time(7)), read the way systemd's own parser reads them.

A time span that systemd cannot parse is not an error at load time: systemd logs a warning and
ignores the line, so ``TimeoutStartSec=1.5.5s`` would leave the cleanup without a time limit.
The validator therefore accepts exactly the strings systemd accepts, with the value systemd
computes, and a test compares this module with ``systemd-analyze timespan`` on generated strings
(systemd 252 of Debian 12 and 257 of Debian 13 read them alike).

The grammar, as systemd 252-257 implement it (parse_time() in src/basic/time-util.c):
- ``infinity``, optionally surrounded by whitespace;
- otherwise one or more parts, each optionally preceded by whitespace: a decimal number
  (digits, digits with a fraction, or a fraction alone such as ``.5``; a leading ``+`` is taken,
  ``-`` is refused) and an optional unit, possibly after whitespace; a part without a unit is
  in seconds. Units are matched as prefixes, so ``5s5`` is ten seconds while ``5x`` is refused;
- the whole must fit below 2^64-1 microseconds (about 584,542 years) and the integer part of
  each number in a C ``long long``.
"""

from __future__ import annotations

USEC_PER_SEC = 1_000_000
USEC_INFINITY = 2**64 - 1  # also the value of "infinity"
_LLONG_MAX = 2**63 - 1
_WHITESPACE = " \t\n\r"  # what systemd skips between parts
_C_SPACE = " \t\n\v\f\r"  # what strtoll() itself skips before a number
_DIGITS = "0123456789"

_USEC_PER_MINUTE = 60 * USEC_PER_SEC
_USEC_PER_HOUR = 60 * _USEC_PER_MINUTE
_USEC_PER_DAY = 24 * _USEC_PER_HOUR
_USEC_PER_MONTH = 2_629_800 * USEC_PER_SEC  # 30.44 days
_USEC_PER_YEAR = 31_557_600 * USEC_PER_SEC  # 365.25 days

# Unit suffixes, longest spelling first within each family, so that the first prefix match is
# the one systemd makes ("min" before "m", "msec" before "ms" before "m").
UNITS: tuple[tuple[str, int], ...] = (
    ("seconds", USEC_PER_SEC),
    ("second", USEC_PER_SEC),
    ("sec", USEC_PER_SEC),
    ("s", USEC_PER_SEC),
    ("minutes", _USEC_PER_MINUTE),
    ("minute", _USEC_PER_MINUTE),
    ("min", _USEC_PER_MINUTE),
    ("months", _USEC_PER_MONTH),
    ("month", _USEC_PER_MONTH),
    ("M", _USEC_PER_MONTH),
    ("msec", 1000),
    ("ms", 1000),
    ("m", _USEC_PER_MINUTE),
    ("hours", _USEC_PER_HOUR),
    ("hour", _USEC_PER_HOUR),
    ("hr", _USEC_PER_HOUR),
    ("h", _USEC_PER_HOUR),
    ("days", _USEC_PER_DAY),
    ("day", _USEC_PER_DAY),
    ("d", _USEC_PER_DAY),
    ("weeks", 7 * _USEC_PER_DAY),
    ("week", 7 * _USEC_PER_DAY),
    ("w", 7 * _USEC_PER_DAY),
    ("years", _USEC_PER_YEAR),
    ("year", _USEC_PER_YEAR),
    ("y", _USEC_PER_YEAR),
    ("usec", 1),
    ("us", 1),
    ("\u03bcs", 1),  # GREEK SMALL LETTER MU
    ("\u00b5s", 1),  # MICRO SIGN
)


class Invalid(ValueError):
    """Not a time span systemd accepts. ``reason``: "syntax", "negative" or "range" (too long)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _strtoll(text: str, start: int) -> tuple[int, int]:
    """What strtoll(text + start, &end, 10) returns, and the index after the digits (or the
    start when there were none, like strtoll's end pointer); raises Invalid on overflow or a
    minus sign."""
    i = start
    while i < len(text) and text[i] in _C_SPACE:
        i += 1
    negative = i < len(text) and text[i] == "-"
    if i < len(text) and text[i] in "+-":
        i += 1
    first = i
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    if i == first:
        return 0, start  # no conversion: the end pointer stays at the start
    value = int(text[first:i])
    if value > _LLONG_MAX + negative:
        raise Invalid("range")  # ERANGE from strtoll
    if negative and value:
        raise Invalid("negative")
    return value, i


def _unit(text: str, start: int) -> tuple[int, int] | None:
    """(microseconds per unit, end) for the unit spelled at ``start``, or None."""
    for suffix, usec in UNITS:
        if text.startswith(suffix, start):
            return usec, start + len(suffix)
    return None


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def parse(text: str, default_unit: int = USEC_PER_SEC) -> int:
    """The microseconds ``text`` stands for (USEC_INFINITY for ``infinity``); raises Invalid."""
    i = _skip(text, 0, _WHITESPACE)
    if text.startswith("infinity", i):
        if _skip(text, i + len("infinity"), _WHITESPACE) != len(text):
            raise Invalid("syntax")
        return USEC_INFINITY
    total = 0
    something = False
    while True:
        i = _skip(text, i, _WHITESPACE)
        if i == len(text):
            if not something:
                raise Invalid("syntax")
            return total
        if text[i] == "-":
            raise Invalid("negative")  # even "-0"
        integer, number_end = _strtoll(text, i)
        fraction = number_end < len(text) and text[number_end] == "."
        if fraction:
            after = _skip(text, number_end + 1, _DIGITS)
        elif number_end == i:
            raise Invalid("syntax")
        else:
            after = number_end
        spaced = _skip(text, after, _WHITESPACE)
        unit = _unit(text, spaced)
        multiplier, end = unit if unit is not None else (default_unit, spaced)
        if end == after and end != len(text):
            raise Invalid("syntax")  # "12.34.56", "5x": no unit, no space
        i = end
        if integer >= USEC_INFINITY // multiplier:
            raise Invalid("range")
        part = integer * multiplier
        if part >= USEC_INFINITY - total:
            raise Invalid("range")
        total += part
        something = True
        if fraction:
            scale = multiplier // 10
            digit = number_end + 1
            while digit < len(text) and text[digit] in _DIGITS:
                part = int(text[digit]) * scale
                if part >= USEC_INFINITY - total:
                    raise Invalid("range")
                total += part
                scale //= 10
                digit += 1
            if digit == number_end + 1:
                raise Invalid("syntax")  # "3.", "3.s": a point needs digits after it


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except Invalid:
        return False
    return True
