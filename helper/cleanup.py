"""`cleanup`: at boot, reclaim what the last finalization left behind, then clear the stamp.

This module wires the real pieces together: the stamp reached inside the sysroot, the remount
of a read-only sysroot, the stamp directory's lock and the backend that does the work. What
happens to the stamp and the state file, and when, is machine.py's: the attempt count is raised
durably *before* the work, so a cleanup that is killed (timeout, OOM, power cut) still counts;
after `max_attempts` started cleanups the helper gives up and removes the stamp instead of
costing every boot forever.
"""

from __future__ import annotations

import os
from typing import Any

from . import log, machine, state
from .errors import HelperError
from .lock import DirectoryLock
from .result import Freed
from .stamp import StampFile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .machine import Work


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
        pacing: bool = False,
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
        self.pacing = pacing

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


def _paced_clean(opts: Options) -> Freed:
    if not opts.pacing:
        return _clean(opts)
    from . import pacing

    return pacing.run_paced(lambda: _clean(opts), opts.repo)


def _context(opts: Options) -> dict[str, Any]:
    return {"sysroot": opts.sysroot, "repo": opts.repo, "mode": opts.mode}


def _reach_stamp(opts: Options) -> StampFile | None:
    """The stamp's directory, reached from the sysroot without links; None when it is missing."""
    try:
        return StampFile.open(opts.sysroot, opts.stamp_path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise HelperError(
            f"cannot reach the stamp {opts.stamp_path}: {e.strerror}",
            "the stamp lies in the sysroot and is reached without following links",
        ) from e


def _exists(stamp_file: StampFile) -> bool:
    try:
        return stamp_file.exists()
    except OSError as e:
        stamp_file.close()
        raise HelperError(f"cannot look for the stamp {stamp_file.path}: {e.strerror}") from e


def run_cleanup(opts: Options, work: Work | None = None) -> int:
    """`cleanup`: `work` is the cleanup itself, by default the backend that opts choose."""
    stamp_file = _reach_stamp(opts)
    if stamp_file is None or not _exists(stamp_file):
        if stamp_file is not None:
            stamp_file.close()
        log.info(f"no stamp at {opts.stamp_path}: nothing to clean up")
        return 0
    try:
        if opts.sysroot_readonly:
            _remount_writable(opts)
            try:
                stamp_file.reopen()
            except OSError as e:
                raise HelperError(
                    f"cannot reach the stamp {opts.stamp_path} after the remount: {e.strerror}"
                ) from e
        # Two cleanups at once (a manual run beside the unit) take turns: the second one then
        # finds the stamp gone instead of raising its attempt count for work that is already
        # done.
        guard = DirectoryLock(os.path.dirname(opts.stamp_path), stamp_file.dirfd)
        guard.acquire(opts.lock_timeout)
        try:
            for name in stamp_file.sweep():
                log.info(f"removed {name}, left behind by a writer that was killed")
            recorder = state.Recorder(opts.state_dir, opts.max_attempts, _context(opts))
            return machine.cleanup(stamp_file, recorder, work or (lambda: _paced_clean(opts)))
        finally:
            guard.release()
    finally:
        stamp_file.close()


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
