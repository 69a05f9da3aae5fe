"""The exposure score of the rendered service, by the real `systemd-analyze security --offline`.

0 is best, 10 worst; 0.5 is the floor of a service that runs as root in the host's root
directory (User= 0.4, RootDirectory= 0.1 minus what DeviceAllow= adds). The targets: at most
1.2 in full mode, at most 0.6 in prune mode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ostree_autocleanup.generator.checks.verify import default_max_exposure
from ostree_autocleanup.generator.config import directives
from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.units.render import render_units

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)

TARGET = {"full": 1.2, "prune": 0.6}
# What full mode keeps on purpose (see test_confinement.py for why each is needed).
FULL_FINDINGS = {
    "User=/DynamicUser=",
    "CapabilityBoundingSet=~CAP_SYS_PTRACE",
    "CapabilityBoundingSet=~CAP_LINUX_IMMUTABLE",
    "PrivateUsers=",
    "DeviceAllow=",
    "RootDirectory=/RootImage=",
}
PRUNE_FINDINGS = {"User=/DynamicUser=", "DeviceAllow=", "RootDirectory=/RootImage="}
# sysroot-readonly: yes adds exactly what a remount in a namespace of the helper's own takes.
REMOUNT_FINDINGS = {
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "RestrictNamespaces=~mnt",
    "SystemCallFilter=~@mount",
}
READONLY_SCORE = {"full": 1.6, "prune": 1.3}


def security(tmp_path: Path, config_text: str) -> tuple[float, set[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    config = load_config([str(path)])
    unit = tmp_path / config.unit_name
    unit.write_text(render_units(config)[config.unit_name])
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    findings = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("✗")}
    return float(match[1]), findings


@pytest.mark.parametrize("backend", ["helper", "ostree-cli"])
@pytest.mark.parametrize("mode", ["full", "prune"])
def test_rendered_service_meets_the_exposure_target(
    tmp_path: Path, mode: str, backend: str
) -> None:
    score, findings = security(
        tmp_path, f"version: 1\ncleanup:\n  mode: {mode}\n  backend: {backend}\n"
    )
    assert score <= TARGET[mode]
    assert findings <= (FULL_FINDINGS if mode == "full" else PRUNE_FINDINGS), findings


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_shipped_examples_meet_the_target_of_their_mode(tmp_path: Path, example: Path) -> None:
    config = load_config([str(example)])
    score, _findings = security(tmp_path, example.read_text())
    assert score <= default_max_exposure(config)
    if not config.sysroot_readonly:
        assert score <= TARGET[config.cleanup.mode]


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_a_read_only_sysroot_adds_only_the_remount(tmp_path: Path, mode: str) -> None:
    plain, plain_findings = security(tmp_path, f"version: 1\ncleanup:\n  mode: {mode}\n")
    score, findings = security(
        tmp_path, f"version: 1\nsysroot-readonly: yes\ncleanup:\n  mode: {mode}\n"
    )
    assert score == READONLY_SCORE[mode]
    assert plain < score <= default_max_exposure(load_config([str(tmp_path / "config.yaml")]))
    # Prune mode also loses its user namespace: the read-only flag is locked inside one.
    extra = {"PrivateUsers="} if mode == "prune" else set()
    assert findings - plain_findings == REMOUNT_FINDINGS | extra
    # Nothing else widened: every other finding is the mode's usual one.
    assert findings - REMOUNT_FINDINGS - extra <= (
        FULL_FINDINGS if mode == "full" else PRUNE_FINDINGS
    )


def test_prune_mode_is_at_the_floor_of_a_root_service(tmp_path: Path) -> None:
    score, findings = security(tmp_path, "version: 1\ncleanup:\n  mode: prune\n")
    assert score == 0.5
    assert not any(f.startswith("CapabilityBoundingSet") for f in findings)


def test_an_override_shows_in_the_score(tmp_path: Path) -> None:
    base, _ = security(tmp_path, "version: 1\ncleanup:\n  mode: prune\n")
    widened, findings = security(
        tmp_path,
        "version: 1\ncleanup:\n  mode: prune\n"
        "sandbox:\n  directives:\n    PrivateUsers: null\n    CapabilityBoundingSet: null\n",
    )
    assert widened > TARGET["prune"] > base
    assert "PrivateUsers=" in findings


def test_every_overridable_directive_is_known_to_systemd(tmp_path: Path) -> None:
    unit = tmp_path / "probe.service"
    lines = "".join(f"{name}=\n" for name in sorted(directives.KNOWN))
    unit.write_text(f"[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n{lines}")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    unknown = [line for line in result.stderr.splitlines() if "Unknown key" in line]
    assert unknown == []
    # And the check itself sees a misspelt one.
    unit.write_text("[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\nProtectSytem=\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Unknown key" in result.stderr
