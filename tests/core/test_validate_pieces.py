"""validate.py called directly: the checks of one value and the rules between settings.

Each case gives one or two config files (read in that order, the later overriding) and pins the
exact lines a user reads, hints included, or the exact overrides that end up in the Config:
a directive checked on its own, a path list item by item, a directive map merged across files,
and each rule between settings, which is skipped when one of its inputs already failed (one
mistake, one message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ostree_autocleanup.generator.config import validate
from ostree_autocleanup.generator.config.model import Config
from ostree_autocleanup.generator.config.yamlsource import SourceFile, read_source
from ostree_autocleanup.generator.errors import ConfigErrors

UNKNOWN = "is not a sandboxing directive of systemd.exec(5) or systemd.resource-control(5)"
READONLY = (
    "sysroot-readonly: the ostree-cli backend cannot clean a read-only sysroot: its touch and "
    "rm of the stamp run where the sysroot stays read-only, and `ostree prune` never remounts "
    "it (use cleanup.backend: helper)"
)


def _sources(tmp_path: Path, texts: tuple[str, ...]) -> list[SourceFile]:
    sources = []
    for number, text in enumerate(texts):
        path = tmp_path / f"{number}.yaml"
        path.write_text("version: 1\n" + text, encoding="utf-8")
        sources.append(read_source(str(path), f"{number}.yaml"))
    return sources


def errors_of(tmp_path: Path, *texts: str) -> list[str]:
    with pytest.raises(ConfigErrors) as raised:
        validate.build_config(_sources(tmp_path, texts))
    return [str(error) for error in raised.value.errors]


def config_of(tmp_path: Path, *texts: str) -> Config:
    return validate.build_config(_sources(tmp_path, texts))


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param(
            (
                "sandbox:\n  directives:\n    ProtectHom: yes\n    PrivateTmpp: yes\n"
                "    ProtectHome: yes\n",
            ),
            [
                "0.yaml:4:5: error: sandbox.directives.ProtectHom: "
                f"'ProtectHom' {UNKNOWN} (did you mean 'ProtectHome'?)",
                "0.yaml:5:5: error: sandbox.directives.PrivateTmpp: "
                f"'PrivateTmpp' {UNKNOWN} (did you mean 'PrivateTmp'?)",
            ],
            id="every-unknown-name-at-its-name-with-a-suggestion",
        ),
        pytest.param(
            (
                "sandbox:\n  directives:\n    ProtectHome: []\n    PrivateTmp: [yes, no]\n"
                "    ProtectSystem: [x]\n",
            ),
            [
                "0.yaml:4:18: error: sandbox.directives.ProtectHome: is an empty list, which "
                "writes no line and so removes the directive "
                "(write null to remove it, or '' for an empty value)",
                "0.yaml:5:17: error: sandbox.directives.PrivateTmp: takes one value: with "
                "several PrivateTmp= lines, systemd uses only the last",
                "0.yaml:6:21: error: sandbox.directives.ProtectSystem: "
                "'x' is not one of yes, no, full, strict",
            ],
            id="each-directive-after-a-bad-one-is-still-checked",
        ),
        pytest.param(
            ("sandbox:\n  read-write-paths: [/sysroot/, /boot/../x]\n",),
            [
                "0.yaml:3:22: error: sandbox.read-write-paths: '/sysroot/' has a trailing '/' "
                "(did you mean '/sysroot'?)",
                "0.yaml:3:33: error: sandbox.read-write-paths: '/boot/../x' is not normalised "
                "(no '//', '.' or '..' components) (did you mean '/x'?)",
            ],
            id="path-items-each-with-its-hint",
        ),
        pytest.param(
            ("sysroot-readonly: yes\ncleanup:\n  backend: ostree-cli\n",),
            [f"0.yaml:2:19: error: {READONLY}"],
            id="read-only-sysroot-with-ostree-cli",
        ),
        pytest.param(
            (
                "sysroot-readonly: yes\n",
                "sysroot-readonly: maybe\ncleanup:\n  backend: ostree-cli\n",
            ),
            ["1.yaml:2:19: error: sysroot-readonly: 'maybe' is not one of yes, no"],
            id="read-only-rule-skipped-when-sysroot-readonly-failed",
        ),
        pytest.param(
            (
                "sysroot-readonly: yes\ncleanup:\n  backend: ostree-cli\n",
                "cleanup:\n  backend: bogus\n",
            ),
            ["1.yaml:3:12: error: cleanup.backend: 'bogus' is not one of helper, ostree-cli"],
            id="read-only-rule-skipped-when-backend-failed",
        ),
        pytest.param(
            ("sysroot: /other\nstamp: /var/.cleanup\n",),
            [
                "0.yaml:3:8: error: stamp: stamp '/var/.cleanup' is not inside the sysroot "
                "'/other' (for example '/other/.cleanup')"
            ],
            id="stamp-outside-the-sysroot",
        ),
        pytest.param(
            ("stamp: /var/.cleanup\n", "stamp: var\n"),
            ["1.yaml:2:8: error: stamp: 'var' is not an absolute path"],
            id="stamp-rules-skipped-when-stamp-failed",
        ),
        pytest.param(
            (
                "sysroot: /other\nstamp: /sysroot/.cleanup\nsandbox:\n  read-write-paths: [/boot]\n",
                "sysroot: relative\n",
            ),
            ["1.yaml:2:10: error: sysroot: 'relative' is not an absolute path"],
            id="stamp-rules-skipped-when-sysroot-failed",
        ),
        pytest.param(
            ("sandbox:\n  read-write-paths: [/boot]\n",),
            [
                "0.yaml:3:21: error: sandbox.read-write-paths: does not include '/sysroot', the "
                "directory of the stamp (the cleanup must be able to remove the stamp, or it "
                "runs again at every boot)"
            ],
            id="read-write-paths-without-the-stamp-directory",
        ),
    ],
)
def test_errors(tmp_path: Path, texts: tuple[str, ...], expected: list[str]) -> None:
    assert errors_of(tmp_path, *texts) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param(
            ("sandbox:\n  directives:\n    ProtectHome: null\n    PrivateTmp: [yes]\n",),
            (("ProtectHome", None), ("PrivateTmp", ("yes",))),
            id="null-removes-and-a-one-item-list-is-one-value",
        ),
        pytest.param(
            (
                "sandbox:\n  directives:\n    ProtectHome: yes\n    PrivateTmp: yes\n",
                "sandbox:\n  directives:\n    PrivateTmp: no\n    ProtectSystem: full\n",
            ),
            (("ProtectHome", ("yes",)), ("PrivateTmp", ("no",)), ("ProtectSystem", ("full",))),
            id="a-later-file-overrides-directive-by-directive",
        ),
    ],
)
def test_directives(
    tmp_path: Path, texts: tuple[str, ...], expected: tuple[tuple[str, object], ...]
) -> None:
    assert config_of(tmp_path, *texts).sandbox.directives == expected
