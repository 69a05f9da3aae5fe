"""The sysroot lock (SYSROOT/ostree/lock) for code paths that do not go through libostree.

libostree takes an exclusive open-file-description lock (fcntl F_OFD_SETLK) on that file for
every sysroot change (deploy, finalize, cleanup). OFD locks and classic POSIX record locks
conflict with each other, so `fcntl.lockf` here excludes and is excluded by ostree's own.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable

from . import log
from .errors import HelperError

POLL_SECONDS = 0.2


def lock_path(sysroot: str) -> str:
    return os.path.join(sysroot, "ostree", "lock")


def _poll(try_once: Callable[[], bool], timeout: float, waiting: str, held: str, hint: str) -> None:
    """Call `try_once` until it returns True, logging `waiting` once; after `timeout` seconds
    raise HelperError saying the lock is `held` (with `hint`)."""
    deadline = time.monotonic() + timeout
    waited = False
    while not try_once():
        if time.monotonic() >= deadline:
            raise HelperError(f"{held} after {timeout:g}s", hint)
        if not waited:
            log.info(waiting)
            waited = True
        time.sleep(POLL_SECONDS)


def wait_for(try_once: Callable[[], bool], sysroot: str, timeout: float) -> None:
    """Call `try_once` until it returns True; raise HelperError after `timeout` seconds."""
    _poll(
        try_once,
        timeout,
        f"waiting for the sysroot lock of {sysroot} (an update may be running)",
        f"the sysroot lock {lock_path(sysroot)} is still held",
        "an update or another cleanup is running; the next boot retries",
    )


class SysrootLock:
    """Holds the sysroot lock from `acquire()` until `release()`."""

    def __init__(self, sysroot: str) -> None:
        self.sysroot = sysroot
        self.fd = -1

    def _try(self) -> bool:
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return False
        return True

    def acquire(self, timeout: float) -> None:
        path = lock_path(self.sysroot)
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise HelperError(f"cannot open the sysroot lock {path}: {e.strerror}") from e
        try:
            wait_for(self._try, self.sysroot, timeout)
        except BaseException:
            os.close(self.fd)
            self.fd = -1
            raise

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class DirectoryLock:
    """An exclusive flock on a directory, serialising helper runs that share a stamp.

    The stamp itself cannot carry the lock (it is replaced by rename) and a lock file would be
    one more file in /sysroot; a directory can be flock'ed like any file. `dirfd`, when given,
    is an open descriptor of the directory (as confined.open_dir reached it): the lock is taken
    on a new open of that very directory, never of whatever its path names by now.
    """

    def __init__(self, directory: str, dirfd: int | None = None) -> None:
        self.directory = directory
        self.dirfd = dirfd
        self.fd = -1

    def _try(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as e:
            raise HelperError(f"cannot lock {self.directory}: {e.strerror}") from e
        return True

    def acquire(self, timeout: float) -> None:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        try:
            if self.dirfd is None:
                self.fd = os.open(self.directory, flags)
            else:
                # A new open file description: flock belongs to it, not to the caller's.
                self.fd = os.open(".", flags, dir_fd=self.dirfd)
        except OSError as e:
            raise HelperError(f"cannot open {self.directory}: {e.strerror}") from e
        try:
            _poll(
                self._try,
                timeout,
                f"waiting for another cleanup of the stamp in {self.directory}",
                f"another cleanup of the stamp in {self.directory} is still running",
                "the next boot retries",
            )
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
