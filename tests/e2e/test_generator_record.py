"""An admin's override in /etc costs the generator's cold path at one boot only, under a real
systemd PID 1: that boot pulls in the recording unit, which records the rendered units in
/etc/ostree-autocleanup; the next boot's generator uses them (and so generates no recording
unit), until the override changes."""

from __future__ import annotations

import pytest

from support.container import Container

from .conftest import MakeSystem
from .test_delay import booted

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

SERVICE = "ostree-autocleanup.service"
RECORDER = "ostree-autocleanup-generator-record.service"
OVERRIDE = "etc/ostree-autocleanup/config.yaml"
RECORD = "etc/ostree-autocleanup/.generator-record"


def generated(container: Container, unit: str) -> bool:
    return (container.root / "run/systemd/generator" / unit).is_file()


def timeout_of_cleanup(container: Container) -> str:
    return container.show(SERVICE, "TimeoutStartUSec")["TimeoutStartUSec"]


def test_the_boot_after_an_override_renders_and_the_next_one_does_not(
    make_system: MakeSystem,
) -> None:
    system = make_system(None, generator=True)
    override = system.image.next_boot() / OVERRIDE
    override.parent.mkdir(parents=True)
    override.write_text("version: 1\ncleanup:\n  timeout: 10min\n")
    record = system.image.next_boot() / RECORD

    # First boot after the change: rendered, and recorded once /etc is writable.
    with system.boot() as container:
        booted(container)
        assert timeout_of_cleanup(container) == "10min"
        assert generated(container, RECORDER)
        recorder = container.show(RECORDER, "Result", "ExecMainStatus", "ConditionResult")
        assert recorder == {"Result": "success", "ExecMainStatus": "0", "ConditionResult": "yes"}
        assert container.poweroff() == 0
    assert record.is_file()
    recorded = record.read_bytes()

    # Second boot: the recorded units, so nothing to record; the override still applies.
    with system.boot() as container:
        booted(container)
        assert timeout_of_cleanup(container) == "10min"
        assert not generated(container, RECORDER)
        assert container.show(RECORDER, "LoadState")["LoadState"] == "not-found"
        assert container.poweroff() == 0
    assert record.read_bytes() == recorded

    # The override changes (same size): rendered again, never the stale record.
    override.write_text("version: 1\ncleanup:\n  timeout: 20min\n")
    with system.boot() as container:
        booted(container)
        assert timeout_of_cleanup(container) == "20min"
        assert generated(container, RECORDER)
        assert container.poweroff() == 0
    assert record.read_bytes() != recorded
