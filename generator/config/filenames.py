"""The file names a config makes, and the limits every one of them must fit.

``name``, ``finalize.unit`` and ``install.wanted-by`` become file and directory names: the unit,
its timer, the finalize drop-in and its directory, the preset, the ``.wants/`` directory, and
the temporary names the writers use while they put each of those in place. A name that fits
systemd's unit-name limit can still make one of those longer than a filesystem allows, and the
write then fails half-way with "File name too long". Every such name is checked here, at
validation time, against the limit that applies to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..rootfs import TEMP_PREFIX

UNIT_NAME_MAX = 255  # systemd's UNIT_NAME_MAX (256) less the terminating NUL
NAME_MAX = 255  # bytes in one path component on Linux filesystems


def temporary_names(name: str) -> Iterator[tuple[str, str]]:
    """(writer, temporary name) for each writer that puts file or directory ``name`` in place.

    The random parts are spelled as x's of their length; tests write at the limit with the real
    writers, so a writer whose temporary names grow fails there.
    """
    yield "install and render --output", f"{TEMP_PREFIX}{name}.{'x' * 8}"
    yield "the boot-time generator", f".#{name}.tmp"
    yield "systemctl (for the .wants/ link)", f".#{name}{'x' * 16}"


# preset-priority is 0 to 99 and always written with two digits.
_PRIORITY = "99"


def files_of_prefix(prefix: str) -> tuple[tuple[str, str, bool], ...]:
    """(what, file name, is a unit name) for every file named after ``name``."""
    return (
        ("the cleanup unit", f"{prefix}-autocleanup.service", True),
        ("the cleanup timer", f"{prefix}-autocleanup.timer", True),
        ("the finalize drop-in", f"{_PRIORITY}-{prefix}-autocleanup.conf", False),
        ("the preset file", f"{_PRIORITY}-{prefix}-autocleanup.preset", False),
    )


def _problem(what: str, name: str, is_unit: bool) -> str | None:
    if is_unit and len(name) > UNIT_NAME_MAX:
        return f"makes {what}'s name longer than systemd's limit of {UNIT_NAME_MAX} characters"
    if len(name.encode()) > NAME_MAX:
        return f"makes {what}'s file name longer than the {NAME_MAX} bytes a file name may have"
    for writer, temporary in temporary_names(name):
        if len(temporary.encode()) > NAME_MAX:
            return (
                f"makes the temporary name that {writer} writes {what} under longer than the "
                f"{NAME_MAX} bytes a file name may have"
            )
    return None


def prefix_problem(prefix: str) -> str | None:
    """Why a file named after ``prefix`` (the ``name`` setting) would not fit, or None."""
    for what, name, is_unit in files_of_prefix(prefix):
        problem = _problem(what, name, is_unit)
        if problem:
            return problem
    return None


def longest_prefix() -> int:
    """The longest ``name`` all of whose files fit (names are ASCII: one byte a character)."""
    return max(n for n in range(UNIT_NAME_MAX + 1) if prefix_problem("n" * n) is None)


def directory_problem(unit: str, suffix: str) -> str | None:
    """Why directory ``unit + suffix`` (``.d`` for drop-ins, ``.wants``) would not fit."""
    return _problem(f"the {suffix} directory", unit + suffix, False)


def longest_unit_with(suffix: str) -> int:
    return max(n for n in range(UNIT_NAME_MAX + 1) if directory_problem("u" * n, suffix) is None)
