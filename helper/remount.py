"""Write access to a sysroot that the OS mounts read-only, without changing the host's mounts.

OSTree systems configured with `[sysroot] readonly=true` mount /sysroot read-only; ostree itself
writes there only from a mount namespace of its own, where it remounts the sysroot read-write.
The helper does the same, in every mode: `mark` for the mount holding the stamp, whenever that
mount is read-only; `cleanup --sysroot-readonly` for the mounts holding the stamp's directory,
SYSROOT/ostree and the repo, and in full mode SYSROOT/boot, before it touches anything (full
mode also lets libostree remount /boot itself in that namespace). Each time it moves this process
into a new mount namespace, makes every mount in it private (so that nothing it does there
propagates back), and clears the read-only flag of the one mount holding each path with a bind
remount. A bind remount changes that mount alone, never the filesystem beneath it: the host's
mount stays read-only, and the namespace, with its writable mount, ends with the process.

A filesystem that is itself read-only (its superblock, not only a mount of it) is left alone:
making it writable would change it for every mount of it on the host too.

Only the standard library (ctypes for unshare(2) and mount(2), which Python < 3.12 lacks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

CLONE_NEWNS = 0x00020000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

# Per-mount flags that a bind remount replaces: kept as they are. Atime flags are kept by the
# kernel when a remount names none.
_KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))

_private_namespace = False
_OCTAL = frozenset("01234567")


class RemountError(OSError):
    """The mount could not be made writable; the message says why, in one sentence."""


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


def _raise_errno(what: str) -> None:
    code = ctypes.get_errno()
    raise RemountError(code, f"{what}: {os.strerror(code)}")


def needs_privilege(error: OSError) -> bool:
    """True when the remount failed for want of a privilege (not a read-only filesystem)."""
    return error.errno in (errno.EPERM, errno.EACCES)


def is_read_only(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and set(field[i + 1 : i + 4]) <= _OCTAL:
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_point(path: str) -> str:
    """The mount point of the mount that holds `path` in this process's namespace."""
    target = os.path.realpath(path)
    best = "/"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) < 5:
                continue
            point = _unescape(fields[4])
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best = point
    return best


def enter_private_namespace() -> None:
    """Move this process into a mount namespace of its own whose mounts propagate nowhere."""
    global _private_namespace
    if _private_namespace:
        return
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        _raise_errno("cannot create a private mount namespace (unshare)")
    _private_namespace = True
    # In a chroot, / need not be a mount point (EINVAL); make_writable then makes each mount
    # it changes private on its own.
    failed = libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0
    if failed and ctypes.get_errno() != errno.EINVAL:
        _raise_errno("cannot make the mounts of the private namespace private")


def make_writable(paths: list[str]) -> list[str]:
    """Make the mounts holding `paths` writable in a private mount namespace of this process.

    Returns the mount points it remounted (empty when every path was writable already). Raises
    RemountError when a remount is needed but not possible.
    """
    done: list[str] = []
    for path in paths:
        if not is_read_only(path):
            continue
        enter_private_namespace()
        point = mount_point(path)
        if point in done:
            continue
        target = os.fsencode(point)
        if _libc().mount(None, target, None, MS_REC | MS_PRIVATE, None) != 0:
            _raise_errno(f"cannot make {point} private in the private mount namespace")
        flags = MS_REMOUNT | MS_BIND
        current = os.statvfs(point).f_flag
        for st_flag, ms_flag in _KEPT_FLAGS:
            if current & st_flag:
                flags |= ms_flag
        if _libc().mount(None, target, None, flags, None) != 0:
            _raise_errno(f"cannot remount {point} read-write")
        if is_read_only(path):
            raise RemountError(
                errno.EROFS,
                f"{point} stays read-only after a remount: the filesystem itself is read-only, "
                "not only its mount",
            )
        done.append(point)
    return done
