"""The whole cycle under a real systemd PID 1 on a real ostree-booted system.

stage -> clean poweroff (finalize, stamp) -> boot (cleanup, stamp cleared) -> boot (skipped);
stage -> power cut (no stamp, no cleanup); stage -> failing finalize (no stamp, reported).
Each runs for the default config, prune mode, the ostree CLI backend and the generator install,
the whole cycle also on a read-only sysroot, and all of it on every platform (the test id names
it); what differs between ostree releases is read from the platform's row.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import NamedTuple

import pytest

from support.container import OS_NAME, Container
from support.platforms import Platform

from .conftest import MakeSystem
from .observe import (
    FINALIZE,
    SERVICE,
    check_path_unit,
    check_path_unit_report,
    check_sysroot_read_only,
    diagnose,
    status_report,
    status_text,
)
from .system import BRANCH, System

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

STAMP = "/sysroot/.cleanup"
FAILURE_STAMP = "boot/ostree/finalize-failure.stamp"
# Long enough that a cleanup still runs when multi-user.target is reached, unless the target
# waits for it: then the target's own timestamp says whether it did.
SLOW_START_SECONDS = 3


class Scenario(NamedTuple):
    config: str | None
    generator: bool
    # Only the helper keeps a record of what it freed; `ostree admin cleanup` keeps none.
    records_result: bool
    # The sysroot mounted read-only, as ostree's `[sysroot] readonly=true` systems have it.
    read_only: bool = False


SCENARIOS = {
    "default": Scenario(None, False, True),
    "prune": Scenario("version: 1\ncleanup:\n  mode: prune\n", False, True),
    "ostree-cli": Scenario("version: 1\ncleanup:\n  backend: ostree-cli\n", False, False),
    "generator": Scenario(None, True, True),
}
# The whole cycle once more where the OS mounts the sysroot read-only (the helper backend only:
# render refuses ostree-cli with sysroot-readonly).
CYCLE_SCENARIOS = {
    **SCENARIOS,
    "read-only": Scenario("version: 1\nsysroot-readonly: yes\n", False, True, True),
    "read-only-prune": Scenario(
        "version: 1\nsysroot-readonly: yes\ncleanup:\n  mode: prune\n", False, True, True
    ),
}


def shutdown_log(system: System) -> str:
    """The last boot's journal of the finalize and cleanup units, read from the host."""
    log = system.image.journal("-b", "-1", "-u", FINALIZE, "-u", SERVICE, "-o", "short-monotonic")
    return "\n--- journal ---\n" + log[-6000:]


def stage(container: Container, platform: Platform, timeout: float = 30.0) -> None:
    """Stage the newest release, and wait until the finalize unit is armed for shutdown.

    ostree before 2025.2 starts ostree-finalize-staged.service through a path unit; a poweroff
    issued before that unit reacted would skip finalization altogether (the race for which
    ostree 2025.2 dropped the path unit), which is not what these tests are about. 2025.2
    starts the unit itself before `deploy --stage` returns: there it must be active at once.
    """
    container.run(["ostree", "admin", "deploy", "--stage", f"--os={OS_NAME}", BRANCH])
    if not platform.finalize_path_unit:
        state = container.show(FINALIZE, "ActiveState")["ActiveState"]
        assert state == "active", f"{FINALIZE} is {state} right after staging"
        return
    deadline = time.monotonic() + timeout
    while container.show(FINALIZE, "ActiveState")["ActiveState"] != "active":
        assert time.monotonic() < deadline, f"{FINALIZE} not started after staging"
        time.sleep(0.05)


def expected_freed(system: System) -> set[str]:
    """The objects ``ostree admin cleanup`` frees on a copy of the sysroot as it is now."""
    copy = system.image.copy(system.workdir / "reference-copy")
    try:
        before = copy.objects()
        copy.ostree("admin", "cleanup", f"--sysroot={copy.sysroot}")
        return before - copy.objects()
    finally:
        copy.close()


def slow_down_next_start(system: System, extra: str = "") -> None:
    """A drop-in in the next boot's /etc that delays the cleanup and keeps it visible.

    It changes no ordering. RemainAfterExit= only makes the finished oneshot count as "active":
    `systemd-analyze critical-chain` ignores units that never became active, so without it the
    service could never show up on the chain and that check could not fail.
    """
    dropin = system.image.next_boot() / "etc" / "systemd" / "system" / f"{SERVICE}.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "90-e2e-slow-start.conf").write_text(
        f"{extra}[Service]\nExecStartPre=/bin/sleep {SLOW_START_SECONDS}\nRemainAfterExit=yes\n"
    )


def boot_timing(container: Container) -> tuple[int, int]:
    """When multi-user.target was reached and when the cleanup ended, in systemd's own clock."""
    target_reached = container.monotonic("multi-user.target", "ActiveEnterTimestampMonotonic")
    # With RemainAfterExit= a oneshot becomes active when its last ExecStart= has exited.
    cleanup_done = container.monotonic(SERVICE, "ActiveEnterTimestampMonotonic")
    return target_reached, cleanup_done


def target_orders_after_cleanup(container: Container) -> bool:
    after = container.show("multi-user.target", "After")["After"].split()
    return SERVICE in after


def break_next_finalize(system: System) -> None:
    """Make ostree's finalize fail the way a broken /boot does: a bootversion it cannot clear.

    Done from the host (the container has no CAP_LINUX_IMMUTABLE) and after staging, because
    staging itself clears the unused bootversion. When the boot configs did not change, ostree
    swaps only the sub-bootversion and fails after it, in its final cleanup: the new deployment
    is then the default although finalization failed, as on a real machine.
    """
    boot = system.image.sysroot / "boot"
    current = (boot / "loader").resolve().name
    spare = boot / ("loader.1" if current == "loader.0" else "loader.0")
    spare.mkdir()
    (spare / "immutable").write_text("")
    subprocess.run(["chattr", "+i", str(spare / "immutable")], check=True)


@pytest.mark.parametrize("scenario", list(CYCLE_SCENARIOS), ids=list(CYCLE_SCENARIOS))
def test_finalize_marks_and_next_boot_cleans_without_delaying_boot(
    make_system: MakeSystem, platform: Platform, scenario: str
) -> None:
    config, generator, records_result, read_only = CYCLE_SCENARIOS[scenario]
    system = make_system(config, generator)
    if read_only:
        system.make_sysroot_read_only()
    stamp = system.stamp()
    release_1, release_2 = system.releases[1], system.releases[2]
    release_3 = system.release(3)

    # Boot 1: release 2 with release 1 as rollback. Nothing is pending yet.
    with system.boot() as container:
        state = container.wait_until_booted()
        assert state == "running", diagnose(container)
        service = container.show(SERVICE, "ConditionResult", "UnitFileState")
        assert service["ConditionResult"] == "no"
        assert service["UnitFileState"] == ("generated" if generator else "enabled")
        check_path_unit(container, platform)
        if read_only:
            check_sysroot_read_only(container)
        stage(container, platform)
        assert not stamp.exists()
        assert container.poweroff() == 0

    # Finalization at shutdown deployed release 3, deleted release 1 and marked the cleanup.
    assert system.deployed_commits() == sorted([release_2, release_3])
    assert stamp.exists(), "the finalize drop-in did not write the stamp" + shutdown_log(system)
    objects_before = system.image.objects()
    reference = expected_freed(system)
    assert f"{release_1}.commit" in reference
    slow_down_next_start(system)

    # Boot 2: release 3; the cleanup runs and frees exactly what ostree admin cleanup would.
    with system.boot() as container:
        state = container.wait_until_booted()
        assert state == "running", diagnose(container)
        service = container.show(
            SERVICE,
            "ConditionResult",
            "Result",
            "ExecMainStatus",
        )
        assert service["ConditionResult"] == "yes", diagnose(container)
        assert service["Result"] == "success", diagnose(container)
        assert service["ExecMainStatus"] == "0", diagnose(container)
        # multi-user.target was reached while the cleanup still ran: it did not wait for it.
        target_reached, cleanup_done = boot_timing(container)
        assert 0 < target_reached < cleanup_done, (target_reached, cleanup_done)
        assert SERVICE not in container.critical_chain("multi-user.target")
        assert not target_orders_after_cleanup(container)

        if read_only:
            # The cleanup wrote them from a mount namespace of its own, nothing leaked out.
            log = container.journal(SERVICE)
            assert "read-write in a private mount namespace" in log, log
            check_sysroot_read_only(container)
        report = status_report(container)
        unit = report["units"][SERVICE]
        assert (unit["result"], unit["exec_main_status"], unit["enabled"]) == ("success", 0, True)
        check_path_unit_report(report, platform)
        assert unit["exec_main_exit_timestamp"] is not None
        assert report["cleanup"]["pending"] is False
        assert report["cleanup"]["stamp"] == STAMP  # the system's path, not the host's view
        assert report["finalize_failure"] is None
        last = report["cleanup"]["last"]
        # The same, asked on the system itself: its own bus and files, no options.
        inside = json.loads(container.run(["ostree-autocleanup", "status", "--json"]).stdout)
        assert inside["units"] == report["units"]
        assert inside["cleanup"]["last"] == last
        assert inside["cleanup"]["stamp"] == STAMP
        text = status_text(container)
        if records_result:
            assert last is not None and last["result"] == "success", last
            assert last["objects_freed"] == len(reference), last
            assert f"freed {len(reference)} objects" in text, text
        else:
            assert last is None
            assert "last cleanup: none recorded" in text, text
        assert container.poweroff() == 0

    assert not stamp.exists(), "the cleanup did not clear the stamp" + shutdown_log(system)
    objects_after = system.image.objects()
    assert objects_after <= objects_before
    assert objects_before - objects_after == reference

    # Boot 3: nothing pending, the service is skipped by its condition.
    with system.boot() as container:
        state = container.wait_until_booted()
        assert state == "running", diagnose(container)
        service = container.show(SERVICE, "ConditionResult", "ExecMainStartTimestampMonotonic")
        assert service == {"ConditionResult": "no", "ExecMainStartTimestampMonotonic": "0"}
        assert container.poweroff() == 0
    assert system.image.objects() == objects_after


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=list(SCENARIOS))
def test_power_cut_and_failed_finalize_leave_no_stamp(
    make_system: MakeSystem, platform: Platform, scenario: str
) -> None:
    config, generator, _, _ = SCENARIOS[scenario]
    system = make_system(config, generator)
    stamp = system.stamp()
    booted = system.image.next_boot()
    system.release(3)

    # A power cut after staging: no stop job runs, so neither finalize nor the stamp.
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        stage(container, platform)
        container.kill()
    assert not stamp.exists()
    assert system.image.next_boot() == booted, "the bootloader learned of an unfinalized deployment"
    objects = system.image.objects()

    # The next boot comes up in the same deployment and cleans nothing.
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        service = container.show(SERVICE, "ConditionResult", "ExecMainStartTimestampMonotonic")
        assert service == {"ConditionResult": "no", "ExecMainStartTimestampMonotonic": "0"}
        assert system.image.objects() == objects

        # Finalization fails at this shutdown: ostree records why, and no stamp is written.
        stage(container, platform)
        break_next_finalize(system)
        assert container.poweroff() == 0
    assert not stamp.exists(), "a stamp although finalization failed" + shutdown_log(system)
    failure = system.image.sysroot / FAILURE_STAMP
    assert failure.exists(), "ostree did not record the failed finalization" + shutdown_log(system)

    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        assert container.show(SERVICE, "ConditionResult")["ConditionResult"] == "no"
        report = status_report(container)
        assert report["cleanup"]["pending"] is False
        assert report["finalize_failure"] is not None
        assert report["finalize_failure"]["path"] == "/" + FAILURE_STAMP
        assert report["finalize_failure"]["message"] == failure.read_text().strip()
        assert "Operation not permitted" in report["finalize_failure"]["message"]
        assert "finalize FAILED" in status_text(container)

        # A pending cleanup (an empty stamp, as older drop-ins write with touch) shows as
        # pending. The helper's own `mark` refuses while ostree's failure stamp is there.
        container.run(["touch", STAMP])
        report = status_report(container)
        assert report["cleanup"]["pending"] is True
        assert report["cleanup"]["attempts"] == 0
        assert "cleanup: pending" in status_text(container)
        assert container.poweroff() == 0


def test_boot_timing_check_sees_a_cleanup_that_delays_boot(
    make_system: MakeSystem, platform: Platform
) -> None:
    """Control for the timing check above: ordered before multi-user.target, it must notice."""
    system = make_system()
    system.release(3)
    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        stage(container, platform)
        assert container.poweroff() == 0
    assert system.stamp().exists(), shutdown_log(system)
    slow_down_next_start(system, extra="[Unit]\nBefore=multi-user.target\n")

    with system.boot() as container:
        assert container.wait_until_booted() == "running", diagnose(container)
        target_reached, cleanup_done = boot_timing(container)
        assert 0 < cleanup_done < target_reached, (target_reached, cleanup_done)
        assert SERVICE in container.critical_chain("multi-user.target")
        assert target_orders_after_cleanup(container)
        assert container.poweroff() == 0
