"""Files below the sysroot, reached without following a link and without opening anything odd.

The helper runs as root. Whatever lies at the stamp's path was possibly put there by someone
else: a symbolic link (to /etc/shadow, or a directory elsewhere), a FIFO (opening it for
reading waits for a writer forever), a device node (opening some has side effects). So:

- the stamp's directory is reached from the sysroot one component at a time, each opened with
  O_NOFOLLOW|O_DIRECTORY relative to the one before, after a lexical check that the path has
  no `..` left: the same walk as openat2's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, which Python
  does not offer (and ctypes would cost milliseconds at shutdown). The sysroot itself is the
  trust anchor and opened as given;
- a file is first opened with O_PATH|O_NOFOLLOW, which opens nothing (no FIFO wait, no device
  open), and only a regular file is then opened for reading, through /proc/self/fd so that it
  is the very inode just checked; without /proc, by name with O_NOFOLLOW|O_NONBLOCK, checked
  again after opening.

Every later operation (read, the temporary file, rename, unlink, fsync, flock) is relative to
the directory's descriptor, so a link planted after the walk cannot redirect it either.
"""

from __future__ import annotations

import errno
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Unsafe(OSError):
    """The path leads through or to something the helper does not follow or open.

    An OSError, so that every caller's `cannot read ...: {e.strerror}` message says why.
    """


def kind(mode: int) -> str:
    """What a file of `mode` is, for a message."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return name
    return "of an unknown type"


def is_within(root: str, path: str) -> bool:
    """True when the absolute `path` lies strictly below the absolute `root`, by their names.

    Both are normalised first, so `..` counts as what it says; links are the walk's business.
    """
    root = os.path.normpath(root)
    path = os.path.normpath(path)
    if root == path:
        return False
    return os.path.commonpath([root, path]) == root


def open_dir(root: str, directory: str) -> int:
    """A descriptor of `directory` (`root` itself or below it), reached without links.

    Raises Unsafe when a component below `root` is a symbolic link or not a directory,
    FileNotFoundError when one is missing, ValueError when `directory` lies outside `root`.
    """
    root = os.path.normpath(root)
    directory = os.path.normpath(directory)
    if directory != root and not is_within(root, directory):
        raise ValueError(f"{directory} is not inside {root}")
    parts = [] if directory == root else os.path.relpath(directory, root).split(os.sep)
    fd = os.open(root, _DIR_FLAGS)
    try:
        reached = root
        for part in parts:
            reached = os.path.join(reached, part)
            try:
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                problem = (
                    "a symbolic link, and the helper follows none below the sysroot"
                    if stat.S_ISLNK(mode)
                    else f"{kind(mode)}, not a directory"
                )
                raise Unsafe(e.errno, f"{reached} is {problem}", reached) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def lexists(dirfd: int, name: str) -> bool:
    """Whether anything at all (a link, a FIFO, ...) has `name` in the directory."""
    try:
        os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def open_regular(dirfd: int, name: str, shown: str) -> int | None:
    """A read-only descriptor of the regular file `name`, None when there is nothing there.

    Raises Unsafe for anything but a regular file; `shown` is the path that messages name.
    """
    try:
        handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    except FileNotFoundError:
        return None
    try:
        checked = os.fstat(handle)
        if not stat.S_ISREG(checked.st_mode):
            raise Unsafe(errno.EINVAL, f"it is {kind(checked.st_mode)}, not a regular file", shown)
        try:
            fd = os.open(f"/proc/self/fd/{handle}", _READ_FLAGS)
        except FileNotFoundError:
            # No /proc: by name again, never following a link and never waiting.
            fd = os.open(name, _READ_FLAGS | os.O_NOFOLLOW, dir_fd=dirfd)
    finally:
        os.close(handle)
    opened = os.fstat(fd)
    if not (stat.S_ISREG(opened.st_mode) and _same(opened, checked)):
        os.close(fd)
        raise Unsafe(errno.EAGAIN, "it was replaced while being opened", shown)
    return fd


def read_regular(dirfd: int, name: str, shown: str, limit: int) -> bytes | None:
    """At most `limit` bytes of the regular file `name`; None when there is none."""
    fd = open_regular(dirfd, name, shown)
    if fd is None:
        return None
    try:
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
