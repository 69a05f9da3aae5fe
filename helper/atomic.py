"""Crash-safe file updates: a kill or power cut at any point leaves the old or the new file.

Everything is relative to an open directory (see confined.py): the temporary file, the rename
and the unlink all happen in that directory, whatever links appear in its path meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

NAME_MAX = 255
_TMP = b".tmp."
_RANDOM_BYTES = 8
# A temporary file lives for milliseconds; one this old belongs to a writer that was killed.
STALE_SECONDS = 60.0


def fsync_dir(dirfd: int) -> None:
    """Make a rename or unlink in the directory durable."""
    os.fsync(dirfd)


def _temp_prefix(name: str) -> bytes:
    """`.NAME.tmp.`, with NAME cut so that the whole temporary name fits in NAME_MAX bytes."""
    room = NAME_MAX - 1 - len(_TMP) - 2 * _RANDOM_BYTES
    return b"." + os.fsencode(name)[:room] + _TMP


def _is_temp_of(entry: bytes, prefix: bytes) -> bool:
    rest = entry[len(prefix) :]
    hexdigits = b"0123456789abcdef"
    return (
        entry.startswith(prefix)
        and len(rest) == 2 * _RANDOM_BYTES
        and all(c in hexdigits for c in rest)
    )


def _create_temp(dirfd: int, name: str, mode: int) -> tuple[bytes, int]:
    """A new temporary file next to `name`: a random name, created with O_EXCL, so that
    nothing planted there in advance (a link, a hard link to another file) is ever written."""
    prefix = _temp_prefix(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(16):
        tmp = prefix + os.urandom(_RANDOM_BYTES).hex().encode()
        try:
            return tmp, os.open(tmp, flags, mode, dir_fd=dirfd)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {name} after 16 tries")


def replace(dirfd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `name` in the directory with `data`: temporary file, fsync, rename, fsync dir.

    On any error the temporary file is removed and `name` is untouched; the OSError propagates.
    The rename replaces whatever `name` was (a link is replaced, never followed).
    """
    tmp, fd = _create_temp(dirfd, name, mode)
    try:
        try:
            # O_CREAT applies the umask; the mode must not depend on the caller's.
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            # Delayed allocation may only report a full disk at fsync time.
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dirfd)
        raise
    fsync_dir(dirfd)


def remove(dirfd: int, name: str) -> bool:
    """Unlink `name` (never what a link points to) durably; False when it did not exist."""
    try:
        os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        return False
    fsync_dir(dirfd)
    return True


def sweep_temps(dirfd: int, name: str, now: float | None = None) -> list[str]:
    """Remove the temporary files of `name` that killed writers left, older than
    STALE_SECONDS (so that a writer still at work keeps its own). Returns the names removed;
    never raises, the sweep is housekeeping."""
    prefix = _temp_prefix(name)
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    removed: list[str] = []
    try:
        entries = os.listdir(dirfd)
    except OSError:
        return removed
    for entry in entries:
        raw = os.fsencode(entry)
        if not _is_temp_of(raw, prefix):
            continue
        try:
            st = os.stat(raw, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                os.unlink(raw, dir_fd=dirfd)
                removed.append(entry)
        except OSError:
            continue
    if removed:
        with contextlib.suppress(OSError):
            fsync_dir(dirfd)
    return removed
