"""`sandbox.directives`: overriding, adding and dropping sandbox directives from the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.errors import ConfigErrors
from ostree_autocleanup.generator.units.render import render_units
from support.unitfile import parse_unit


def service(tmp_path: Path, *texts: str) -> dict[str, list[str]]:
    files = []
    for index, text in enumerate(texts):
        path = tmp_path / f"{index}.yaml"
        path.write_text(text)
        files.append(str(path))
    config = load_config(files)
    out: dict[str, list[str]] = {}
    for section, key, value in parse_unit(render_units(config)[config.unit_name]):
        if section == "Service":
            out.setdefault(key, []).append(value)
    return out


def test_replace_add_split_and_drop(tmp_path: Path) -> None:
    default = service(tmp_path, "version: 1\n")
    assert default["SystemCallFilter"] == ["@system-service", "~@privileged @resources @mount"]
    changed = service(
        tmp_path,
        "version: 1\nsandbox:\n  directives:\n"
        "    SystemCallFilter: ['@system-service', '~@privileged']\n"
        "    ProtectProc: null\n"
        "    PrivateUsers: no\n"
        "    MemoryMax: 512M\n",
    )
    assert changed["SystemCallFilter"] == ["@system-service", "~@privileged"]
    assert "ProtectProc" not in changed
    assert changed["PrivateUsers"] == ["no"]  # YAML's boolean, written as systemd spells it
    assert changed["MemoryMax"] == ["512M"]
    # Everything not named stays as it was.
    for key in ("ProtectSystem", "CapabilityBoundingSet", "ReadWritePaths", "ProcSubset"):
        assert changed[key] == default[key]


def test_later_files_override_directive_by_directive(tmp_path: Path) -> None:
    merged = service(
        tmp_path,
        "version: 1\nsandbox:\n  directives:\n    MemoryMax: 1G\n    TasksMax: 64\n",
        "version: 1\nsandbox:\n  directives:\n    MemoryMax: 2G\n    ProtectClock: null\n",
    )
    assert merged["MemoryMax"] == ["2G"]
    assert merged["TasksMax"] == ["64"]
    assert "ProtectClock" not in merged


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "    ProtectSytem: strict\n",
            "4:5: error: sandbox.directives.ProtectSytem: 'ProtectSytem' is not a sandboxing "
            "directive of systemd.exec(5) or systemd.resource-control(5) "
            "(did you mean 'ProtectSystem'?)",
        ),
        (
            "    ExecStart: /bin/sh\n",
            "4:5: error: sandbox.directives.ExecStart: 'ExecStart' is not a sandboxing",
        ),
        (
            "    ReadWritePaths: /\n",
            "4:5: error: sandbox.directives.ReadWritePaths: ReadWritePaths is not set here "
            "(use sandbox.read-write-paths)",
        ),
        (
            "    TemporaryFileSystem: /var/%h\n",
            "4:26: error: sandbox.directives.TemporaryFileSystem: '/var/%h' contains '%'",
        ),
        (
            '    UMask: "0077\\nUser=nobody"\n',
            "4:12: error: sandbox.directives.UMask: '0077\\nUser=nobody' contains a line break",
        ),
        (
            "    NoNewPrivileges: {a: 1}\n",
            "4:22: error: sandbox.directives.NoNewPrivileges: expected a plain value",
        ),
        ("  directives: strict\n", "3:15: error: sandbox.directives: expected a mapping"),
    ],
)
def test_bad_overrides_point_at_the_node(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    prefix = "version: 1\nsandbox:\n" + ("" if yaml_text.startswith("  d") else "  directives:\n")
    path.write_text(prefix + yaml_text)
    with pytest.raises(ConfigErrors) as caught:
        load_config([str(path)])
    messages = [str(e) for e in caught.value.errors]
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{path}:{expected}"), messages
