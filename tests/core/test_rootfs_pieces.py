"""rootfs in its smaller pieces: the exact messages of refused roots and paths, what resolve()
and host_entry_path() return for '..', '.', trailing slashes and missing parts, the symlink hop
limit, the modes files and directories are born with, short writes, cleanup that itself fails,
the no-replace rename, and that no descriptor is leaked or closed twice."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from ostree_autocleanup.generator import rootfs
from ostree_autocleanup.generator.rootfs import TEMP_PREFIX, EscapeError, Root, RootError


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/file").write_bytes(b"data")
    (root / "lib").symlink_to("usr/lib/")
    (root / "etc").mkdir()
    (root / "etc/abs").symlink_to("/usr")
    (root / "etc/plain").write_bytes(b"")
    return root


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """os.umask, with the process's own umask put back afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- opening the root --------------------------------------------------------------------------


def test_refused_roots_say_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "to-file").symlink_to("file")
    (tmp_path / "dangling").symlink_to("nowhere")
    cases = {
        f"{tmp_path}/file/x": f"{tmp_path}/file/x: cannot use as root: Not a directory",
        f"{tmp_path}/to-file": f"{tmp_path}/to-file: root is not a directory",
        f"{tmp_path}/dangling": (
            f"{tmp_path}/dangling: cannot open root: No such file or directory"
        ),
    }
    for path, message in cases.items():
        with pytest.raises(RootError) as caught:
            Root(path, read_only=True)
        assert str(caught.value) == message


def test_a_read_only_root_may_be_a_symlink_and_is_read_through_it(image: Path) -> None:
    (image.parent / "alias").symlink_to("root")
    with Root(str(image.parent / "alias"), read_only=True) as root:
        entry = root.entry("usr/lib/file")
        assert root.list_directory("") == ["etc", "lib", "usr"]
    assert (entry.kind, entry.data) == ("file", b"data")


def test_closing_twice_closes_the_descriptor_once(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Root(str(image))
    opened = root._fd
    closed: list[int] = []
    real_close = os.close

    def spy(fd: int) -> None:
        closed.append(fd)
        if fd == opened:
            real_close(fd)

    monkeypatch.setattr(os, "close", spy)
    root.close()
    root.close()
    with root:
        pass
    assert closed == [opened]


def test_a_root_opened_on_descriptor_zero_is_closed(image: Path) -> None:
    saved = os.dup(0)
    try:
        os.close(0)
        root = Root(str(image))
        assert root._fd == 0
        root.close()
        with pytest.raises(OSError) as caught:
            os.fstat(0)
        assert caught.value.errno == errno.EBADF
    finally:
        os.dup2(saved, 0)
        os.close(saved)


# -- resolving ----------------------------------------------------------------------------------

RESOLVED = [
    ("usr/..", ""),
    ("lib/..", "usr"),
    ("usr/.", "usr"),
    ("lib", "usr/lib"),
    ("lib/file", "usr/lib/file"),
    ("usr/lib/nofile", "usr/lib/nofile"),
    ("usr/missing/x", "usr/missing/x"),
    ("etc/abs/lib", "usr/lib"),
    ("etc/abs/missing/x", "usr/missing/x"),
]


@pytest.mark.parametrize(("path", "real"), RESOLVED)
def test_resolve_returns_the_real_path(image: Path, path: str, real: str) -> None:
    with Root(str(image)) as root:
        assert root.resolve(path) == real


def test_a_relative_link_with_dot_components_resolves_without_them(image: Path) -> None:
    (image / "etc/dotted").symlink_to("./../usr/./lib")
    with Root(str(image)) as root:
        assert root.resolve("etc/dotted/file") == "usr/lib/file"
        assert root.missing_directories("./etc/dotted/./new/x") == [
            "usr/lib/new",
            "usr/lib/new/x",
        ]


ENTRY_PATHS = [
    ("", ""),
    ("lib", "lib"),
    ("lib/file", "usr/lib/file"),
    ("lib/..", "usr"),
    ("etc/abs/..", ""),
]


@pytest.mark.parametrize(("path", "host"), ENTRY_PATHS)
def test_host_entry_path_leaves_only_a_final_symlink_alone(
    image: Path, path: str, host: str
) -> None:
    with Root(str(image)) as root:
        assert root.host_entry_path(path) == (f"{image}/{host}" if host else str(image))


def test_a_symlink_loop_is_named_by_the_path_asked_for(image: Path) -> None:
    (image / "a").symlink_to("b")
    (image / "b").symlink_to("/a")
    with Root(str(image)) as root, pytest.raises(EscapeError) as caught:
        root.resolve("a")
    assert str(caught.value) == f"{image}/a: too many levels of symlinks"


def test_forty_symlinks_in_a_row_are_followed_and_the_forty_first_is_refused(
    image: Path,
) -> None:
    (image / "hop40").symlink_to("usr")
    for number in range(39, 0, -1):
        (image / f"hop{number}").symlink_to(f"hop{number + 1}")
    (image / "hop0").symlink_to("hop1")
    with Root(str(image)) as root:
        assert root.list_directory("hop1") == ["lib"]
        with pytest.raises(EscapeError) as caught:
            root.list_directory("hop0")
    assert str(caught.value) == f"{image}/hop40: too many levels of symlinks"


def test_refused_walks_name_the_path_the_user_knows(image: Path) -> None:
    (image / "etc/up").symlink_to("gone/../../..")
    cases = {
        "..": f"{image}/..: '..' leads outside the root",
        "etc/plain/x": f"{image}/etc/plain: not a directory",
        "etc/up/x": (
            f"{image}/etc/up: symlink leads through a missing directory and back up; "
            "refusing to guess"
        ),
    }
    with Root(str(image)) as root:
        for path, message in cases.items():
            with pytest.raises(EscapeError) as caught:
                root.list_directory(path)
            assert str(caught.value) == message


def test_an_absolute_symlink_deep_in_the_walk_leaks_no_descriptor(image: Path) -> None:
    with Root(str(image)) as root:
        before = _open_descriptors()
        assert root.resolve("etc/abs/lib/file") == "usr/lib/file"
        assert root.list_directory("etc/abs/lib") == ["file"]
        assert _open_descriptors() == before


@contextlib.contextmanager
def _not_writable(directory: Path) -> Iterator[None]:
    """directory refuses writes: mode 0555 for a user; for root, whom modes do not stop, a
    read-only bind mount of it on itself (access(2) then says EROFS)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_writable_asks_about_the_directory_not_the_working_directory(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(image)
    with _not_writable(image / "usr/lib"), Root(str(image)) as root:
        assert root.writable("usr/lib") is False
        assert root.writable("usr/lib/new/dir") is False
        assert root.writable("etc/new") is True


# -- writing ------------------------------------------------------------------------------------


def test_a_failed_mkdir_names_the_directory(image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "mkdir", full)
    with Root(str(image)) as root, pytest.raises(OSError) as caught:
        root.write("usr/new/deeper/file", b"", 0o644, [])
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"[Errno 28] No space left on device: '{image}/usr/new'"


def _record_modes_at_fchmod(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    born: list[int] = []
    real_fchmod = os.fchmod

    def spy(fd: int, mode: int) -> None:
        born.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fchmod(fd, mode)

    monkeypatch.setattr(os, "fchmod", spy)
    return born


@pytest.mark.parametrize("atomically", [False, True])
def test_files_and_directories_are_never_wider_than_their_final_mode(
    image: Path,
    monkeypatch: pytest.MonkeyPatch,
    umask: Callable[[int], int],
    atomically: bool,
) -> None:
    born = _record_modes_at_fchmod(monkeypatch)
    umask(0)
    with Root(str(image)) as root:
        write = root.write_with_parents_atomically if atomically else root.write
        write("usr/new/deeper/unit", b"x", 0o644, [])
    assert born == [0o755, 0o755, 0o600]


def test_made_directories_get_0755_whatever_the_umask(
    image: Path, umask: Callable[[int], int]
) -> None:
    umask(0o077)
    created: list[str] = []
    with Root(str(image)) as root:
        root.write("etc/new/deeper/unit", b"x", 0o644, created)
    assert created == ["etc/new", "etc/new/deeper"]
    modes = {
        path: stat.S_IMODE(os.stat(image / path).st_mode)
        for path in ("etc", "etc/new", "etc/new/deeper", "etc/new/deeper/unit")
    }
    assert modes == {
        "etc": 0o755,
        "etc/new": 0o755,
        "etc/new/deeper": 0o755,
        "etc/new/deeper/unit": 0o644,
    }


def test_short_writes_are_continued(image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    with Root(str(image)) as root:
        root.write("etc/unit", b"0123456789", 0o644, [])
    assert (image / "etc/unit").read_bytes() == b"0123456789"


def test_the_temporary_file_is_made_exclusively(
    image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rootfs, "_token", lambda: "fixed")
    (image / f"etc/{TEMP_PREFIX}unit.fixed").symlink_to(tmp_path / "victim")
    with Root(str(image)) as root, pytest.raises(FileExistsError):
        root.write("etc/unit", b"x", 0o644, [])
    assert not (tmp_path / "victim").exists()
    assert not (image / "etc/unit").exists()


def _fail(number: int) -> Callable[..., None]:
    def failing(*args: Any, **kwargs: Any) -> None:
        raise OSError(number, os.strerror(number))

    return failing


def test_a_failed_write_leaves_no_temporary_file(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "write", _fail(errno.ENOSPC))
    with Root(str(image)) as root, pytest.raises(OSError) as caught:
        root.write("etc/unit", b"x", 0o644, [])
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == f"{image}/etc/unit"
    assert sorted(os.listdir(image / "etc")) == ["abs", "plain"]


def test_a_failing_cleanup_does_not_hide_the_error_of_a_write(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "write", _fail(errno.ENOSPC))
    monkeypatch.setattr(os, "unlink", _fail(errno.EROFS))
    monkeypatch.setattr(os, "rmdir", _fail(errno.EROFS))
    with Root(str(image)) as root:
        with pytest.raises(OSError) as caught:
            root.write("etc/unit", b"x", 0o644, [])
        assert caught.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as caught:
            root.write_with_parents_atomically("etc/new/unit", b"x", 0o644, [])
        assert caught.value.errno == errno.ENOSPC
        assert caught.value.filename == f"{image}/etc/new/unit"


def test_a_failing_cleanup_does_not_hide_the_error_of_a_symlink(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "rename", _fail(errno.EIO))
    monkeypatch.setattr(os, "unlink", _fail(errno.EROFS))
    with Root(str(image)) as root, pytest.raises(OSError) as caught:
        root.symlink("etc/link", "target")
    assert caught.value.errno == errno.EIO
    assert caught.value.filename == f"{image}/etc/link"


# -- the no-replace rename ----------------------------------------------------------------------


@pytest.mark.parametrize("occupant", ["directory", "dangling symlink"])
def test_rename_noreplace_refuses_any_occupant_and_drops_the_source(
    tmp_path: Path, occupant: str
) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "source/file").write_bytes(b"")
    if occupant == "directory":
        (tmp_path / "target").mkdir()
    else:
        (tmp_path / "target").symlink_to("nowhere")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileExistsError) as caught:
            rootfs._rename_noreplace(fd, "source", "target")
    finally:
        os.close(fd)
    assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (
        errno.EEXIST,
        "File exists",
        "target",
    )
    assert sorted(os.listdir(tmp_path)) == ["target"]
    assert os.path.lexists(tmp_path / "target")
