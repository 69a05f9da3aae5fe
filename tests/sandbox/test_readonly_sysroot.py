"""The rendered service on a sysroot whose mount is read-only (ostree's sysroot.readonly).

In the manager's namespace, which stands for the booted host, the case's sysroot is
bind-mounted on itself and made read-only, as ostree-prepare-root does; the filesystem beneath
stays writable, so the test reads the outcome from outside. ReadWritePaths= does not clear a
read-only flag a mount already has: only the helper's own remount, which sysroot-readonly: yes
allows, gets the cleanup through. Each allowance is taken away in turn to show it is needed.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ostree_autocleanup.generator.units.render import render_units
from support.manager import UserManager
from support.service_case import Case, Reference, make_config, run_service, skip_unless_helper
from support.upstream import require_finalize_unit

pytestmark = [pytest.mark.root, pytest.mark.manager]

READONLY = "sysroot-readonly: yes\n"


@contextlib.contextmanager
def read_only_mount(manager: UserManager, path: str) -> Iterator[None]:
    """`path`, in the manager's namespace, as a read-only bind mount of itself."""
    script = f'mount --bind "{path}" "{path}" && mount -o remount,bind,ro "{path}"'
    setup = subprocess.run(
        manager.client(["sh", "-c", script]), capture_output=True, text=True, check=False
    )
    assert setup.returncode == 0, setup.stderr
    try:
        probe = subprocess.run(
            manager.client(["touch", f"{path}/.probe"]), capture_output=True, check=False
        )
        assert probe.returncode != 0, "the sysroot's mount must be read-only for this test"
        yield
    finally:
        subprocess.run(manager.client(["umount", path]), capture_output=True, check=False)


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_with_the_setting_the_service_cleans_a_read_only_sysroot(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path, mode: str
) -> None:
    skip_unless_helper()
    config = make_config(tmp_path, case, mode, "helper", READONLY)
    assert config.sysroot_readonly

    with read_only_mount(manager, case.sysroot_seen):
        outcome = run_service(manager, config)

    assert outcome.succeeded, outcome
    print("LOG", mode, outcome.log)
    assert "read-write in a private mount namespace" in outcome.log
    assert case.objects() == reference.after, outcome.log
    assert not case.stamp.exists()


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_without_the_setting_the_stamp_stays_and_the_log_says_what_to_set(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path, mode: str
) -> None:
    skip_unless_helper()
    config = make_config(tmp_path, case, mode, "helper")

    with read_only_mount(manager, case.sysroot_seen):
        outcome = run_service(manager, config)

    assert not outcome.succeeded
    assert "Read-only file system" in outcome.log
    assert "set sysroot-readonly: yes" in outcome.log
    # Nothing was written: not even the attempt count, the stamp's mount being read-only.
    assert case.stamp.read_text() == ""
    assert case.objects() == reference.before


# Each allowance of sysroot-readonly taken back on its own: the remount then fails.
WITHOUT_ONE_ALLOWANCE = {
    "no-cap-sys-admin": ("full", "    CapabilityBoundingSet: CAP_SYS_PTRACE CAP_LINUX_IMMUTABLE\n"),
    "no-mount-namespace": ("full", "    RestrictNamespaces: yes\n"),
    "no-mount-syscall": (
        "full",
        "    SystemCallFilter: ['@system-service', '~@privileged @resources @mount']\n",
    ),
    "own-user-namespace": ("prune", "    PrivateUsers: yes\n"),
}


@pytest.mark.parametrize(
    ("mode", "override"), list(WITHOUT_ONE_ALLOWANCE.values()), ids=list(WITHOUT_ONE_ALLOWANCE)
)
def test_each_allowance_is_needed(
    manager: UserManager,
    case: Case,
    reference: Reference,
    tmp_path: Path,
    mode: str,
    override: str,
) -> None:
    skip_unless_helper()
    config = make_config(
        tmp_path, case, mode, "helper", READONLY + "sandbox:\n  directives:\n" + override
    )

    with read_only_mount(manager, case.sysroot_seen):
        outcome = run_service(manager, config)

    assert not outcome.succeeded, outcome
    print("LOG", mode, outcome.log)
    assert "cannot make the read-only sysroot writable: " in outcome.log, outcome.log
    assert "render it with sysroot-readonly: yes and keep those allowed" in outcome.log
    assert case.stamp.read_text() == ""
    assert case.objects() == reference.before


def _upstream_finalize_unit() -> str:
    """Debian's ostree-finalize-staged.service with its sandbox as shipped; only what needs a
    booted system goes: the condition, the mount dependencies, and ostree's own command, which
    /bin/true stands in for (it succeeded, so the drop-in's line runs after it)."""
    path = require_finalize_unit()
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith(("ConditionPathExists=", "RequiresMountsFor=")):
            continue
        if line.startswith("ExecStop="):
            line = "ExecStop=/bin/true"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_mark_under_the_upstream_finalize_unit_writes_through_a_read_only_mount(
    manager: UserManager, case: Case, tmp_path: Path
) -> None:
    skip_unless_helper()
    config = make_config(tmp_path, case, "full", "helper", READONLY)
    unit = config.finalize.unit
    manager.install_unit(unit, _upstream_finalize_unit())
    dropin = f"{unit}.d/{config.dropin_name}"
    manager.install_unit(dropin, render_units(config)[dropin])
    case.stamp.unlink()
    log = Path(manager.workdir) / f"{unit}.log"
    try:
        with read_only_mount(manager, case.sysroot_seen):
            assert manager.start(unit).result == "success"
            manager.systemctl("stop", unit)
            still_read_only = subprocess.run(
                manager.client(["touch", f"{case.sysroot_seen}/.probe"]),
                capture_output=True,
                check=False,
            )
    finally:
        (Path(manager.unit_dir) / unit).unlink()
        shutil.rmtree(Path(manager.unit_dir) / f"{unit}.d")
        manager.reload()

    output = log.read_text()
    assert f"{case.sysroot_seen} is mounted read-only: remounted it read-write" in output
    assert "cleanup runs at the next boot" in output
    assert "marked=" in case.stamp.read_text()
    assert still_read_only.returncode != 0, "the remount must not leak out of the helper"
