"""confined.py and atomic.py called in-process, without root: what each function promises, to
the byte and to the errno. The helper's own tests run it as a program; these pin the pieces
(and kill mutants that only a program's exit status would not show)."""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ostree_autocleanup.helper import atomic, confined

# --- confined.kind / is_within ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "name"),
    [
        (stat.S_IFLNK | 0o777, "a symbolic link"),
        (stat.S_IFDIR | 0o755, "a directory"),
        (stat.S_IFIFO | 0o644, "a FIFO"),
        (stat.S_IFSOCK | 0o755, "a socket"),
        (stat.S_IFCHR | 0o666, "a character device"),
        (stat.S_IFBLK | 0o660, "a block device"),
        (stat.S_IFREG | 0o644, "a regular file"),
        (0o644, "of an unknown type"),
    ],
)
def test_kind_names_every_file_type(mode: int, name: str) -> None:
    assert confined.kind(mode) == name


@pytest.mark.parametrize(
    ("root", "path", "within"),
    [
        ("/sysroot", "/sysroot/.cleanup", True),
        ("/sysroot", "/sysroot/a/b", True),
        ("/sysroot/", "/sysroot//x", True),
        ("/sysroot", "/sysroot", False),
        ("/sysroot", "/sysroot/", False),
        ("/sysroot", "/sysroot/x/..", False),
        ("/sysroot", "/sysroot/../etc/shadow", False),
        ("/sysroot", "/sysrootx/a", False),
        ("/sysroot", "/", False),
        ("/", "/x", True),
    ],
)
def test_is_within_goes_by_normalised_names(root: str, path: str, within: bool) -> None:
    assert confined.is_within(root, path) is within


# --- confined.open_dir ---------------------------------------------------------------------


def _same_dir(fd: int, path: Path) -> bool:
    a, b = os.fstat(fd), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def test_open_dir_reaches_the_root_and_below_it(tmp_path: Path, fds: None) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    for directory in (tmp_path, tmp_path / "a", tmp_path / "a/b", tmp_path / "a/./b/"):
        fd = confined.open_dir(str(tmp_path), str(directory))
        try:
            assert _same_dir(fd, directory)
        finally:
            os.close(fd)


def test_open_dir_refuses_a_directory_outside_the_root(tmp_path: Path, fds: None) -> None:
    with pytest.raises(ValueError, match=rf"^{tmp_path.parent} is not inside {tmp_path}$"):
        confined.open_dir(str(tmp_path), str(tmp_path.parent))
    with pytest.raises(ValueError):
        confined.open_dir(str(tmp_path / "a"), str(tmp_path / "ab"))


def test_open_dir_refuses_a_link_on_the_way_and_names_it(tmp_path: Path, fds: None) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a/link").symlink_to(tmp_path / "real")
    with pytest.raises(confined.Unsafe) as caught:
        confined.open_dir(str(tmp_path), str(tmp_path / "a/link/deeper"))
    assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)  # Linux says ENOTDIR
    assert caught.value.filename == str(tmp_path / "a/link")
    assert caught.value.strerror == (
        f"{tmp_path}/a/link is a symbolic link, and the helper follows none below the sysroot"
    )


def test_open_dir_refuses_a_file_on_the_way_and_says_what_it_is(tmp_path: Path, fds: None) -> None:
    (tmp_path / "a").mkdir()
    os.mkfifo(tmp_path / "a/fifo")
    with pytest.raises(confined.Unsafe) as caught:
        confined.open_dir(str(tmp_path), str(tmp_path / "a/fifo/x"))
    assert caught.value.errno == errno.ENOTDIR
    assert caught.value.strerror == f"{tmp_path}/a/fifo is a FIFO, not a directory"


def test_open_dir_lets_a_missing_directory_say_so(tmp_path: Path, fds: None) -> None:
    with pytest.raises(FileNotFoundError):
        confined.open_dir(str(tmp_path), str(tmp_path / "missing/x"))


def test_lexists_sees_a_dangling_link_and_nothing_else(tmp_path: Path, fds: None) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert confined.lexists(fd, "dangling") is True
        assert confined.lexists(fd, "nowhere") is False
    finally:
        os.close(fd)


# --- confined.open_regular / read_regular --------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_read_regular_reads_up_to_the_limit(tmp_path: Path, directory: int, fds: None) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    (tmp_path / "empty").write_bytes(b"")
    assert confined.read_regular(directory, "f", "shown", 4) == b"0123"
    assert confined.read_regular(directory, "f", "shown", 10) == b"0123456789"
    assert confined.read_regular(directory, "f", "shown", 11) == b"0123456789"
    assert confined.read_regular(directory, "empty", "shown", 11) == b""
    assert confined.read_regular(directory, "missing", "shown", 11) is None


def test_read_regular_gathers_short_reads(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f").write_bytes(b"abcdef")
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real(fd, min(n, 2)))
    assert confined.read_regular(directory, "f", "shown", 5) == b"abcde"


def test_read_regular_never_opens_a_fifo_a_link_or_a_directory(
    tmp_path: Path, directory: int, fds: None
) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "target").write_bytes(b"secret")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "dir").mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        for name, what in (
            ("fifo", "a FIFO"),
            ("link", "a symbolic link"),
            ("dir", "a directory"),
            ("sock", "a socket"),
        ):
            with pytest.raises(confined.Unsafe) as caught:
                confined.read_regular(directory, name, f"/shown/{name}", 100)
            assert caught.value.errno == errno.EINVAL
            assert caught.value.strerror == f"it is {what}, not a regular file"
            assert caught.value.filename == f"/shown/{name}"


def test_open_regular_without_proc_opens_by_name(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch, fds: None
) -> None:
    (tmp_path / "f").write_bytes(b"data")
    real = os.open

    def no_proc(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith("/proc/self/fd/"):
            raise FileNotFoundError(errno.ENOENT, "no /proc", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_proc)
    assert confined.read_regular(directory, "f", "shown", 100) == b"data"


def test_open_regular_refuses_a_file_replaced_while_it_was_opened(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch, fds: None
) -> None:
    (tmp_path / "f").write_bytes(b"first")
    (tmp_path / "other").write_bytes(b"second")
    real = os.open

    def swapped(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith("/proc/self/fd/"):
            return real(tmp_path / "other", *args, **kwargs)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapped)
    with pytest.raises(confined.Unsafe) as caught:
        confined.open_regular(directory, "f", "/shown/f")
    assert caught.value.errno == errno.EAGAIN
    assert caught.value.strerror == "it was replaced while being opened"
    assert caught.value.filename == "/shown/f"


# --- atomic ----------------------------------------------------------------------------------


def test_temporary_names_fit_name_max_and_are_recognised() -> None:
    for name in ("stamp", "n" * 255, "é" * 200):
        prefix = atomic._temp_prefix(name)
        assert prefix.startswith(b".") and prefix.endswith(b".tmp.")
        assert len(prefix) + 16 <= 255
        assert atomic._is_temp_of(prefix + b"0123456789abcdef", prefix)
    prefix = atomic._temp_prefix("n" * 300)
    assert len(prefix) + 16 == 255
    assert atomic._temp_prefix("stamp") == b".stamp.tmp."
    assert not atomic._is_temp_of(b".stamp.tmp.0123456789abcde", b".stamp.tmp.")
    assert not atomic._is_temp_of(b".stamp.tmp.0123456789abcdef0", b".stamp.tmp.")
    assert not atomic._is_temp_of(b".stamp.tmp.0123456789ABCDEF", b".stamp.tmp.")
    assert not atomic._is_temp_of(b".stamp.tmp.0123456789abcdeg", b".stamp.tmp.")
    assert not atomic._is_temp_of(b".other.tmp.0123456789abcdef", b".stamp.tmp.")


def test_replace_writes_all_with_its_mode_whatever_the_umask(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch, fds: None
) -> None:
    data = bytes(range(256)) * 40
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, view: real(fd, view[:1000]))  # short writes
    old = os.umask(0o077)
    try:
        atomic.replace(directory, "f", data, 0o644)
        atomic.replace(directory, "g", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").read_bytes() == data
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "g").st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["f", "g"]


def test_replace_syncs_the_file_before_the_rename_and_the_directory_after(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append("fsync dir" if fd == directory else "fsync file")
        real_fsync(fd)

    def rename(*args: Any, **kwargs: Any) -> None:
        events.append("rename")
        real_rename(*args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    atomic.replace(directory, "f", b"new")
    assert events == ["fsync file", "rename", "fsync dir"]


def test_replace_replaces_a_link_and_never_writes_through_it(
    tmp_path: Path, directory: int
) -> None:
    (tmp_path / "target").write_bytes(b"keep")
    (tmp_path / "f").symlink_to(tmp_path / "target")
    atomic.replace(directory, "f", b"new")
    assert not (tmp_path / "f").is_symlink()
    assert (tmp_path / "f").read_bytes() == b"new"
    assert (tmp_path / "target").read_bytes() == b"keep"


def test_a_failed_replace_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch, fds: None
) -> None:
    (tmp_path / "f").write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        atomic.replace(directory, "f", b"new")
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == ["f"]
    assert (tmp_path / "f").read_bytes() == b"old"


def test_temporary_names_are_random_and_never_reuse_a_planted_file(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = iter([b"\x00" * 8, b"\x00" * 8, b"\x11" * 8])
    monkeypatch.setattr(os, "urandom", lambda n: next(names))
    planted = tmp_path / ".f.tmp.0000000000000000"
    planted.write_bytes(b"planted")
    atomic.replace(directory, "f", b"new")
    assert planted.read_bytes() == b"planted"
    assert (tmp_path / "f").read_bytes() == b"new"


def test_after_sixteen_taken_names_replace_gives_up(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def same(n: int) -> bytes:
        tries.append(n)
        return b"\x00" * n

    monkeypatch.setattr(os, "urandom", same)
    (tmp_path / ".f.tmp.0000000000000000").write_bytes(b"planted")
    with pytest.raises(FileExistsError, match=r"^no free temporary name for f after 16 tries$"):
        atomic.replace(directory, "f", b"new")
    assert tries == [8] * 16
    assert not (tmp_path / "f").exists()


def test_remove_unlinks_a_link_not_its_target_and_syncs(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "target").write_bytes(b"keep")
    (tmp_path / "f").symlink_to(tmp_path / "target")
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    assert atomic.remove(directory, "f") is True
    assert synced == [directory]
    assert atomic.remove(directory, "f") is False
    assert synced == [directory]
    assert (tmp_path / "target").read_bytes() == b"keep"


def test_sweep_removes_only_stale_temporary_files_of_that_name(
    tmp_path: Path, directory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = 1_000_000.0
    stale, fresh, edge = (
        ".stamp.tmp.00000000000000aa",
        ".stamp.tmp.00000000000000bb",
        ".stamp.tmp.00000000000000cc",
    )
    for name, age in ((stale, 61.0), (fresh, 59.0), (edge, 60.0)):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (now - age, now - age))
    others = [".other.tmp.00000000000000aa", "stamp", ".stamp.tmp.short"]
    for name in others:
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (0, 0))
    (tmp_path / ".stamp.tmp.00000000000000dd").mkdir()
    os.utime(tmp_path / ".stamp.tmp.00000000000000dd", (0, 0))
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    assert atomic.sweep_temps(directory, "stamp", now=now) == [stale]
    assert synced == [directory]
    assert sorted(os.listdir(tmp_path)) == sorted(
        [fresh, edge, *others, ".stamp.tmp.00000000000000dd"]
    )
    synced.clear()
    assert atomic.sweep_temps(directory, "stamp", now=now) == []
    assert synced == []


def test_sweep_uses_the_clock_and_never_raises(tmp_path: Path, directory: int) -> None:
    name = ".stamp.tmp.00000000000000aa"
    (tmp_path / name).write_bytes(b"")
    os.utime(tmp_path / name, (0, 0))
    assert atomic.sweep_temps(directory, "stamp") == [name]
    assert atomic.sweep_temps(-1, "stamp") == []
