"""The ostree-cli backend on ostree 2025.2, under a real systemd PID 1 (Debian 13).

Since ostree 2025.1, `ostree admin cleanup` on a booted sysroot runs only when the process is
root *and* CAP_SYS_ADMIN is in its bounding set. The unit puts it there and, with the securebit
noroot and ambient capabilities, never in the process's effective or permitted set. Proven on
one machine over two boots after one finalized update: without CAP_SYS_ADMIN in the bounding
set (the unit's bounding set before, put back by a drop-in) the cleanup fails with ostree's
"You must be root" and the stamp stays; with the unit as rendered it frees exactly what
`ostree admin cleanup` frees, while holding only the capabilities full mode needs.
Debian 12's ostree 2022.7 checks the UID only; test_cycle.py covers this backend there.
The Endless OS example, which uses this backend, cleans up on both platforms.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.platforms import DEBIAN_13, Platform

from .conftest import MakeSystem
from .observe import SERVICE, check_path_unit, diagnose
from .system import System
from .test_cycle import expected_freed, shutdown_log, stage

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

CONFIG = "version: 1\ncleanup:\n  backend: ostree-cli\n"
# capability(7) numbers.
CAP_LINUX_IMMUTABLE = 9
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
DROPIN = "90-e2e-privilege.conf"
ENDLESS = Path(__file__).parents[2] / "examples" / "endless-os.yaml"
ENDLESS_SERVICE = "eos-updater-autocleanup.service"


def next_boot_dropin(system: System, text: str | None) -> None:
    """Write (or with None, remove) a drop-in for the cleanup in the next boot's /etc."""
    path = system.image.next_boot() / "etc" / "systemd" / "system" / f"{SERVICE}.d" / DROPIN
    if text is None:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def capability_sets(journal: str) -> dict[str, set[int]]:
    """The Cap* lines of /proc/self/status that the unit's ExecStartPre= logged, as bit sets."""
    found: dict[str, set[int]] = {}
    for name, mask in re.findall(r"\b(Cap\w+):\s+([0-9a-f]{16})$", journal, re.M):
        value = int(mask, 16)
        found[name] = {bit for bit in range(64) if value >> bit & 1}
    return found


@pytest.mark.parametrize("platform", [DEBIAN_13], ids=[DEBIAN_13.id], indirect=True)
def test_cap_sys_admin_in_the_bounding_set_is_necessary_and_sufficient(
    make_system: MakeSystem,
) -> None:
    system = make_system(CONFIG)
    stamp = system.stamp()
    system.release(3)
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        stage(container, system.platform)
        assert container.poweroff() == 0
    assert stamp.exists(), "the finalize drop-in did not write the stamp" + shutdown_log(system)
    objects_before = system.image.objects()
    reference = expected_freed(system)
    assert reference

    # Necessary: the bounding set the unit had before, without CAP_SYS_ADMIN.
    next_boot_dropin(
        system,
        "[Service]\nCapabilityBoundingSet=\nCapabilityBoundingSet=CAP_SYS_PTRACE CAP_LINUX_IMMUTABLE\n",
    )
    with system.boot() as container:
        assert container.wait_until_booted() == "degraded", diagnose(container)
        service = container.show(SERVICE, "ConditionResult", "Result", "ExecMainStatus")
        assert service == {"ConditionResult": "yes", "Result": "exit-code", "ExecMainStatus": "1"}
        assert "You must be root to perform this command" in container.journal(SERVICE)
        assert container.poweroff() == 0
    assert stamp.exists()
    assert system.image.objects() == objects_before

    # Sufficient: the unit as rendered, which also logs the capabilities its commands hold.
    next_boot_dropin(system, "[Service]\nExecStartPre=/bin/grep ^Cap /proc/self/status\n")
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        service = container.show(SERVICE, "ConditionResult", "Result", "ExecMainStatus")
        assert service == {"ConditionResult": "yes", "Result": "success", "ExecMainStatus": "0"}
        caps = capability_sets(container.journal(SERVICE))
        assert container.poweroff() == 0
    needed = {CAP_SYS_PTRACE, CAP_LINUX_IMMUTABLE}
    assert caps["CapBnd"] == needed | {CAP_SYS_ADMIN}, caps
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapAmb"] == needed, caps
    assert not stamp.exists(), "the cleanup did not clear the stamp" + shutdown_log(system)
    assert objects_before - system.image.objects() == reference
    assert system.image.objects() <= objects_before


def test_endless_example_cleans_up_on_both_platforms(
    make_system: MakeSystem, platform: Platform
) -> None:
    system = make_system(ENDLESS.read_text())
    stamp = system.stamp()
    system.release(3)
    with system.boot() as container:
        assert container.wait_until_booted() == "running", container.journal()[-4000:]
        # path-unit: auto enables it where the platform's ostree still ships it.
        check_path_unit(container, platform)
        stage(container, system.platform)
        assert container.poweroff() == 0
    assert stamp.exists(), "the finalize drop-in did not write the stamp" + shutdown_log(system)
    objects_before = system.image.objects()
    reference = expected_freed(system)
    assert reference

    with system.boot() as container:
        assert container.wait_until_booted() == "running", container.journal(ENDLESS_SERVICE)
        service = container.show(ENDLESS_SERVICE, "ConditionResult", "Result", "UnitFileState")
        assert service == {
            "ConditionResult": "yes",
            "Result": "success",
            "UnitFileState": "enabled",
        }, container.journal(ENDLESS_SERVICE)
        assert container.poweroff() == 0
    assert not stamp.exists()
    assert objects_before - system.image.objects() == reference


def test_prune_mode_needs_no_capability(make_system: MakeSystem) -> None:
    """`ostree prune` makes no privilege check, on 2022.7 or 2025.2: prune mode keeps an empty
    bounding set."""
    system = make_system("version: 1\ncleanup:\n  mode: prune\n  backend: ostree-cli\n")
    stamp = system.stamp()
    system.release(3)
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        stage(container, system.platform)
        assert container.poweroff() == 0
    assert stamp.exists(), "the finalize drop-in did not write the stamp" + shutdown_log(system)
    objects_before = system.image.objects()
    reference = expected_freed(system)

    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        service = container.show(SERVICE, "Result", "CapabilityBoundingSet", "PrivateUsers")
        assert service == {"Result": "success", "CapabilityBoundingSet": "", "PrivateUsers": "yes"}
        assert container.poweroff() == 0
    assert not stamp.exists()
    assert objects_before - system.image.objects() == reference
