"""rootfs.Root method by method, in-process and without root: what each returns, leaves on disk
and names in its errors. The installer tests reach these through whole installs."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from ostree_autocleanup.generator import rootfs
from ostree_autocleanup.generator.errors import Failure, UsageError
from ostree_autocleanup.generator.rootfs import TEMP_PREFIX, EscapeError, Root, RootError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/a/b").mkdir(parents=True)
    (root / "etc/file").write_bytes(b"data")
    (root / "etc/link").symlink_to("a")
    (root / "etc/a/b/deep").write_bytes(b"")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/keep").write_bytes(b"keep")
    return root


def test_snapshot_lists_directories_and_links_with_the_way_there(tree: Path) -> None:
    with Root(str(tree)) as root:
        assert root.snapshot("etc") == {
            "etc": "dir",
            "etc/a": "dir",
            "etc/a/b": "dir",
            "etc/link": "-> a",
        }
        assert root.snapshot("etc/a/b") == {"etc": "dir", "etc/a": "dir", "etc/a/b": "dir"}
        assert root.snapshot("etc/missing/x") == {"etc": "dir"}
        assert root.snapshot("etc/file/x") == {"etc": "dir", "etc/file": "file"}
        assert root.snapshot("etc/a/missing") == {"etc": "dir", "etc/a": "dir"}


def test_list_directory_is_sorted_and_empty_when_missing(tree: Path) -> None:
    with Root(str(tree)) as root:
        assert root.list_directory("etc") == ["a", "file", "link"]
        assert root.list_directory("etc/missing") == []


def test_entry_says_what_is_there(tree: Path) -> None:
    os.mkfifo(tree / "etc/fifo")
    (tree / "etc/file").chmod(0o640)
    with Root(str(tree)) as root:
        assert root.entry("etc/file") == rootfs.Entry("file", data=b"data", mode=0o640)
        assert root.entry("etc/link") == rootfs.Entry("symlink", target="a")
        assert root.entry("etc/a") == rootfs.Entry("directory")
        assert root.entry("etc/fifo") == rootfs.Entry("other")
        assert root.entry("etc/nothing") == rootfs.Entry("missing")
        assert root.entry("nothing/x") == rootfs.Entry("missing")


def _syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    return synced


def test_symlink_replaces_what_is_there_and_syncs(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _syncs(monkeypatch)
    with Root(str(tree)) as root:
        root.symlink("etc/file", "../elsewhere")
        root.symlink("etc/new", "a/b")
    assert os.readlink(tree / "etc/file") == "../elsewhere"
    assert os.readlink(tree / "etc/new") == "a/b"
    assert len(synced) == 2
    assert not [n for n in os.listdir(tree / "etc") if n.startswith(TEMP_PREFIX)]


def test_symlink_needs_its_parent_and_names_the_path(tree: Path) -> None:
    with Root(str(tree)) as root, pytest.raises(FileNotFoundError) as caught:
        root.symlink("etc/missing/link", "x")
    assert caught.value.errno == errno.ENOENT
    assert caught.value.filename == str(tree / "etc/missing/link")
    assert caught.value.strerror == os.strerror(errno.ENOENT)


def test_a_failed_symlink_rename_leaves_no_temporary(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    with Root(str(tree)) as root:
        monkeypatch.setattr(os, "rename", refuse)
        with pytest.raises(OSError) as caught:
            root.symlink("etc/new", "a")
    assert caught.value.errno == errno.EROFS and caught.value.filename == str(tree / "etc/new")
    assert sorted(os.listdir(tree / "etc")) == ["a", "file", "link"]


def test_remove_takes_a_file_or_link_only(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _syncs(monkeypatch)
    with Root(str(tree)) as root:
        assert root.remove("etc/link") is True
        assert (tree / "etc/a").is_dir()
        assert root.remove("etc/link") is False
        assert root.remove("missing/x") is False
        assert len(synced) == 1


def test_remove_directory_only_when_empty(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "etc/empty").mkdir()
    synced = _syncs(monkeypatch)
    with Root(str(tree)) as root:
        assert root.remove_directory("etc/a") is False
        assert root.remove_directory("etc/file") is False
        assert root.remove_directory("etc/link") is False
        assert root.remove_directory("etc/nothing") is False
        assert root.remove_directory("nothing/x") is False
        assert synced == []
        assert root.remove_directory("etc/empty") is True
        assert len(synced) == 1
    assert not (tree / "etc/empty").exists() and (tree / "etc/a/b/deep").exists()


def test_remove_directory_reports_other_errors(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "etc/empty").mkdir()

    def busy(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EBUSY, "busy")

    monkeypatch.setattr(os, "rmdir", busy)
    with Root(str(tree)) as root, pytest.raises(OSError) as caught:
        root.remove_directory("etc/empty")
    assert caught.value.errno == errno.EBUSY


def test_remove_tree_atomically_deletes_all_and_follows_no_link(tree: Path, tmp_path: Path) -> None:
    (tree / "etc/a/out").symlink_to(tmp_path / "outside")
    with Root(str(tree)) as root:
        root.remove_tree_atomically("etc/a")
        root.remove_tree_atomically("nothing/x")  # no parent: nothing to do
        with pytest.raises(FileNotFoundError):
            root.remove_tree_atomically("etc/nothing")
    assert sorted(os.listdir(tree / "etc")) == ["file", "link"]
    assert (tmp_path / "outside/keep").read_bytes() == b"keep"


def test_sweep_temporaries_removes_only_leftovers(tree: Path) -> None:
    (tree / "etc" / (TEMP_PREFIX + "x.1234")).mkdir()
    (tree / "etc" / (TEMP_PREFIX + "x.1234") / "f").write_bytes(b"")
    (tree / "etc" / (TEMP_PREFIX + "y.5678")).write_bytes(b"")
    with Root(str(tree)) as root:
        assert root.sweep_temporaries("etc/link") == [
            f"etc/a/{n}" for n in ()
        ]  # nothing there, through the link
        assert root.sweep_temporaries("etc") == [
            f"etc/{TEMP_PREFIX}x.1234",
            f"etc/{TEMP_PREFIX}y.5678",
        ]
        assert root.sweep_temporaries("etc") == []
        assert root.sweep_temporaries("etc/missing") == []
        assert root.sweep_temporaries("../x") == []
    assert sorted(os.listdir(tree / "etc")) == ["a", "file", "link"]


def test_write_with_parents_makes_the_chain_in_one_step(tree: Path) -> None:
    created: list[str] = []
    old = os.umask(0o077)
    try:
        with Root(str(tree)) as root:
            root.write_with_parents_atomically("etc/x/y/z/f", b"new", 0o640, created)
            root.write_with_parents_atomically("etc/x/y/g", b"g", 0o600, created)
    finally:
        os.umask(old)
    assert created == ["etc/x", "etc/x/y", "etc/x/y/z"]
    assert (tree / "etc/x/y/z/f").read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(tree / "etc/x/y/z/f").st_mode) == 0o640
    for directory in ("etc/x", "etc/x/y", "etc/x/y/z"):
        assert stat.S_IMODE(os.stat(tree / directory).st_mode) == 0o755
    assert sorted(os.listdir(tree / "etc")) == ["a", "file", "link", "x"]


def test_write_with_parents_that_fails_leaves_nothing(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rootfs, "_replace_in", full)
    created: list[str] = []
    with Root(str(tree)) as root, pytest.raises(OSError) as caught:
        root.write_with_parents_atomically("etc/x/y/f", b"new", 0o644, created)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(tree / "etc/x/y/f")
    assert created == []
    assert sorted(os.listdir(tree / "etc")) == ["a", "file", "link"]


def test_a_directory_made_meanwhile_is_not_replaced(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rootfs._replace_in

    def and_meanwhile(fd: int, name: str, data: bytes, mode: int) -> None:
        real(fd, name, data, mode)
        (tree / "etc/x").mkdir()

    monkeypatch.setattr(rootfs, "_replace_in", and_meanwhile)
    created: list[str] = []
    with Root(str(tree)) as root, pytest.raises(FileExistsError) as caught:
        root.write_with_parents_atomically("etc/x/y/f", b"new", 0o644, created)
    assert caught.value.filename == str(tree / "etc/x/y/f")
    assert created == []
    assert os.listdir(tree / "etc/x") == []
    assert sorted(os.listdir(tree / "etc")) == ["a", "file", "link", "x"]


def test_write_names_the_file_in_its_error(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "temporary-name")

    monkeypatch.setattr(rootfs, "_replace_in", full)
    created: list[str] = []
    with Root(str(tree)) as root, pytest.raises(OSError) as caught:
        root.write("etc/new/f", b"x", 0o644, created)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(tree / "etc/new/f"))
    assert created == ["etc/new"]


def test_named_keeps_errors_without_an_errno() -> None:
    plain = OSError("no errno")
    assert rootfs._named(plain, "p") is plain
    named = rootfs._named(OSError(errno.ENOENT, ""), "p")
    assert isinstance(named, FileNotFoundError)
    assert (named.strerror, named.filename) == (os.strerror(errno.ENOENT), "p")


def test_the_small_queries(tree: Path) -> None:
    with Root(str(tree)) as root:
        assert root.missing_directories("etc/a/x/y") == ["etc/a/x", "etc/a/x/y"]
        assert root.missing_directories("etc/link/x") == ["etc/a/x"]
        assert root.missing_directories("etc/a") == []
        assert root.writable("etc/a/x") is True
        assert root.show("") == str(tree) and root.show("etc/a") == str(tree / "etc/a")
        assert root.is_host is False
        assert root.lock() is True
        with Root(str(tree)) as other:
            assert other.lock() is False
    with Root("/", read_only=True) as host:
        assert host.is_host is True


def test_normalise_refuses_what_is_not_inside() -> None:
    assert rootfs.normalise("./etc//a/./b/") == "etc/a/b"
    for bad, message in (
        ("a\0b", "a path may not contain a NUL byte"),
        ("/etc", "expected a path relative to the root"),
        ("./", "the root itself is not a file"),
        ("etc/../x", "'..' may not appear in a path inside the root"),
    ):
        with pytest.raises(EscapeError, match=message):
            rootfs.normalise(bad)


def test_roots_that_cannot_be_used(tmp_path: Path, tree: Path) -> None:
    (tmp_path / "link").symlink_to(tree)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(RootError, match=r"root directory does not exist$"):
        Root(str(tmp_path / "missing"))
    with pytest.raises(
        RootError, match=rf"root is a symlink \(pass the directory it points to, {tree},"
    ):
        Root(str(tmp_path / "link"))
    with pytest.raises(RootError, match=r"root is not a directory$"):
        Root(str(tmp_path / "file"))
    with Root(str(tmp_path / "link"), read_only=True) as through:
        assert through.list_directory("etc") == ["a", "file", "link"]
    assert rootfs.resolve(str(tree), "/etc/link/b") == str(tree / "etc/a/b")
    assert rootfs.resolve_entry(str(tree), "/etc/link") == str(tree / "etc/link")


def test_write_tree_makes_the_output_and_refuses_an_escape(tmp_path: Path) -> None:
    out = tmp_path / "out/deeper"
    rootfs.write_tree(str(out), {"a/b.conf": "x\n", "c": "y"}, 0o600)
    assert (out / "a/b.conf").read_text() == "x\n"
    assert stat.S_IMODE(os.stat(out / "c").st_mode) == 0o600
    with pytest.raises(UsageError, match="may not appear"):
        rootfs.write_tree(str(out), {"../x": ""})
    rootfs.write_tree(str(out), {"default": ""})
    assert stat.S_IMODE(os.stat(out / "default").st_mode) == 0o644
    (tmp_path / "blocker").write_bytes(b"")
    with pytest.raises(Failure, match=rf"^cannot create {tmp_path}/blocker/x: Not a directory$"):
        rootfs.write_tree(str(tmp_path / "blocker/x"), {"a": ""})


def test_write_tree_says_why_a_write_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rootfs, "_replace_in", full)
    with pytest.raises(Failure, match=rf"^cannot write under {tmp_path}: No space left on device$"):
        rootfs.write_tree(str(tmp_path), {"a": ""})
