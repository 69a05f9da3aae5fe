"""atomic.py, confined.py, numbers.py and stamp.py called in-process, at their edges: what a
sweep leaves alone, what a failed replace reports, how a file is opened when /proc is missing,
where a count stops being exact, and the stamp's time and names in UTC whatever the local zone.

test_helper_files.py and test_helper_stamp_file.py pin the common paths; these pin the corners
(a race, a read-only filesystem, descriptor 0), each to the exact value or error."""

from __future__ import annotations

import calendar
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ostree_autocleanup.helper import atomic, confined, stamp
from ostree_autocleanup.helper.numbers import SATURATED, parse_count, parse_seconds

# Any time after every file of the test was made: each temporary file counts as stale.
LATER = time.time() + 3600


@pytest.fixture
def dirfd(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def _temp(name: str, digits: str) -> str:
    return f".{name}.tmp.{digits}"


# --- atomic: the temporary files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "swept"),
    [
        (_temp("stamp", "0123456789abcdef"), True),
        (_temp("stamp", "X" * 16), False),
        (_temp("stamp", "0123456789ABCDEF"), False),
        (_temp("stamp", "0123456789abcde"), False),
        (_temp("stamp", "0123456789abcdef0"), False),
        (_temp("other", "0123456789abcdef"), False),
    ],
)
def test_a_sweep_removes_only_names_the_writer_makes(
    tmp_path: Path, dirfd: int, entry: str, swept: bool
) -> None:
    (tmp_path / entry).write_bytes(b"")
    assert atomic.sweep_temps(dirfd, "stamp", now=LATER) == ([entry] if swept else [])
    assert (tmp_path / entry).exists() is not swept


def test_a_sweep_leaves_a_link_named_like_a_temporary_file(tmp_path: Path, dirfd: int) -> None:
    # The link's target is an old regular file: only the link itself is looked at.
    (tmp_path / "target").write_bytes(b"kept")
    link = tmp_path / _temp("stamp", "0123456789abcdef")
    link.symlink_to("target")
    assert atomic.sweep_temps(dirfd, "stamp", now=LATER) == []
    assert link.is_symlink()
    assert (tmp_path / "target").read_bytes() == b"kept"


def test_a_sweep_goes_on_past_a_file_that_vanished_meanwhile(
    tmp_path: Path, dirfd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [_temp("stamp", f"{i:016x}") for i in range(4)]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    real_stat = os.stat
    vanished: list[str] = []

    def racing_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        # Another sweeper removes the first file this one looks at, just before it looks.
        if not vanished and isinstance(path, bytes) and path.startswith(b".stamp.tmp."):
            vanished.append(os.fsdecode(path))
            os.unlink(path, dir_fd=kwargs["dir_fd"])
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", racing_stat)
    removed = atomic.sweep_temps(dirfd, "stamp", now=LATER)
    monkeypatch.undo()
    assert sorted(removed + vanished) == names
    assert len(removed) == 3
    assert os.listdir(tmp_path) == []


def test_a_sweep_never_raises_when_the_directory_cannot_be_synced(
    tmp_path: Path, dirfd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = _temp("stamp", "0123456789abcdef")
    (tmp_path / entry).write_bytes(b"")

    def failing_fsync(_dirfd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "fsync_dir", failing_fsync)
    assert atomic.sweep_temps(dirfd, "stamp", now=LATER) == [entry]


def test_a_replace_on_a_filesystem_gone_read_only_raises_the_rename_error(
    tmp_path: Path, dirfd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rename fails, and so does removing the temporary file: the caller reads why the
    # rename failed, not why the cleanup after it did.
    (tmp_path / "stamp").write_bytes(b"old")

    def read_only(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "rename", read_only)
    monkeypatch.setattr(os, "unlink", read_only)
    with pytest.raises(OSError) as raised:
        atomic.replace(dirfd, "stamp", b"new")
    monkeypatch.undo()
    assert type(raised.value) is OSError
    assert raised.value.errno == errno.EROFS
    assert (tmp_path / "stamp").read_bytes() == b"old"


# --- confined: without /proc -----------------------------------------------------------------


def test_without_proc_a_file_swapped_for_a_link_to_itself_is_not_followed(
    tmp_path: Path, dirfd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the check and the open, the file is renamed and a link to it takes its name:
    # the same inode, reached through a link, which the reopening by name must not follow.
    (tmp_path / "stamp").write_bytes(b"attempts=1\n")
    real_open = os.open

    def no_proc(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if isinstance(path, str) and path.startswith("/proc/self/fd/"):
            os.rename(tmp_path / "stamp", tmp_path / "moved")
            os.symlink("moved", tmp_path / "stamp")
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_proc)
    with pytest.raises(OSError) as raised:
        confined.open_regular(dirfd, "stamp", str(tmp_path / "stamp"))
    monkeypatch.undo()
    assert raised.value.errno == errno.ELOOP


# --- numbers: the largest exact count ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("18446744073709551615", 2**64 - 1),
        ("99999999999999999999", 10**20 - 1),
        ("000099999999999999999999", 10**20 - 1),
        ("100000000000000000000", SATURATED),
        ("999999999999999999999", SATURATED),
    ],
)
def test_a_count_of_twenty_digits_is_exact_and_more_saturate(text: str, count: int) -> None:
    assert parse_count(text) == count
    assert parse_seconds(text) == float(count)


def test_seconds_of_twenty_digits_are_read_as_written() -> None:
    assert parse_seconds("18446744073709551615.5") == 18446744073709551615.5
    assert parse_seconds("100000000000000000000.5") == float(SATURATED)


# --- stamp -----------------------------------------------------------------------------------


def test_utc_now_is_utc_whatever_the_local_zone() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    try:
        before = time.time()
        marked = stamp.utc_now()
        after = time.time()
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    seconds = calendar.timegm(time.strptime(marked, "%Y-%m-%dT%H:%M:%SZ"))
    assert int(before) <= seconds <= after


def test_a_stamp_directory_at_descriptor_0_is_closed_too(tmp_path: Path) -> None:
    # A helper started with stdin closed gets its first descriptor, the directory, as 0.
    saved = os.dup(0)
    try:
        fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        os.dup2(fd, 0)
        os.close(fd)
        sf = stamp.StampFile(str(tmp_path.parent), str(tmp_path / "stamp"), 0)
        sf.close()
        assert sf.dirfd == -1
        with pytest.raises(OSError) as raised:
            os.fstat(0)
        assert raised.value.errno == errno.EBADF
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def test_reading_a_fifo_names_the_stamp_path(tmp_path: Path) -> None:
    path = tmp_path / "stamp"
    os.mkfifo(path)
    sf = stamp.StampFile.open(str(tmp_path.parent), str(path))
    with sf, pytest.raises(confined.Unsafe) as raised:
        sf.read()
    assert raised.value.filename == str(path)
    assert str(raised.value) == f"[Errno 22] it is a FIFO, not a regular file: '{path}'"
