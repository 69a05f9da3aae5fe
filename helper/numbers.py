"""The one reading of the numbers the helper takes: stamp counts and command-line values.

Python's `int()` and `float()` accept far more than a person writes or a stamp holds: other
scripts' digits (`٣`), superscripts that `str.isdigit()` calls digits but `int()` refuses (`²`),
underscores, signs, surrounding whitespace, `nan`, `inf`, exponents. Each of those once let a
value mean something else than it says, or pass one check and break the next. Here a count is
ASCII digits and nothing else, and seconds are ASCII digits with an optional fraction.
"""

from __future__ import annotations

_DIGITS = frozenset("0123456789")

# Room for any 64-bit value (device and inode numbers too). A longer count is no count a person
# or the helper wrote; it still means "very many".
_MAX_DIGITS = 20
SATURATED: int = 10**_MAX_DIGITS


def parse_count(text: str) -> int | None:
    """A non-negative count written as ASCII digits, or None when `text` is anything else.

    A count of more digits than any real one saturates at SATURATED: it is still a count, and
    "at least that many" is what it says (no conversion of thousands of digits at boot).
    """
    if not text or not set(text) <= _DIGITS:
        return None
    if len(text.lstrip("0")) > _MAX_DIGITS:
        return SATURATED
    return int(text)


def parse_seconds(text: str) -> float | None:
    """Seconds as ASCII digits with an optional fraction (`600`, `0.5`, `.5`, `5.`), or None.

    No sign, exponent, `nan` or `inf`: a wait of "not a number" or "forever" is refused, not
    taken to mean either.
    """
    whole, dot, fraction = text.partition(".")
    if not (whole or fraction):
        return None
    if not set(whole) <= _DIGITS or not set(fraction) <= _DIGITS:
        return None
    if len(whole.lstrip("0")) > _MAX_DIGITS:
        return float(SATURATED)
    return float(whole + dot + fraction)
