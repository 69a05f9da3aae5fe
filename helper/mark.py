"""`mark`: record, right after ostree finalized a staged deployment, that cleanup is due.

Runs from `ExecStop=` of ostree-finalize-staged.service at shutdown, so it only touches small
files and imports nothing heavy.
"""

from __future__ import annotations

import errno
import os

from . import log, machine
from .deployments import default_deployment
from .errors import HelperError
from .lock import DirectoryLock
from .stamp import StampFile

FAILURE_STAMP = os.path.join("ostree", "finalize-failure.stamp")

# A cleanup still running holds the stamp directory's lock; it is stopped at shutdown, so the
# wait is short. Past it, marking anyway beats losing the mark: shutdown must not hang.
LOCK_WAIT_SECONDS = 10.0


def boot_dirs(sysroot: str, boot: str | None) -> list[str]:
    """Where the sysroot's /boot may be: `--boot` when given, else SYSROOT/boot, and also /boot
    when SYSROOT is the booted system's own sysroot (a separate /boot partition is mounted there
    and not under /sysroot)."""
    if boot:
        return [boot]
    dirs = [os.path.join(sysroot, "boot")]
    booted = os.path.exists("/run/ostree-booted")
    if booted and os.path.realpath(sysroot) in ("/", "/sysroot"):
        dirs.insert(0, "/boot")
    unique: list[str] = []
    for d in dirs:
        if os.path.realpath(d) not in [os.path.realpath(u) for u in unique]:
            unique.append(d)
    return unique


def _writable(stamp_file: StampFile) -> None:
    """Remount the stamp's mount read-write in a private namespace when the OS mounts it
    read-only (ostree's `sysroot.readonly`), as ostree's own finalize-staged does; the finalize
    unit runs as root with CAP_SYS_ADMIN, so this works without any setting. The stamp's
    directory is then reached again, in the new namespace."""
    try:
        if not os.fstatvfs(stamp_file.dirfd).f_flag & os.ST_RDONLY:
            return
    except OSError:
        return  # the write reports it, with its hint
    directory = os.path.dirname(stamp_file.path)
    # ctypes costs milliseconds at shutdown: imported only for a read-only mount.
    from . import remount

    try:
        points = remount.make_writable([directory])
    except remount.RemountError as e:
        hint = f"its mount is read-only and remounting it privately failed: {e.strerror}"
        if remount.needs_privilege(e):
            hint += "; that takes root with CAP_SYS_ADMIN"
        raise HelperError(
            f"cannot write the stamp {stamp_file.path}: {os.strerror(errno.EROFS)}", hint
        ) from e
    for point in points:
        log.info(
            f"{point} is mounted read-only: remounted it read-write in a private mount "
            "namespace of this process (the system's mount stays read-only)"
        )
    try:
        stamp_file.reopen()
    except OSError as e:
        raise HelperError(
            f"cannot write the stamp {stamp_file.path}: {e.strerror}", machine.mark_hint(e)
        ) from e


def _reach_stamp(sysroot: str, stamp_path: str) -> StampFile:
    try:
        return StampFile.open(sysroot, stamp_path)
    except OSError as e:
        raise HelperError(
            f"cannot write the stamp {stamp_path}: {e.strerror}", machine.mark_hint(e)
        ) from e


def run_mark(
    sysroot: str, stamp_path: str, boot: str | None, lock_timeout: float = LOCK_WAIT_SECONDS
) -> int:
    dirs = boot_dirs(sysroot, boot)
    for d in dirs:
        failure = os.path.join(d, FAILURE_STAMP)
        if os.path.lexists(failure):
            log.error(
                f"not marking {stamp_path} for cleanup: ostree reports that finalizing the staged "
                f"deployment failed ({failure} exists; ostree-boot-complete.service shows why)"
            )
            return 1

    deployment = None
    for d in dirs:
        deployment = default_deployment(sysroot, d)
        if deployment:
            break

    with _reach_stamp(sysroot, stamp_path) as stamp_file:
        guard = DirectoryLock(os.path.dirname(stamp_path), stamp_file.dirfd)
        try:
            guard.acquire(lock_timeout)
        except HelperError as e:
            log.warning(f"marking without waiting any longer: {e}")
        else:
            # Only under the lock: a writer still at work keeps its temporary file.
            stamp_file.sweep()
        try:
            return machine.mark(stamp_file, deployment, writable=_writable)
        finally:
            guard.release()
