"""`mark`: record, right after ostree finalized a staged deployment, that cleanup is due.

Runs from `ExecStop=` of ostree-finalize-staged.service at shutdown, so it only touches small
files and imports nothing heavy.
"""

from __future__ import annotations

import errno
import os

from . import log, stamp
from .deployments import default_deployment
from .errors import HelperError
from .lock import DirectoryLock

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


def _hint_for(err: OSError) -> str:
    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT:
        return "the filesystem is full; free some space, or run `ostree admin cleanup` by hand"
    if err.errno == errno.EROFS:
        return "the filesystem is mounted read-only; the finalize unit must be able to write there"
    if err.errno == errno.ENOENT:
        return "its directory does not exist; check --stamp"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; mark must run as root"
    return "check that the stamp's directory is writable"


def _writable(stamp_path: str) -> None:
    """Remount the stamp's mount read-write in a private namespace when the OS mounts it
    read-only (ostree's `sysroot.readonly`), as ostree's own finalize-staged does; the finalize
    unit runs as root with CAP_SYS_ADMIN, so this works without any setting."""
    directory = os.path.dirname(stamp_path)
    try:
        if not os.statvfs(directory).f_flag & os.ST_RDONLY:
            return
    except OSError:
        return  # the write reports a missing directory, with its hint
    # ctypes costs milliseconds at shutdown: imported only for a read-only mount.
    from . import remount

    try:
        points = remount.make_writable([directory])
    except remount.RemountError as e:
        hint = f"its mount is read-only and remounting it privately failed: {e.strerror}"
        if remount.needs_privilege(e):
            hint += "; that takes root with CAP_SYS_ADMIN"
        raise HelperError(
            f"cannot write the stamp {stamp_path}: {os.strerror(errno.EROFS)}", hint
        ) from e
    for point in points:
        log.info(
            f"{point} is mounted read-only: remounted it read-write in a private mount "
            "namespace of this process (the system's mount stays read-only)"
        )


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

    guard = DirectoryLock(os.path.dirname(stamp_path))
    # A missing directory is reported by the write below, with its hint.
    if os.path.isdir(guard.directory):
        try:
            guard.acquire(lock_timeout)
        except HelperError as e:
            log.warning(f"marking without waiting any longer: {e}")
    try:
        return _write_mark(stamp_path, deployment)
    finally:
        guard.release()


def _write_mark(stamp_path: str, deployment: str | None) -> int:
    try:
        previous = stamp.read(stamp_path)
    except OSError as e:
        log.warning(f"cannot read the existing stamp {stamp_path} ({e.strerror}); replacing it")
        previous = None
    same_deployment = previous is not None and previous.fields.get("deployment") == deployment
    new = stamp.Stamp(previous.fields if previous else None)
    new.fields["marked"] = stamp.utc_now()
    if deployment:
        new.fields["deployment"] = deployment
    else:
        new.fields.pop("deployment", None)
    # The retry budget is per finalized deployment. Marking the same deployment again keeps the
    # count; a new one starts afresh, or cleanups cut short by earlier shutdowns (the unit
    # conflicts with shutdown.target) could use up its budget before it ever ran. A cleanup
    # that keeps failing is still bounded: max-attempts boots per update.
    new.attempts = previous.attempts if previous is not None and same_deployment else 0

    _writable(stamp_path)
    try:
        stamp.write(stamp_path, new)
    except OSError as e:
        raise HelperError(f"cannot write the stamp {stamp_path}: {e.strerror}", _hint_for(e)) from e
    what = f"deployment {deployment}" if deployment else "the finalized deployment"
    if previous is not None:
        log.info(
            f"cleanup was already pending; updated {stamp_path} for {what} "
            f"(attempts so far: {new.attempts})"
        )
    else:
        log.info(f"marked {stamp_path}: {what} was finalized, cleanup runs at the next boot")
    return 0
