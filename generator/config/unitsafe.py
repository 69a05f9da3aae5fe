"""What may be written into a systemd unit file, and what may not.

A value from a config ends up inside a directive such as ``ExecStart=`` or ``ReadWritePaths=``.
Anything that systemd would read as more than that one value is rejected, never escaped or
rewritten: an admin must see that ``/sysroot/%h`` is not what they think, instead of getting a
silently different unit. systemd.unit(5) and systemd.syntax(7) are the rules followed here.
"""

from __future__ import annotations

import re

from . import timespan

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


def line_problem(value: str, specifiers: bool = True) -> str | None:
    """Why ``value`` cannot be one directive's value in a unit file, or None when it can.

    ``specifiers``: the directive expands ``%`` specifiers (ExecStart=, ReadWritePaths=, ...),
    so a ``%`` would not be read as written. Where systemd takes ``%`` literally
    (``CPUQuota=50%``) the caller passes False and the value is written as given.
    """
    for char in value:
        if char == "\n" or char == "\r":
            return "contains a line break, which would start a new directive"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains the control character U+{ord(char):04X}"
        if 0x80 <= ord(char) <= 0x9F or char in "\u2028\u2029\ufeff":
            return f"contains the control character U+{ord(char):04X}"
    if specifiers and "%" in value:
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
    if "$" in value:
        return (
            "contains '$': systemd expands environment variables in ExecStart= lines and "
            "takes them as text everywhere else (ReadWritePaths=, ConditionPathExists=), so "
            "the path would not mean one thing"
        )
    if not value.startswith("/"):
        return "is not an absolute path"
    if value != "/" and value.endswith("/"):
        return "has a trailing '/'"
    parts = value.split("/")[1:]
    if value != "/" and ("" in parts or "." in parts or ".." in parts):
        return "is not normalised (no '//', '.' or '..' components)"
    return None


def unit_name_problem(
    value: str, suffixes: tuple[str, ...] = _UNIT_SUFFIXES, checked_by_tools: bool = False
) -> str | None:
    """Why ``value`` is not a valid, complete unit name with one of ``suffixes``.

    ``checked_by_tools``: the name is passed to ``systemd-analyze verify``, which reads
    ``FILE:ALIAS`` in its arguments, so a ``:`` (valid in a unit name) would make it unverifiable.
    """
    problem = line_problem(value)
    if problem:
        return problem
    if not value:
        return "is empty"
    if len(value) > UNIT_NAME_MAX:
        return f"is longer than systemd's limit of {UNIT_NAME_MAX} characters for a unit name"
    if not _UNIT_NAME_CHARS.fullmatch(value):
        return "has characters outside systemd's unit-name rules (A-Z a-z 0-9 : _ . @ -)"
    if value.startswith("-"):
        return "starts with '-', which systemctl and systemd-analyze would take for an option"
    if checked_by_tools and ":" in value:
        return _COLON
    if not value.endswith(suffixes):
        return "must end in " + " or ".join(suffixes)
    stem = value.rsplit(".", 1)[0]
    if not stem or stem.startswith((".", "@")) or stem.count("@") > 1:
        return "is not a valid unit name"
    if stem.endswith("@"):
        return "is a template (NAME@.service): name an instance of it (NAME@INSTANCE.service)"
    return None


_COLON = (
    "contains ':', which systemd-analyze verify reads as its FILE:ALIAS separator, so the "
    "unit could not be checked"
)


def unit_prefix_problem(value: str) -> str | None:
    """Why ``value`` cannot prefix our unit names (e.g. ``NAME-autocleanup.service``); the
    length of the file names it makes is checked by filenames.prefix_problem."""
    problem = line_problem(value)
    if problem:
        return problem
    if not value:
        return "is empty"
    if ":" in value and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9:_.-]*", value):
        return _COLON
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
        return (
            "has characters outside systemd's unit-name rules "
            "(start with a letter or digit, then A-Z a-z 0-9 _ . -)"
        )
    return None


def timespan_problem(value: str, minimum: int = 1) -> tuple[str, str | None] | None:
    """(message, hint) when ``value`` is not a systemd time span of at least ``minimum``
    microseconds that can stand in a unit file as written, else None."""
    problem = line_problem(value)
    if problem:
        return problem, None
    try:
        usec = timespan.parse(value)
    except timespan.Invalid as invalid:
        if invalid.reason == "negative":
            return "is negative", None
        if invalid.reason == "range":
            return (
                "is longer than systemd can count (about 584,542 years)",
                "write 'infinity' for no limit",
            )
        return "is not a systemd time span such as '30min', '1h 30min' or '90s'", None
    if usec < minimum:
        if minimum == 1:
            return "must be longer than zero", "write 'infinity' for no limit"
        return f"must be at least {minimum} microseconds", None
    return None


def is_within(path: str, directory: str) -> bool:
    """Whether normalised absolute ``path`` lies strictly inside ``directory``."""
    if directory == "/":
        return path != "/"
    return path.startswith(directory + "/")
