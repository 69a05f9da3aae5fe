"""The exposure score of the rendered service, by the real `systemd-analyze security --offline`
of both eras: Debian 12's systemd 252 and Debian 13's 257 (support.systemd_eras).

0 is best, 10 worst; 0.5 is the floor of a service that runs as root in the host's root
directory (User= 0.4, RootDirectory= 0.1 minus what DeviceAllow= adds). The bounds are the
README's figures, which both versions score alike: 1.0 in full mode, 0.5 in prune mode; 1.4 for
the ostree-cli backend in full mode (CAP_SYS_ADMIN in its bounding set for ostree's privilege
check, and ambient capabilities); 1.6 and 1.3 with a read-only sysroot.
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
from support.systemd_eras import Era, eras

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)

ERAS = eras()
ERA_IDS = [e[0] for e in ERAS]
# The README's figures (section "The sandbox"), the same on systemd 252 and 257.
TARGET = {"full": 1.0, "prune": 0.5}
CLI_FULL_SCORE = 1.4
# What full mode keeps on purpose (see test_confinement.py for why each is needed).
FULL_FINDINGS = {
    "User=/DynamicUser=",
    "CapabilityBoundingSet=~CAP_SYS_PTRACE",
    "CapabilityBoundingSet=~CAP_LINUX_IMMUTABLE",
    "PrivateUsers=",
    "DeviceAllow=",
    "RootDirectory=/RootImage=",
}
# ostree 2025.1's check wants CAP_SYS_ADMIN in the bounding set; securebits keep it out of the
# process, which systemd-analyze does not model, and the two capabilities come as ambient ones.
CLI_FULL_FINDINGS = FULL_FINDINGS | {"CapabilityBoundingSet=~CAP_SYS_ADMIN", "AmbientCapabilities="}
PRUNE_FINDINGS = {"User=/DynamicUser=", "DeviceAllow=", "RootDirectory=/RootImage="}
# sysroot-readonly: yes adds exactly what a remount in a namespace of the helper's own takes.
REMOUNT_FINDINGS = {
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "RestrictNamespaces=~mnt",
    "SystemCallFilter=~@mount",
}
READONLY_SCORE = {"full": 1.6, "prune": 1.3}


@pytest.fixture(params=ERAS, ids=ERA_IDS)
def era(request: pytest.FixtureRequest) -> Era:
    _id, found, why = request.param
    if found is None:
        pytest.skip(why)
    value: Era = found
    return value


def security(tmp_path: Path, config_text: str, era: Era | None = None) -> tuple[float, set[str]]:
    """The score and the failed checks of the service rendered from ``config_text``, by the
    systemd-analyze of ``era`` (None: this machine's)."""
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    config = load_config([str(path)])
    text = render_units(config)[config.unit_name]
    if era is None:
        unit = tmp_path / config.unit_name
        unit.write_text(text)
        result = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
            capture_output=True,
            text=True,
            check=False,
        )
    else:
        with era.scratch() as scratch:
            unit = scratch / config.unit_name
            unit.write_text(text)
            result = era.run("security", "--offline=yes", "--no-pager", era.inside(unit))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    findings = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("✗")}
    return float(match[1]), findings


def target(mode: str, backend: str) -> float:
    return CLI_FULL_SCORE if (mode, backend) == ("full", "ostree-cli") else TARGET[mode]


def allowed_findings(mode: str, backend: str) -> set[str]:
    if mode == "prune":
        return PRUNE_FINDINGS
    return CLI_FULL_FINDINGS if backend == "ostree-cli" else FULL_FINDINGS


@pytest.mark.parametrize("backend", ["helper", "ostree-cli"])
@pytest.mark.parametrize("mode", ["full", "prune"])
def test_rendered_service_meets_the_exposure_target(
    tmp_path: Path, mode: str, backend: str, era: Era
) -> None:
    score, findings = security(
        tmp_path, f"version: 1\ncleanup:\n  mode: {mode}\n  backend: {backend}\n", era
    )
    assert score <= target(mode, backend)
    assert findings <= allowed_findings(mode, backend), findings
    config = load_config([str(tmp_path / "config.yaml")])
    assert score < default_max_exposure(config)  # verify's default leaves a margin


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_shipped_examples_meet_the_target_of_their_mode(
    tmp_path: Path, example: Path, era: Era
) -> None:
    config = load_config([str(example)])
    score, _findings = security(tmp_path, example.read_text(), era)
    assert score <= default_max_exposure(config)
    if config.sysroot_readonly:
        assert score <= READONLY_SCORE[config.cleanup.mode]
    else:
        assert score <= target(config.cleanup.mode, config.cleanup.backend)


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_a_read_only_sysroot_adds_only_the_remount(tmp_path: Path, mode: str, era: Era) -> None:
    plain, plain_findings = security(tmp_path, f"version: 1\ncleanup:\n  mode: {mode}\n", era)
    score, findings = security(
        tmp_path, f"version: 1\nsysroot-readonly: yes\ncleanup:\n  mode: {mode}\n", era
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


def test_full_mode_scores_the_readmes_figures(tmp_path: Path, era: Era) -> None:
    helper, _ = security(tmp_path, "version: 1\n", era)
    cli, cli_findings = security(tmp_path, "version: 1\ncleanup:\n  backend: ostree-cli\n", era)
    assert (helper, cli) == (TARGET["full"], CLI_FULL_SCORE)
    # The whole difference is the privilege check's capability and the ambient set.
    assert cli_findings - FULL_FINDINGS == CLI_FULL_FINDINGS - FULL_FINDINGS


def test_prune_mode_is_at_the_floor_of_a_root_service(tmp_path: Path, era: Era) -> None:
    score, findings = security(tmp_path, "version: 1\ncleanup:\n  mode: prune\n", era)
    assert score == 0.5
    assert not any(f.startswith("CapabilityBoundingSet") for f in findings)


def test_an_override_shows_in_the_score(tmp_path: Path, era: Era) -> None:
    base, _ = security(tmp_path, "version: 1\ncleanup:\n  mode: prune\n", era)
    widened, findings = security(
        tmp_path,
        "version: 1\ncleanup:\n  mode: prune\n"
        "sandbox:\n  directives:\n    PrivateUsers: null\n    CapabilityBoundingSet: null\n",
        era,
    )
    assert widened > TARGET["prune"] >= base
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
