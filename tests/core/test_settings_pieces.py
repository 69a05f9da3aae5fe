"""settings.py's kinds and unitsafe.py's unit-name rules called directly, at their edges: the
message and hint of each refusal, a value's length where the message starts to cut it short,
the prefix and unit names with capitals and several dots, and the read-write paths a derived
default keeps. The config tests reach these through whole configs; here each is pinned."""

from __future__ import annotations

from typing import Any

import pytest

from ostree_autocleanup.generator.config import settings, unitsafe
from ostree_autocleanup.generator.config.settings import Problem

COLON = (
    "contains ':', which systemd-analyze verify reads as its FILE:ALIAS separator, so the "
    "unit could not be checked"
)
PREFIX_CHARS = (
    "has characters outside systemd's unit-name rules "
    "(start with a letter or digit, then A-Z a-z 0-9 _ . -)"
)
TEMPLATE = "is a template (NAME@.service): name an instance of it (NAME@INSTANCE.service)"
NOT_NORMALISED = "is not normalised (no '//', '.' or '..' components)"


def _refusal(kind: settings.Kind, value: object) -> tuple[str, str | None]:
    with pytest.raises(Problem) as raised:
        kind.parse(value)
    return raised.value.message, raised.value.hint


# --- unitsafe: prefixes and unit names -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Fedora", None),
        ("MyOS-2.0_x", None),
        ("Fedora:os", COLON),
        ("a:B", COLON),
        ("Fedora os", PREFIX_CHARS),
        ("Fedora!", PREFIX_CHARS),
    ],
)
def test_a_prefix_may_have_capitals(value: str, problem: str | None) -> None:
    assert unitsafe.unit_prefix_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("foo@.bar.service", None),
        ("getty@tty1.x.y.service", None),
        ("a.b.c.service", None),
        ("foo@.service", TEMPLATE),
        ("foo.bar@.service", TEMPLATE),
        ("a@b.c@d.service", "is not a valid unit name"),
        (".a.b.service", "is not a valid unit name"),
    ],
)
def test_unit_name_stem_is_everything_before_the_last_dot(value: str, problem: str | None) -> None:
    assert unitsafe.unit_name_problem(value, (".service",)) == problem


# --- settings: the kinds' messages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("relative", "'relative' is not an absolute path", None),
        ("relative/x/", "'relative/x/' is not an absolute path", None),
        ("/a//b", f"'/a//b' {NOT_NORMALISED}", "did you mean '/a/b'?"),
        ("/a/./b", f"'/a/./b' {NOT_NORMALISED}", "did you mean '/a/b'?"),
        ("/a/", "'/a/' has a trailing '/'", "did you mean '/a'?"),
        ("/a%b", "'/a%b' contains '%', which systemd would expand as a specifier", None),
        (
            "/a b",
            "'/a b' contains whitespace, which would split it into several arguments",
            None,
        ),
        ([1], "expected a string, got a list", None),
    ],
)
def test_an_absolute_path_hints_its_normal_form_only_where_there_is_one(
    value: object, message: str, hint: str | None
) -> None:
    assert _refusal(settings.AbsolutePath(), value) == (message, hint)


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1], "a list"), (3, "an integer"), (None, "null"), ("x", "a string")],
)
def test_directives_must_be_a_mapping(value: object, kind: str) -> None:
    assert _refusal(settings.DirectiveMap(), value) == (
        f"expected a mapping of directive names to values, got {kind}",
        None,
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a" * 59 + "!", repr("a" * 59 + "!")),
        ("a" * 60 + "!", f"{'a' * 40!r}... (61 characters)"),
        ("a" * 61 + "!", f"{'a' * 40!r}... (62 characters)"),
    ],
)
def test_a_value_of_more_than_60_characters_is_cut_short(value: str, shown: str) -> None:
    assert _refusal(settings.UnitPrefix(), value) == (f"{shown} {PREFIX_CHARS}", None)


def test_the_delay_must_be_finite() -> None:
    delay = settings.BY_KEY["scheduling.delay"].kind
    assert delay.parse("0") == "0"
    assert _refusal(delay, "infinity") == (
        "'infinity' is not a finite time span",
        "the timer would never elapse",
    )
    assert settings.TimeSpan(minimum=0, finite=True).describe() == (
        "systemd time span (`0`, `90s`, `15min`)"
    )


# --- settings: the derived read-write paths --------------------------------------------------


def _read_write_paths(**decided: Any) -> Any:
    values = {"sysroot": "/sysroot", "cleanup.mode": "prune", "cleanup.backend": "helper"}
    values.update(decided)
    return settings.BY_KEY["sandbox.read-write-paths"].default_for(values)


@pytest.mark.parametrize(
    ("backend", "stamp", "paths"),
    [
        ("helper", "/sysroot/.cleanup", ("/sysroot/ostree/repo", "/sysroot/ostree", "/sysroot")),
        ("helper", "/sysroot/ostree/.cleanup", ("/sysroot/ostree/repo", "/sysroot/ostree")),
        ("helper", "/sysroot/ostree/repo/.cleanup", ("/sysroot/ostree/repo", "/sysroot/ostree")),
        ("helper", "/sysroot/ostree/repo/s/.cleanup", ("/sysroot/ostree/repo", "/sysroot/ostree")),
        ("ostree-cli", "/sysroot/ostree/repo/.cleanup", ("/sysroot/ostree/repo",)),
        ("ostree-cli", "/sysroot/s/.cleanup", ("/sysroot/ostree/repo", "/sysroot/s")),
    ],
)
def test_prune_paths_name_each_directory_once(
    backend: str, stamp: str, paths: tuple[str, ...]
) -> None:
    assert _read_write_paths(**{"cleanup.backend": backend, "stamp": stamp}) == paths
