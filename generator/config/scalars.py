"""Plain YAML scalars that YAML 1.1 reads as numbers, kept with the text a person wrote.

PyYAML follows YAML 1.1, where ``1:30`` is 90 (base 60), ``010`` is 8 (octal), ``0x10`` is 16,
``1_000`` is 1000 and ``1.0`` is a float. A config is read by people who do not know that, so
such a scalar is not turned into a Python number: the reader hands over a ``Number`` holding the
text and what YAML 1.1 made of it, and each setting decides. An integer setting takes only a
plain decimal integer and explains any other form; a time span or a directive value takes the
text itself, which is what systemd reads and what the person wrote.
"""

from __future__ import annotations

import re


class Number:
    """A scalar that YAML 1.1 resolves to an int or a float: its source text and that value."""

    # A plain class: creating a typing.NamedTuple class costs about a millisecond at boot.
    __slots__ = ("text", "yaml")

    def __init__(self, text: str, yaml: int | float) -> None:
        self.text = text
        self.yaml = yaml

    def __repr__(self) -> str:
        return f"Number({self.text!r}, {self.yaml!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and (self.text, self.yaml) == (other.text, other.yaml)

    def __hash__(self) -> int:
        return hash((self.text, self.yaml))


# What a person and YAML read the same: an optional sign, then digits without a leading zero.
_DECIMAL = r"[-+]?(?:0|[1-9][0-9]*)"


def decimal(number: Number) -> int | None:
    """The integer a plain decimal ``number`` means, or None for any other form."""
    if isinstance(number.yaml, int) and re.fullmatch(_DECIMAL, number.text):
        return int(number.text)
    return None


_INF = float("inf")


def _plain(value: float) -> str:
    if value != value:  # NaN
        return "not-a-number"
    if value in (_INF, -_INF):
        return "infinity" if value > 0 else "minus infinity"
    return str(int(value)) if float(value).is_integer() else repr(value)


def misreading(number: Number) -> str | None:
    """How YAML 1.1 reads ``number`` where a person may read something else, or None."""
    text = number.text
    digits = text.lstrip("+-")
    value = number.yaml
    if ":" in text:
        return f"YAML 1.1 reads {text} as {_plain(value)} (base 60)"
    if digits[:2].lower() == "0x":
        return f"YAML 1.1 reads {text} as {_plain(value)} (hexadecimal)"
    if digits[:2].lower() == "0b":
        return f"YAML 1.1 reads {text} as {_plain(value)} (binary)"
    if isinstance(value, int) and len(digits) > 1 and digits.startswith("0"):
        return f"YAML 1.1 reads {text} as {_plain(value)} (octal)"
    if "_" in text:
        return f"YAML 1.1 reads {text} as {_plain(value)} (it drops underscores)"
    if isinstance(value, float) and (value != value or value in (_INF, -_INF)):
        return f"YAML 1.1 reads {text} as {_plain(value)}"
    return None  # 2.5 is 2.5 to everyone, even where it is not the integer asked for


def describe(value: object) -> str:
    """How a scalar is named in a message: a number by its text, anything else by repr."""
    if isinstance(value, Number):
        return value.text
    return repr(value)
