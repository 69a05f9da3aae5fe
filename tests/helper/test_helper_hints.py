"""What the helper tells an admin to do when the stamp cannot be written: one hint per cause,
chosen by errno (in-process; the program's tests see only a few of the causes)."""

from __future__ import annotations

import errno

import pytest

from ostree_autocleanup.helper import confined, machine


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (
            confined.Unsafe(errno.ENOTDIR, "x is a symbolic link", "x"),
            "every directory of --stamp below the sysroot must be a real directory",
        ),
        (
            OSError(errno.ENOSPC, "full"),
            "the filesystem is full; free some space, or run `ostree admin cleanup` by hand",
        ),
        (
            OSError(errno.EDQUOT, "quota"),
            "the filesystem is full; free some space, or run `ostree admin cleanup` by hand",
        ),
        (
            OSError(errno.EROFS, "ro"),
            "the filesystem is mounted read-only; the finalize unit must be able to write there",
        ),
        (OSError(errno.ENOENT, "missing"), "its directory does not exist; check --stamp"),
        (OSError(errno.EACCES, "denied"), "permission denied; mark must run as root"),
        (OSError(errno.EPERM, "not permitted"), "permission denied; mark must run as root"),
        (OSError(errno.EISDIR, "dir"), "a directory is in the way; remove it"),
        (OSError(errno.EIO, "io"), "check that the stamp's directory is writable"),
    ],
)
def test_mark_hint_names_the_cause(error: OSError, hint: str) -> None:
    assert machine.mark_hint(error) == hint


def test_a_read_only_stamp_points_at_the_sysroot_readonly_setting() -> None:
    assert machine._stamp_hint(OSError(errno.EROFS, "ro"), "other") == machine.READ_ONLY_HINT
    assert machine._stamp_hint(OSError(errno.EACCES, "denied"), "other") == "other"
    assert "sysroot-readonly: yes" in machine.READ_ONLY_HINT
