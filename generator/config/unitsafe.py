"""What may be written into a systemd unit file, and what may not.

A value from a config ends up inside a directive such as ``ExecStart=`` or ``ReadWritePaths=``.
Anything that systemd would read as more than that one value is rejected, never escaped or
rewritten: an admin must see that ``/sysroot/%h`` is not what they think, instead of getting a
silently different unit. systemd.unit(5) and systemd.syntax(7) are the rules followed here.
"""

from __future__ import annotations

import re

# systemd's unit-name alphabet (unit_name_is_valid / VALID_CHARS in src/basic/unit-name.c),
# without the backslash: we never need escaped names, and a backslash in a value is a hazard.
_UNIT_NAME_CHARS = re.compile(r"[A-Za-z0-9:_.@-]+")
UNIT_NAME_MAX = 255

# Unit types that may carry a WantedBy=/Requires= relation in our files.
_UNIT_SUFFIXES = (
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
)

# Time-span units of systemd.time(7).
_TIMESPAN_UNITS = (
    "usec",
    "us",
    "µs",
    "msec",
    "ms",
    "seconds",
    "second",
    "sec",
    "s",
    "minutes",
    "minute",
    "min",
    "m",
    "hours",
    "hour",
    "hr",
    "h",
    "days",
    "day",
    "d",
    "weeks",
    "week",
    "w",
    "months",
    "month",
    "M",
    "years",
    "year",
    "y",
)
_TIMESPAN_PART = r"(?:\d+(?:\.\d+)?|\.\d+)\s*(?:{})?".format(
    "|".join(re.escape(u) for u in sorted(_TIMESPAN_UNITS, key=len, reverse=True))
)
_TIMESPAN = re.compile(rf"\s*{_TIMESPAN_PART}(?:\s*{_TIMESPAN_PART})*\s*")


def line_problem(value: str) -> str | None:
    """Why ``value`` cannot be one directive's value in a unit file, or None when it can."""
    for char in value:
        if char == "\n" or char == "\r":
            return "contains a line break, which would start a new directive"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains the control character U+{ord(char):04X}"
        if 0x80 <= ord(char) <= 0x9F or char in "\u2028\u2029\ufeff":
            return f"contains the control character U+{ord(char):04X}"
    if "%" in value:
        return "contains '%', which systemd would expand as a specifier"
    if value.endswith("\\"):
        return "ends with a backslash, which systemd reads as a line continuation"
    if value.lstrip().startswith("["):
        return "starts with '[', which systemd reads as a section header"
    if value != value.strip():
        return "has leading or trailing whitespace, which systemd would drop"
    return None


def word_problem(value: str) -> str | None:
    """Like ``line_problem``, for a value that must stay one word of a command line or list."""
    problem = line_problem(value)
    if problem:
        return problem
    if value == "":
        return "is empty"
    for char in value:
        if char.isspace():
            return "contains whitespace, which would split it into several arguments"
        if char in "\"'\\;":
            return f"contains {char!r}, which systemd's command-line parser would interpret"
    return None


def path_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute, normalised path that can stand in a unit file."""
    problem = word_problem(value)
    if problem:
        return problem
    if not value.startswith("/"):
        return "is not an absolute path"
    if value != "/" and value.endswith("/"):
        return "has a trailing '/'"
    parts = value.split("/")[1:]
    if value != "/" and ("" in parts or "." in parts or ".." in parts):
        return "is not normalised (no '//', '.' or '..' components)"
    return None


def unit_name_problem(value: str, suffixes: tuple[str, ...] = _UNIT_SUFFIXES) -> str | None:
    """Why ``value`` is not a valid, complete unit name with one of ``suffixes``."""
    problem = line_problem(value)
    if problem:
        return problem
    if not value:
        return "is empty"
    if len(value) > UNIT_NAME_MAX:
        return f"is longer than systemd's limit of {UNIT_NAME_MAX} characters for a unit name"
    if not _UNIT_NAME_CHARS.fullmatch(value):
        return "has characters outside systemd's unit-name rules (A-Z a-z 0-9 : _ . @ -)"
    if not value.endswith(suffixes):
        return "must end in " + " or ".join(suffixes)
    stem = value.rsplit(".", 1)[0]
    if not stem or stem.startswith(".") or stem.endswith("@") or stem.count("@") > 1:
        return "is not a valid unit name"
    return None


def unit_prefix_problem(value: str, longest_suffix: str) -> str | None:
    """Why ``value`` cannot prefix our unit names (e.g. ``NAME-autocleanup.service``)."""
    problem = line_problem(value)
    if problem:
        return problem
    if not value:
        return "is empty"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9:_.-]*", value):
        return (
            "has characters outside systemd's unit-name rules "
            "(start with a letter or digit, then A-Z a-z 0-9 : _ . -)"
        )
    if len(value) + len(longest_suffix) > UNIT_NAME_MAX:
        return f"makes unit names longer than systemd's limit of {UNIT_NAME_MAX} characters"
    return None


def timespan_problem(value: str) -> str | None:
    """Why ``value`` is not a positive systemd time span (systemd.time(7)), or 'infinity'."""
    problem = line_problem(value)
    if problem:
        return problem
    if value == "infinity":
        return None
    if not _TIMESPAN.fullmatch(value):
        return "is not a systemd time span such as '30min', '1h 30min' or '90s'"
    if not re.search(r"[1-9]", value):
        return "must be longer than zero"
    return None


def is_within(path: str, directory: str) -> bool:
    """Whether normalised absolute ``path`` lies strictly inside ``directory``."""
    if directory == "/":
        return path != "/"
    return path.startswith(directory + "/")
