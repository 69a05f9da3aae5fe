"""The installer never writes outside the root: symlinks inside it, a symlinked root, read-only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from installer_support import MANIFEST, run_cli, tree_state

from ostree_autocleanup.generator.rootfs import EscapeError, Root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root that must stay empty whatever the root contains."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


def _assert_refused(
    root: Path, outside: Path, capsys: pytest.CaptureFixture[str], *extra: str, status: int = 1
) -> str:
    """Refused with one line and nothing written: status 1 when writing hit the bad link, 2 when
    reading the config through it did (the config lies under /usr, like the units)."""
    before = tree_state(root)
    result = run_cli(capsys, "install", "--root", str(root), "--no-enable", *extra)
    assert result.status == status, result.out
    assert len(result.err.strip().splitlines()) == 1
    assert tree_state(root) == before
    assert os.listdir(outside) == []
    return result.err


def test_absolute_symlink_to_slash_means_the_root_itself(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As systemctl --root reads it: "/" in a link inside the image is the image's own root.
    (bare_root / "usr/lib").mkdir(parents=True)
    os.symlink("/", bare_root / "usr/lib/systemd")
    result = run_cli(capsys, "install", "--root", str(bare_root), "--no-enable")
    assert result.status == 0, result.err
    assert (bare_root / "system/ostree-autocleanup.service").is_file()
    assert os.listdir(outside) == []
    assert run_cli(capsys, "uninstall", "--root", str(bare_root)).status == 0
    assert not (bare_root / "system/ostree-autocleanup.service").exists()


def test_absolute_symlink_to_a_host_directory_stays_in_the_root(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The link names the host's directory; inside the image that path is under the root.
    os.symlink(outside, bare_root / "usr")
    result = run_cli(capsys, "install", "--root", str(bare_root), "--no-enable")
    assert result.status == 0, result.err
    inside = bare_root / str(outside).lstrip("/")
    assert (inside / "lib/systemd/system/ostree-autocleanup.service").is_file()
    assert os.listdir(outside) == []


def test_relative_symlink_above_the_root_is_refused(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_root / "usr/lib/systemd").mkdir(parents=True)
    os.symlink("../../../../outside", bare_root / "usr/lib/systemd/system")
    err = _assert_refused(bare_root, outside, capsys, "--force")
    assert "symlink leads outside the root" in err
    assert "usr/lib/systemd/system" in err


def test_dotdot_symlink_at_the_top_is_refused(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.symlink("..", bare_root / "usr")
    err = _assert_refused(bare_root, outside, capsys, status=2)
    assert "usr: symlink leads outside the root" in err


def test_symlink_loop_is_refused(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.symlink("usr", bare_root / "usr")
    err = _assert_refused(bare_root, outside, capsys, status=2)
    assert "too many levels of symlinks" in err


def test_file_where_a_directory_belongs_is_refused(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_root / "usr").write_text("not a directory\n")
    err = _assert_refused(bare_root, outside, capsys, "--force", status=2)
    assert "not a directory" in err


def test_manifest_that_is_a_symlink_out_is_refused(
    bare_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_root / MANIFEST).parent.mkdir(parents=True)
    os.symlink(outside / "manifest", bare_root / MANIFEST)
    err = _assert_refused(bare_root, outside, capsys)
    assert "manifest is a symlink" in err


def test_relative_symlink_inside_the_root_is_followed(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The merged-/usr layout of Debian and Fedora images: /lib -> usr/lib, and deeper links.
    (bare_root / "usr/lib").mkdir(parents=True)
    (bare_root / "srv/units").mkdir(parents=True)
    (bare_root / "usr/lib/systemd").mkdir()
    os.symlink("../../../srv/units", bare_root / "usr/lib/systemd/system")
    result = run_cli(capsys, "install", "--root", str(bare_root), "--no-enable")
    assert result.status == 0, result.err
    assert (bare_root / "srv/units/ostree-autocleanup.service").is_file()
    before_uninstall = sorted(os.listdir(bare_root / "srv/units"))
    assert "ostree-autocleanup.service" in before_uninstall
    assert run_cli(capsys, "uninstall", "--root", str(bare_root)).status == 0
    assert os.listdir(bare_root / "srv/units") == []
    assert os.path.islink(bare_root / "usr/lib/systemd/system")


def test_root_that_is_a_symlink_is_bad_usage(
    bare_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link-to-root"
    os.symlink(bare_root, link)
    result = run_cli(capsys, "install", "--root", str(link), "--no-enable")
    assert result.status == 2
    assert "root is a symlink" in result.err
    assert str(bare_root) in result.err  # the hint names the real directory
    assert os.listdir(bare_root) == []
    result = run_cli(capsys, "uninstall", "--root", str(link))
    assert result.status == 2


def test_missing_root_is_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "install", "--root", str(tmp_path / "nope"), "--no-enable")
    assert result.status == 2
    assert "does not exist" in result.err
    assert not (tmp_path / "nope").exists()


def test_paths_with_dotdot_are_refused_before_any_walk(bare_root: Path) -> None:
    with Root(str(bare_root)) as root:
        for bad in ("../x", "usr/../../x", "/etc/passwd", "a\0b", ""):
            with pytest.raises(EscapeError):
                root.write(bad, b"x", 0o644, [])
    assert os.listdir(bare_root) == []


class _SwapAfterOpen:
    """Stands in for os.open while a Root walks: right after the walk has opened directory
    ``trigger`` (relative to its parent's descriptor), ``swap`` runs, as another process
    replacing a directory with a symlink at the worst moment would."""

    def __init__(self, trigger: str, swap: Callable[[], None]) -> None:
        self.trigger = trigger
        self.swap = swap
        self.fired = 0
        self.real_open = os.open

    def __call__(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = self.real_open(path, flags, *args, **kwargs)
        directory = flags & os.O_DIRECTORY and kwargs.get("dir_fd") is not None
        if directory and path == self.trigger and not self.fired:
            self.fired += 1
            self.swap()
        return fd


def _swap_for_link(directory: Path, target: str) -> Callable[[], None]:
    def swap() -> None:
        os.rename(directory, directory.with_name(directory.name + ".moved"))
        os.symlink(target, directory)

    return swap


def test_parent_swapped_for_a_link_after_the_walk_opened_it_is_not_followed(
    bare_root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The walk has opened usr/lib, the directory the file goes into; then usr/lib becomes a
    # link out of the root, before the file is written. The write goes through the descriptor
    # the walk holds: into the directory that was opened, never through the new link.
    lib = bare_root / "usr/lib"
    lib.mkdir(parents=True)
    hook = _SwapAfterOpen("lib", _swap_for_link(lib, str(outside)))
    monkeypatch.setattr(os, "open", hook)
    with Root(str(bare_root)) as root:
        root.write("usr/lib/file", b"payload", 0o644, [])
    monkeypatch.undo()
    assert hook.fired == 1
    assert os.listdir(outside) == []
    assert (bare_root / "usr/lib.moved/file").read_bytes() == b"payload"
    assert os.readlink(lib) == str(outside)


def test_ancestor_swapped_after_opening_does_not_redirect_the_rest_of_the_walk(
    bare_root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # usr is swapped right after the walk opened it: lib and the file are reached from usr's
    # descriptor, so they land in the directory that was opened.
    (bare_root / "usr/lib").mkdir(parents=True)
    hook = _SwapAfterOpen("usr", _swap_for_link(bare_root / "usr", "../outside"))
    monkeypatch.setattr(os, "open", hook)
    with Root(str(bare_root)) as root:
        root.write("usr/lib/file", b"payload", 0o644, [])
    monkeypatch.undo()
    assert hook.fired == 1
    assert os.listdir(outside) == []
    assert (bare_root / "usr.moved/lib/file").read_bytes() == b"payload"


def test_deeper_directory_swapped_before_the_walk_reaches_it_is_refused(
    bare_root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # usr/lib becomes a link out while the walk holds usr: the walk sees the link when it
    # gets there, follows it inside the root, and refuses where it would climb out.
    lib = bare_root / "usr/lib"
    lib.mkdir(parents=True)
    hook = _SwapAfterOpen("usr", _swap_for_link(lib, "../../outside"))
    monkeypatch.setattr(os, "open", hook)
    with Root(str(bare_root)) as root, pytest.raises(EscapeError, match="outside the root"):
        root.write("usr/lib/file", b"payload", 0o644, [])
    monkeypatch.undo()
    assert hook.fired == 1
    assert os.listdir(outside) == []
    assert os.listdir(bare_root / "usr/lib.moved") == []


def _can_remount_read_only() -> str | None:
    if os.geteuid() != 0:
        return "needs root to bind-mount the root read-only"
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "cannot create a mount namespace here: " + probe.stderr.decode().strip()
    return None


def _run_read_only(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a private mount namespace where ``root`` is a read-only bind mount."""
    code = "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())"
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(root),
            sys.executable,
            "-c",
            code,
            *argv,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.root
def test_read_only_root_is_a_clear_error_with_nothing_written(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = _can_remount_read_only()
    if reason:
        pytest.skip(reason)
    before = tree_state(image_root)
    result = _run_read_only(image_root, "install", "--root", str(image_root))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not writable (a read-only root?)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_state(image_root) == before

    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    installed = tree_state(image_root)
    for argv in (
        ("install", "--root", str(image_root), "-c", str(other_config)),
        ("uninstall", "--root", str(image_root)),
    ):
        result = _run_read_only(image_root, *argv)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "not writable (a read-only root?)" in result.stderr
        assert tree_state(image_root) == installed
