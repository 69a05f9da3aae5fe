"""unitsafe.py called directly: each rule for what may stand in a unit file, to the message.

The config tests reach these rules through whole configs; here every branch is pinned to the
exact message a user reads, so that a rule dropped or reordered fails a named case."""

from __future__ import annotations

import pytest

from ostree_autocleanup.generator.config import unitsafe

LINE_BREAK = "contains a line break, which would start a new directive"
PERCENT = "contains '%', which systemd would expand as a specifier"
BACKSLASH = "ends with a backslash, which systemd reads as a line continuation"
SECTION = "starts with '[', which systemd reads as a section header"
BLANKS = "has leading or trailing whitespace, which systemd would drop"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", None),
        ("plain value", None),
        ("a\nb", LINE_BREAK),
        ("a\rb", LINE_BREAK),
        ("a\tb", "contains the control character U+0009"),
        ("a\x00b", "contains the control character U+0000"),
        ("a\x1fb", "contains the control character U+001F"),
        ("a\x7fb", "contains the control character U+007F"),
        ("a\x80b", "contains the control character U+0080"),
        ("a\x9fb", "contains the control character U+009F"),
        ("a\u2028b", "contains the control character U+2028"),
        ("a\u2029b", "contains the control character U+2029"),
        ("a\ufeffb", "contains the control character U+FEFF"),
        ("a\xa0b", None),
        ("a b\x20", BLANKS),
        ("50%", PERCENT),
        ("path\\", BACKSLASH),
        ("a\\b", None),
        ("[Service]", SECTION),
        (" [x", SECTION),
        ("x[y]", None),
        (" a", BLANKS),
        ("a ", BLANKS),
        # The first problem found is the one reported: characters, then %, then the rest.
        ("%\n", LINE_BREAK),
        ("[%", PERCENT),
    ],
)
def test_line_problem(value: str, problem: str | None) -> None:
    assert unitsafe.line_problem(value) == problem


def test_line_problem_takes_percent_literally_where_systemd_does() -> None:
    assert unitsafe.line_problem("50%", specifiers=False) is None
    assert unitsafe.line_problem("50%\\", specifiers=False) == BACKSLASH
    assert unitsafe.line_problem("5\n%", specifiers=False) == LINE_BREAK


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("word", None),
        ("", "is empty"),
        ("two words", "contains whitespace, which would split it into several arguments"),
        ("a\xa0b", "contains whitespace, which would split it into several arguments"),
        ('a"b', "contains '\"', which systemd's command-line parser would interpret"),
        ("a'b", "contains \"'\", which systemd's command-line parser would interpret"),
        ("a\\b", "contains '\\\\', which systemd's command-line parser would interpret"),
        ("a;b", "contains ';', which systemd's command-line parser would interpret"),
        ("a%b", PERCENT),
        ("a\nb", LINE_BREAK),
    ],
)
def test_word_problem(value: str, problem: str | None) -> None:
    assert unitsafe.word_problem(value) == problem


DOLLAR = (
    "contains '$': systemd expands environment variables in ExecStart= lines and takes them "
    "as text everywhere else (ReadWritePaths=, ConditionPathExists=), so the path would not "
    "mean one thing"
)
NOT_NORMAL = "is not normalised (no '//', '.' or '..' components)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("/", None),
        ("/sysroot", None),
        ("/sysroot/.cleanup", None),
        ("/a/..b/c.", None),
        ("sysroot", "is not an absolute path"),
        ("./sysroot", "is not an absolute path"),
        ("/sysroot/", "has a trailing '/'"),
        ("//", "has a trailing '/'"),
        ("//sysroot", NOT_NORMAL),
        ("/a//b", NOT_NORMAL),
        ("/a/./b", NOT_NORMAL),
        ("/a/../b", NOT_NORMAL),
        ("/a/.", NOT_NORMAL),
        ("/a/..", NOT_NORMAL),
        ("/$HOME", DOLLAR),
        ("/${X}", DOLLAR),
        ("$X", DOLLAR),
        ("/a b", "contains whitespace, which would split it into several arguments"),
        ("", "is empty"),
    ],
)
def test_path_problem(value: str, problem: str | None) -> None:
    assert unitsafe.path_problem(value) == problem


COLON = (
    "contains ':', which systemd-analyze verify reads as its FILE:ALIAS separator, so the unit "
    "could not be checked"
)
CHARS = "has characters outside systemd's unit-name rules (A-Z a-z 0-9 : _ . @ -)"
SUFFIX = "must end in .service or .socket or .device or .mount or .automount or .swap or " + (
    ".target or .path or .timer or .slice or .scope"
)
INVALID = "is not a valid unit name"
TEMPLATE = "is a template (NAME@.service): name an instance of it (NAME@INSTANCE.service)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("multi-user.target", None),
        ("a_b.service", None),
        ("getty@tty1.service", None),
        ("a.b.timer", None),
        ("x.scope", None),
        ("a:b.service", None),
        ("", "is empty"),
        ("a\n.service", LINE_BREAK),
        ("a" * 247 + ".service", None),
        (
            "a" * 248 + ".service",
            ("is longer than systemd's limit of 255 characters for a unit name"),
        ),
        ("a b.service", CHARS),
        ("a/b.service", CHARS),
        ("a\\x2db.service", CHARS),
        ("é.service", CHARS),
        (
            "-a.service",
            "starts with '-', which systemctl and systemd-analyze would take for an option",
        ),
        ("a.conf", SUFFIX),
        ("a.service.d", SUFFIX),
        ("service", SUFFIX),
        (".service", INVALID),
        ("..service", INVALID),
        ("@a.service", INVALID),
        ("a@b@c.service", INVALID),
        ("getty@.service", TEMPLATE),
        ("a%.service", PERCENT),
    ],
)
def test_unit_name_problem(value: str, problem: str | None) -> None:
    assert unitsafe.unit_name_problem(value) == problem


def test_unit_name_problem_with_other_suffixes_and_for_the_tools() -> None:
    assert unitsafe.unit_name_problem("a.target", (".service",)) == "must end in .service"
    assert unitsafe.unit_name_problem("a.path", (".service", ".path")) is None
    assert unitsafe.unit_name_problem("a:b.service", checked_by_tools=True) == COLON
    assert unitsafe.unit_name_problem("a:b.service", checked_by_tools=False) is None
    # The character rules come first: a bad name is not reported as unverifiable.
    assert unitsafe.unit_name_problem("a:b c.service", checked_by_tools=True) == CHARS
    assert unitsafe.unit_name_problem("-a:b.service", checked_by_tools=True) == (
        "starts with '-', which systemctl and systemd-analyze would take for an option"
    )
    assert unitsafe.unit_name_problem("a:b.conf", checked_by_tools=True) == COLON


PREFIX_CHARS = (
    "has characters outside systemd's unit-name rules "
    "(start with a letter or digit, then A-Z a-z 0-9 _ . -)"
)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ostree", None),
        ("my-os_2.x", None),
        ("9", None),
        ("", "is empty"),
        ("a:b", COLON),
        ("a:", COLON),
        (":a", PREFIX_CHARS),
        ("-a", PREFIX_CHARS),
        (".a", PREFIX_CHARS),
        ("a@b", PREFIX_CHARS),
        ("a b", PREFIX_CHARS),
        ("a:b c", PREFIX_CHARS),
        ("é", PREFIX_CHARS),
        ("a%", PERCENT),
        ("a\n", LINE_BREAK),
    ],
)
def test_unit_prefix_problem(value: str, problem: str | None) -> None:
    assert unitsafe.unit_prefix_problem(value) == problem


NOT_A_SPAN = "is not a systemd time span such as '30min', '1h 30min' or '90s'"


@pytest.mark.parametrize(
    ("value", "minimum", "problem"),
    [
        ("30min", 1, None),
        ("1us", 1, None),
        ("infinity", 1, None),
        ("0", 1, ("must be longer than zero", "write 'infinity' for no limit")),
        ("0s", 1, ("must be longer than zero", "write 'infinity' for no limit")),
        ("0", 0, None),
        ("1us", 2, ("must be at least 2 microseconds", None)),
        ("2us", 2, None),
        ("-1s", 1, ("is negative", None)),
        ("1.5.5s", 1, (NOT_A_SPAN, None)),
        ("soon", 1, (NOT_A_SPAN, None)),
        (
            "584942y",
            1,
            (
                "is longer than systemd can count (about 584,542 years)",
                "write 'infinity' for no limit",
            ),
        ),
        ("1s\n", 1, (LINE_BREAK, None)),
        ("5%", 1, (PERCENT, None)),
    ],
)
def test_timespan_problem(value: str, minimum: int, problem: tuple[str, str | None] | None) -> None:
    assert unitsafe.timespan_problem(value, minimum) == problem


def test_timespan_problem_asks_for_more_than_zero_by_default() -> None:
    assert unitsafe.timespan_problem("0") == (
        "must be longer than zero",
        "write 'infinity' for no limit",
    )
    assert unitsafe.timespan_problem("1us") is None


@pytest.mark.parametrize(
    ("path", "directory", "within"),
    [
        ("/a/b", "/a", True),
        ("/a/b/c", "/a", True),
        ("/a", "/a", False),
        ("/ab", "/a", False),
        ("/", "/", False),
        ("/x", "/", True),
        ("/a", "/a/b", False),
    ],
)
def test_is_within(path: str, directory: str, within: bool) -> None:
    assert unitsafe.is_within(path, directory) is within
