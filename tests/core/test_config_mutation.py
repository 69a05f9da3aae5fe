"""The validator's kinds called directly, each with its exact message: what the bad-config
cases reach only through the settings table built at import."""

from __future__ import annotations

from typing import Any

import pytest

from ostree_autocleanup.generator.config import settings
from ostree_autocleanup.generator.config.settings import Problem


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (True, "a boolean"),
        (5, "an integer"),
        (2.5, "a number"),
        ("s", "a string"),
        ([], "a list"),
        ({}, "a mapping"),
        (None, "null"),
        (b"x", "bytes"),
        (object(), "object"),
    ],
)
def test_every_kind_of_value_is_named(value: object, name: str) -> None:
    assert settings._kind_name(value) == name
    if isinstance(value, str):
        return
    with pytest.raises(Problem, match=rf"^expected a string, got {name}$"):
        settings._need_str(value)


def _problem(kind: settings.Kind, value: Any) -> tuple[str, str | None]:
    with pytest.raises(Problem) as caught:
        kind.parse(value)
    return caught.value.message, caught.value.hint


def test_integer_bounds_are_its_own() -> None:
    kind = settings.Integer(2, 5)
    assert [kind.parse(n) for n in (2, 5)] == [2, 5]
    assert _problem(kind, 1) == ("1 is out of range", "allowed: 2 to 5")
    assert _problem(kind, 6) == ("6 is out of range", "allowed: 2 to 5")
    assert _problem(kind, "3") == ("expected an integer, got a string", None)
    assert _problem(kind, True) == ("expected an integer, got a boolean", None)
    assert kind.schema() == {"type": "integer", "minimum": 2, "maximum": 5}
    assert kind.describe() == "integer, 2 to 5"


def test_choice_takes_its_own_choices() -> None:
    kind = settings.Choice("red", "green")
    assert kind.parse("green") == "green"
    assert _problem(kind, "gren") == ("'gren' is not one of red, green", "did you mean 'green'?")
    assert _problem(kind, "blue")[0] == "'blue' is not one of red, green"
    assert kind.schema() == {"enum": ["red", "green"]}
    assert kind.describe() == "one of `red`, `green`"
    yes_no = settings.Choice("yes", "no", "auto")
    assert yes_no.parse(True) == "yes" and yes_no.parse(False) == "no"
    assert yes_no.schema() == {"oneOf": [{"enum": ["yes", "no", "auto"]}, {"type": "boolean"}]}
    assert _problem(kind, True)[0].startswith("expected a string, got a boolean")


def test_an_executable_path_is_not_the_root_directory() -> None:
    assert settings.AbsolutePath().parse("/") == "/"
    message, _ = _problem(settings.AbsolutePath(executable=True), "/")
    assert message == (
        "'/' is a directory: systemd refuses to run it ('Executable path specifies a directory')"
    )
    assert settings.AbsolutePath(executable=True).parse("/usr/bin/x") == "/usr/bin/x"


def test_unit_names_take_their_own_suffixes_directory_and_colon_rule() -> None:
    kind = settings.UnitName(".timer", directory=".wants")
    assert kind.parse("a:b.timer") == "a:b.timer"
    assert "must end in .timer" in _problem(kind, "a.service")[0]
    assert kind.schema()["pattern"] == r"^[A-Za-z0-9_:][A-Za-z0-9:_.@-]*(\.timer)$"
    assert kind.describe() == "unit name ending in `.timer`"
    tools = settings.UnitName(".service", ".target", directory=".d", checked_by_tools=True)
    assert tools.schema()["pattern"] == r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*(\.service|\.target)$"
    assert ":" in _problem(tools, "a:b.service")[0]
    longest_d = tools.schema()["maxLength"]
    longest_wants = kind.schema()["maxLength"]
    assert longest_d - longest_wants == len(".wants") - len(".d")
    _message, hint = _problem(tools, "u" * (longest_d - len(".service") + 1) + ".service")
    assert hint == f"at most {longest_d} characters"


def test_a_time_span_minimum_is_its_own() -> None:
    assert settings.TimeSpan(minimum=0).parse("0") == "0"
    assert _problem(settings.TimeSpan(), "0")[0].startswith("'0' ")
    assert settings.TimeSpan().parse(90) == "90"
    assert _problem(settings.TimeSpan(), True)[0] == "expected a string, got a boolean"


def test_boolean_directive_values_and_the_newer_ones() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    check = v.boolean(newer=("self",))
    assert [check(w) for w in ("yes", "No", "1", "off", "T")] == [None] * 5
    assert check("self") == v._NEEDS_257
    assert check("maybe") == "is not a boolean (yes or no)"
    assert v.boolean()("self") == "is not a boolean (yes or no)"


def test_choice_directive_values_with_and_without_booleans_and_empty() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    plain = v.choice("full", "strict")
    assert plain("full") is None and plain("strict") is None
    assert plain("Full") == "is not one of full, strict"
    assert plain("yes") == "is not one of full, strict"
    assert plain("") == "is not one of full, strict"
    both = v.choice("full", booleans=True)
    assert both("yes") is None and both("off") is None and both("full") is None
    assert both("") == "is not one of yes, no, full"
    empty = v.choice("shared", empty=True)
    assert empty("") is None and empty("shared") is None
    assert empty("yes") == "is not one of shared"


def test_an_empty_value_resets_these_directives() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    for check in (v.bind_paths, v.root_directory, v.group, v.supplementary_groups, v.device_allow):
        assert check("") is None, check
    assert v._path("") is not None  # what each would say without its reset


def test_device_allow_checks_the_device_path() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v.device_allow("char-pts rw") is None
    assert v.device_allow("/dev/sda rw") is None
    assert v.device_allow("/dev/../sda rw") == (
        "has the device path '/dev/../sda', which is not normalised (no '//', '.' or '..' components)"
    )
    assert v.device_allow("x") == (
        "is not a device (/dev/... or char-NAME or block-NAME), then optionally a space and rwm"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("2.5", "expected an integer, got 2.5"),
        ("3.0", "expected an integer, got 3.0 (write 3 without a point)"),
    ],
)
def test_only_a_whole_float_gets_the_hint(
    text: str, line: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from ostree_autocleanup.generator import cli

    path = tmp_path / "c.yaml"
    path.write_text(f"version: 1\ncleanup:\n  max-attempts: {text}\n")
    assert cli.main(["render", "-c", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}:3:17: error: cleanup.max-attempts: {line}\n"


def test_unit_name_kinds_describe_every_suffix() -> None:
    kind = settings.UnitName(".service", ".target", directory=".d")
    assert kind.describe() == "unit name ending in `.service` or `.target`"


@pytest.mark.parametrize(
    ("name", "what", "tilde", "good"),
    [
        ("address_families", "an address family (AF_...)", True, "AF_UNIX"),
        ("filesystems", "a filesystem or filesystem group", True, "ext4"),
        ("system_call_log", "a system call or @group both systemd 252 and 257 know", True, "mount"),
        ("architectures", "an architecture (native, x86-64, ...)", False, "native"),
        ("secure_bits", "a secure bit", False, "noroot"),
        ("namespaces", "a namespace (cgroup ipc mnt net pid time user uts)", True, "net"),
    ],
)
def test_word_list_directives_name_what_they_take(
    name: str, what: str, tilde: bool, good: str
) -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    check = getattr(v, name)
    assert check(good) is None and check(f"{good} {good}") is None and check("") is None
    assert check("bogus") == f"is not {what}"
    assert check(f"{good} bogus") == f"names 'bogus', which is not {what}"
    assert check(f"{good}  {good}") == "has two spaces in a row or a space after '~'"
    if tilde:
        assert check(f"~{good}") is None
        assert check(f"~ {good}") == "has two spaces in a row or a space after '~'"
        assert check(f"{good} ~{good}") == (
            "has '~' inside the list: it may only start it, and then applies to all of it"
        )
    else:  # no inverted form: a '~' is refused wherever it stands
        assert check(f"~{good}") == (
            "has '~' inside the list: it may only start it, and then applies to all of it"
        )


def test_address_family_none_stands_alone() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v.address_families("none") is None
    message = "uses 'none' with '~' or other words: 'none' stands alone"
    assert v.address_families("~none") == message
    assert v.address_families("AF_UNIX none") == message


def test_error_number_resets_with_an_empty_value() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v.error_number("") is None and v.error_number("EPERM") is None
    assert v.error_number("x") == (
        "is not an error name such as EPERM, a number from 1 to 4095, or kill"
    )


def test_capabilities_in_lower_case_get_a_hint() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    hint = "; write capability names in capitals"
    assert v.capabilities("cap_kill") == "is not a capability (CAP_...)" + hint
    assert v.capabilities("~cap_kill") == "is not a capability (CAP_...)" + hint
    assert v.capabilities("CAP_KILL cap_chown") == (
        "names 'cap_chown', which is not a capability (CAP_...)" + hint
    )
    assert v.capabilities("cap_bogus") == "is not a capability (CAP_...)"
    assert v.capabilities("~CAP_KILL CAP_CHOWN") is None
    assert v.capabilities("CAP_KILL ~CAP_CHOWN").startswith("has '~' inside the list")


def test_interface_names() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v.interfaces("Eth0 a.b x" + "y" * 14) is None
    assert v.interfaces("..") == "is not an interface name (at most 15 characters)"
    assert v.interfaces(".") == "is not an interface name (at most 15 characters)"
    assert v.interfaces("x" * 16) == "is not an interface name (at most 15 characters)"
    assert v.interfaces("~eth0 eth1") is None
    assert v.interfaces("eth0 ~eth1").startswith("has '~' inside the list")


def test_socket_bind_ports() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    bad = "is not [ipv4:|ipv6:][tcp:|udp:]PORT[-PORT] (ports 1 to 65535) or any"
    for good in ("", "any", "ipv4:tcp:any", "65535", "1-65535", "ipv6:udp:80-80"):
        assert v.socket_bind(good) is None, good
    for wrong in ("ANY", "65536", "2-1", "1-65536", "x"):
        assert v.socket_bind(wrong) == bad, wrong


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", 1),
        ("1K", 1024),
        ("1.5K", 1536),
        ("1.25M", 5 << 18),
        ("0.5", 0),
        ("2.05K", 2 * 1024 + 51),
        ("3E", 3 << 60),
    ],
)
def test_sizes_are_powers_of_1024_with_fractions(text: str, size: int) -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v._bytes(text) == size


def test_memory_and_tasks_limits() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    share = "must be more than 0% and at most 100%"
    for check in (v.memory, v.tasks):
        assert check("") is None and check("infinity") is None
        assert check("100%") is None and check("0.01%") is None
        assert check("0%") == share and check("100.01%") == share
    assert v.memory("1") is None and v.memory("3.99E") is None
    assert v.memory("0") == "is out of range (at least one byte, at most 4E)"
    assert v.memory("4E") == "is out of range (at least one byte, at most 4E)"
    assert v.memory("1X") == (
        "is not a size (512M, 1.5G: K M G T P E are powers of 1024), a percentage or infinity"
    )
    assert v.tasks("1") is None and v.tasks(str((1 << 62) - 1)) is None
    for wrong in ("0", "01", str(1 << 62), "x"):
        assert v.tasks(wrong) == "is not a positive number of tasks, a percentage or infinity"


def test_io_weight_range() -> None:
    from ostree_autocleanup.generator.config import directivevalues as v

    assert v.io_weight("") is None and v.io_weight("1") is None and v.io_weight("10000") is None
    for wrong in ("0", "10001", "01", "x"):
        assert v.io_weight(wrong) == "is not a weight from 1 to 10000"


def test_directive_maps_of_two_files_merge_directive_by_directive() -> None:
    from ostree_autocleanup.generator.config.validate import merge
    from ostree_autocleanup.generator.config.yamlsource import Located, SourceFile
    from ostree_autocleanup.generator.errors import Mark

    def directives(file: str, **values: Any) -> SourceFile:
        mark = Mark(file, 3, 5)
        items = tuple(
            ((name, value, Mark(file, 4 + i, 5), ()), Mark(file, 4 + i, 9))
            for i, (name, value) in enumerate(values.items())
        )
        located = Located(dict(values), mark, items)
        return SourceFile(file, {"sandbox.directives": located, "name": Located(file, mark)}, [])

    merged = merge(
        [directives("a.yaml", User="a", UMask="0077"), directives("b.yaml", User="b", Nice="5")]
    )
    result = merged["sandbox.directives"]
    assert result.value == {"User": "b", "UMask": "0077", "Nice": "5"}
    assert result.mark == Mark("b.yaml", 3, 5)
    assert [(item[0][0], item[1].file) for item in result.items] == [
        ("User", "b.yaml"),
        ("UMask", "a.yaml"),
        ("Nice", "b.yaml"),
    ]
    assert merged["name"].value == "b.yaml"  # anything else: the later file wins whole
