"""`cleanup`: at boot, reclaim what the last finalization left behind, then clear the stamp.

The stamp's attempt count is raised durably *before* the work starts, so a cleanup that is
killed (timeout, OOM, power cut) still counts; after `max_attempts` started cleanups the helper
gives up and removes the stamp instead of costing every boot forever.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from . import log, stamp, state
from .errors import HelperError
from .lock import DirectoryLock
from .result import Freed
from .usage import format_bytes
from .version import VERSION


class Options:
    def __init__(
        self,
        sysroot: str,
        stamp_path: str,
        mode: str,
        max_attempts: int,
        state_dir: str,
        lock_timeout: float,
        backend: str,
        ostree: str,
        sysroot_readonly: bool = False,
    ) -> None:
        self.sysroot = sysroot
        self.stamp_path = stamp_path
        self.mode = mode
        self.max_attempts = max_attempts
        self.state_dir = state_dir
        self.lock_timeout = lock_timeout
        self.backend = backend
        self.ostree = ostree
        self.sysroot_readonly = sysroot_readonly

    @property
    def repo(self) -> str:
        return os.path.join(self.sysroot, "ostree", "repo")


def _clean(opts: Options) -> Freed:
    if opts.backend != "ostree-cli":
        from . import backend_libostree

        try:
            backend_libostree.load()
        except (ImportError, ValueError) as e:
            if opts.backend == "libostree":
                raise HelperError(
                    f"libostree is not usable from Python: {e}",
                    "install PyGObject and the OSTree typelib (gir1.2-ostree-1.0)",
                ) from e
            log.warning(
                f"libostree is not usable from Python ({e}); falling back to the ostree command"
            )
        else:
            return backend_libostree.clean(
                opts.mode, opts.sysroot, opts.repo, opts.lock_timeout, opts.sysroot_readonly
            )
    from . import backend_cli

    return backend_cli.clean(opts.mode, opts.sysroot, opts.repo, opts.lock_timeout, opts.ostree)


def _record(opts: Options, result: str, attempt: int, **extra: Any) -> None:
    record: dict[str, Any] = {
        "result": result,
        "finished": stamp.utc_now(),
        "sysroot": opts.sysroot,
        "repo": opts.repo,
        "mode": opts.mode,
        "attempt": attempt,
        "max_attempts": opts.max_attempts,
        "helper_version": VERSION,
    }
    record.update(extra)
    try:
        state.write(opts.state_dir, record)
    except OSError as e:
        # The state file only feeds `status`; losing it must not fail a cleanup.
        log.warning(f"cannot write {state.state_path(opts.state_dir)}: {e.strerror}")


def _give_up(opts: Options, attempts: int, reason: str) -> int:
    try:
        stamp.remove(opts.stamp_path)
    except OSError as e:
        log.error(f"cannot remove the stamp {opts.stamp_path}: {e.strerror}")
    log.error(
        f"giving up on cleanup after {attempts} failed attempts ({reason}); removed "
        f"{opts.stamp_path}. The unused objects stay in {opts.repo} until the next update or "
        f"a manual `ostree admin cleanup`"
    )
    _record(opts, "gave-up", attempts, error=reason)
    return 1


def run_cleanup(opts: Options) -> int:
    if not stamp.exists(opts.stamp_path):
        log.info(f"no stamp at {opts.stamp_path}: nothing to clean up")
        return 0
    if opts.sysroot_readonly:
        _remount_writable(opts)
    # Two cleanups at once (a manual run beside the unit) take turns: the second one then finds
    # the stamp gone instead of raising its attempt count for work that is already done.
    guard = DirectoryLock(os.path.dirname(opts.stamp_path))
    guard.acquire(opts.lock_timeout)
    try:
        return _run_locked(opts)
    finally:
        guard.release()


def _remount_writable(opts: Options) -> None:
    """Make what the cleanup writes writable in a private mount namespace of this process.

    Everything after this (the attempt count, libostree, the stamp's removal) runs in the same
    process and so in that namespace, where the sysroot's mount is read-write.
    """
    from . import remount

    paths = [os.path.dirname(opts.stamp_path), os.path.join(opts.sysroot, "ostree"), opts.repo]
    if opts.mode == "full":
        paths.append(os.path.join(opts.sysroot, "boot"))
    try:
        points = remount.make_writable([p for p in paths if os.path.isdir(p)])
    except remount.RemountError as e:
        hint = ""
        if remount.needs_privilege(e):
            hint = (
                "the cleanup service needs CAP_SYS_ADMIN, the mount namespace and mount(2): "
                "render it with sysroot-readonly: yes and keep those allowed"
            )
        raise HelperError(f"cannot make the read-only sysroot writable: {e.strerror}", hint) from e
    for point in points:
        log.info(f"remounted {point} read-write in a private mount namespace of this process")


_READ_ONLY_HINT = (
    "the sysroot is mounted read-only (ostree's sysroot.readonly): set sysroot-readonly: yes "
    "in the config (the helper's --sysroot-readonly), so that the cleanup remounts it in a "
    "mount namespace of its own"
)


def _stamp_hint(e: OSError, default: str) -> str:
    return _READ_ONLY_HINT if e.errno == errno.EROFS else default


def _run_locked(opts: Options) -> int:
    try:
        current = stamp.read(opts.stamp_path)
    except OSError as e:
        raise HelperError(f"cannot read the stamp {opts.stamp_path}: {e.strerror}") from e
    if current is None:
        log.info(f"no stamp at {opts.stamp_path} any more: another cleanup did the work")
        return 0
    if not current.valid_attempts:
        log.warning(f"the stamp {opts.stamp_path} has an unreadable attempts count; using 0")

    previous = current.attempts
    if previous >= opts.max_attempts:
        # The last allowed attempt never came back (killed or timed out).
        return _give_up(opts, previous, "the last attempt did not finish")

    attempt = previous + 1
    current.attempts = attempt
    try:
        stamp.write(opts.stamp_path, current)
    except OSError as e:
        raise HelperError(
            f"cannot update the stamp {opts.stamp_path}: {e.strerror}",
            _stamp_hint(
                e,
                "its directory must be writable by the cleanup service, or the cleanup would "
                "repeat at every boot",
            ),
        ) from e

    log.debug(f"cleanup attempt {attempt} of {opts.max_attempts}, mode {opts.mode}")
    started = time.monotonic()
    try:
        freed = _clean(opts)
    except HelperError as e:
        return _failed(opts, attempt, str(e))
    except Exception as e:  # a GLib or OS error from deep inside a backend
        return _failed(opts, attempt, f"{type(e).__name__}: {e}")
    seconds = time.monotonic() - started

    log.notice(
        f"freed {freed.objects} objects ({format_bytes(freed.bytes)}) from {opts.repo} "
        f"in {seconds:.1f}s"
    )
    _record(
        opts,
        "success",
        attempt,
        backend=freed.backend,
        objects_freed=freed.objects,
        bytes_freed=freed.bytes,
        seconds=round(seconds, 3),
    )
    try:
        stamp.remove(opts.stamp_path)
    except OSError as e:
        raise HelperError(
            f"cleanup succeeded but the stamp {opts.stamp_path} cannot be removed: {e.strerror}",
            _stamp_hint(e, "its directory must be writable by the cleanup service"),
        ) from e
    return 0


def _failed(opts: Options, attempt: int, reason: str) -> int:
    if attempt >= opts.max_attempts:
        return _give_up(opts, attempt, reason)
    log.error(
        f"cleanup failed (attempt {attempt} of {opts.max_attempts}): {reason}; "
        f"the stamp {opts.stamp_path} stays so that the next boot retries"
    )
    _record(opts, "failed", attempt, error=reason)
    return 1
