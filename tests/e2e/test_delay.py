"""scheduling.delay under a real systemd PID 1 on a real ostree-booted system.

The timer, not the target, starts the cleanup: multi-user.target is reached first, the cleanup
starts no earlier than the delay after the boot (systemd's own monotonic clock), and the stamp
decides as before: cleaned and cleared at the boot after finalization, skipped at the next.
"""

from __future__ import annotations

import time

import pytest

from support.container import Container

from .conftest import MakeSystem
from .observe import diagnose, status_report
from .system import System
from .test_cycle import shutdown_log, stage

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

SERVICE = "ostree-autocleanup.service"
TIMER = "ostree-autocleanup.timer"
# Short, so that the test stays quick; everything after it is measured against it, not guessed.
DELAY_SECONDS = 5
CONFIG = f"version: 1\nscheduling:\n  delay: {DELAY_SECONDS}s\n"
USEC = 1_000_000
# How long the timer may take to fire, once due, before the test gives up: AccuracySec=1s, but
# the machine is shared with other tests.
TIMER_WAIT_SECONDS = 90


def wait_for_condition_check(container: Container) -> dict[str, str]:
    """The service's state once the timer has started it and its conditions were checked."""
    deadline = time.monotonic() + DELAY_SECONDS + TIMER_WAIT_SECONDS
    props = (
        "ConditionResult",
        "ConditionTimestampMonotonic",
        "ExecMainStartTimestampMonotonic",
        "ExecMainExitTimestampMonotonic",
        "ActiveState",
        "Result",
    )
    while True:
        service = container.show(SERVICE, *props)
        checked = service["ConditionTimestampMonotonic"] not in ("", "0")
        ran = service["ConditionResult"] == "yes"
        if checked and (not ran or service["ExecMainExitTimestampMonotonic"] not in ("", "0")):
            return service
        assert time.monotonic() < deadline, f"{SERVICE} never finished: {service}" + diagnose(
            container
        )
        time.sleep(0.25)


def booted(container: Container) -> None:
    """Wait for the boot to finish, and check that multi-user.target was reached."""
    state = container.wait_until_booted()
    failed = container.run(["systemctl", "list-units", "--failed", "--plain", "--no-legend"])
    assert state == "running", f"{state}: {failed.stdout}{diagnose(container)}"
    assert container.monotonic("multi-user.target", "ActiveEnterTimestampMonotonic") > 0


def boot_start(container: Container) -> int:
    """When this boot's manager started, on the clock OnBootSec= counts from in a container."""
    value = container.run(["systemctl", "show", "-p", "UserspaceTimestampMonotonic"]).stdout
    return int(value.strip().partition("=")[2])


@pytest.mark.parametrize("generator", [False, True], ids=["units", "generator"])
def test_the_timer_starts_the_cleanup_after_the_delay(
    make_system: MakeSystem, generator: bool
) -> None:
    system: System = make_system(CONFIG, generator)
    stamp = system.stamp()
    system.release(3)

    # Boot 1: nothing pending. The target pulls in the timer, not the service.
    with system.boot() as container:
        booted(container)
        timer = container.show(TIMER, "UnitFileState", "ActiveState")
        assert timer == {
            "UnitFileState": "generated" if generator else "enabled",
            "ActiveState": "active",
        }, diagnose(container)
        wants = container.show("multi-user.target", "Wants")["Wants"].split()
        assert TIMER in wants and SERVICE not in wants, wants
        stage(container, system.platform)
        assert container.poweroff() == 0
    assert stamp.exists(), "the finalize drop-in did not write the stamp" + shutdown_log(system)
    objects_before = system.image.objects()

    # Boot 2: the stamp is there; the cleanup starts once the delay has passed, not before.
    with system.boot() as container:
        booted(container)
        start = boot_start(container)
        target_reached = container.monotonic("multi-user.target", "ActiveEnterTimestampMonotonic")
        service = wait_for_condition_check(container)
        assert service["ConditionResult"] == "yes", service
        assert service["Result"] == "success", diagnose(container)
        started = int(service["ExecMainStartTimestampMonotonic"])
        assert 0 < start < target_reached < started, (start, target_reached, started)
        # OnBootSec= elapses DELAY after the boot; AccuracySec=1s, plus whatever a busy
        # machine adds: a generous upper bound, while the lower one is exact.
        assert started - start >= DELAY_SECONDS * USEC, (started - start) / USEC
        assert started - start < (DELAY_SECONDS + TIMER_WAIT_SECONDS) * USEC
        if generator:
            # `status` reads the config the image ships (static units ship none): it shows
            # the timer, enabled, beside the generated service.
            units = status_report(container)["units"]
            assert units[TIMER]["enabled"] is True, units
            assert units[SERVICE]["result"] == "success", units
        assert container.poweroff() == 0
    assert not stamp.exists(), "the cleanup did not clear the stamp" + shutdown_log(system)
    objects_after = system.image.objects()
    assert objects_after < objects_before, "the cleanup freed nothing"

    # Boot 3: nothing pending; the timer still fires, and the stamp's condition skips the run.
    with system.boot() as container:
        booted(container)
        start = boot_start(container)
        service = wait_for_condition_check(container)
        assert service["ConditionResult"] == "no", service
        assert service["ExecMainStartTimestampMonotonic"] == "0", service
        assert int(service["ConditionTimestampMonotonic"]) - start >= DELAY_SECONDS * USEC
        assert container.poweroff() == 0
    assert system.image.objects() == objects_after
