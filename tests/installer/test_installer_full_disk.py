"""A full file system at every step of an install: the root ends as it was, and the message
names the real file and says what happened.

The root lives on a small tmpfs of its own. Before each run, filler files leave exactly N free
inodes (or N free pages), for N = 0, 1, 2... until the install fits, so that ENOSPC strikes at
each step in turn: the pending manifest, each unit file, the directories and links that
``systemctl preset`` makes, the final manifest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from installer_support import TEMP_PREFIX, run_cli, tree_state

pytestmark = pytest.mark.root

MAX_STEPS = 40  # more free inodes or pages than any install needs


class SmallDisk:
    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler"
        self.filler.mkdir()

    def _free(self) -> tuple[int, int]:
        info = os.statvfs(self.mount)
        return info.f_ffree, info.f_bavail

    def release(self) -> None:
        shutil.rmtree(self.filler)
        self.filler.mkdir()

    def leave_inodes(self, count: int) -> None:
        """Use up every free inode but ``count``."""
        self.release()
        inodes, _ = self._free()
        for index in range(inodes - count):
            (self.filler / str(index)).touch()
        assert self._free()[0] == count

    def leave_pages(self, count: int) -> None:
        """Use up every free page but ``count`` (one filler file; inodes stay plentiful)."""
        self.release()
        _, pages = self._free()
        size = os.statvfs(self.mount).f_bsize
        with open(self.filler / "pages", "wb") as stream:
            stream.write(b"\0" * (pages - count) * size)
        assert self._free()[1] == count


@pytest.fixture
def small_disk(tmp_path: Path, image_root: Path) -> Iterator[tuple[SmallDisk, Path]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,nr_inodes=2048,mode=0755", "tmpfs", str(mount)],
        check=True,
    )
    try:
        root = mount / "root"
        shutil.copytree(image_root, root, symlinks=True)
        yield SmallDisk(mount), root
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _assert_undone(root: Path, before: dict[str, str], err: str, *, nothing: bool) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0]
    assert TEMP_PREFIX not in message  # the real file is named, not our temporary one
    assert f"{root}/" in message or "systemctl preset" in message, message
    if nothing:
        assert message.endswith("; nothing was changed"), message
    else:
        assert message.endswith(("; rolled back", "; nothing was changed")), message
    assert tree_state(root) == before


@pytest.mark.parametrize("resource", ["inodes", "pages"])
def test_a_fresh_install_on_a_full_disk_leaves_the_root_as_it_was(
    small_disk: tuple[SmallDisk, Path], resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    disk, root = small_disk
    before = tree_state(root)
    failures = 0
    for free in range(MAX_STEPS):
        getattr(disk, f"leave_{resource}")(free)
        result = run_cli(capsys, "install", "--root", str(root))
        if result.status == 0:
            break
        failures += 1
        assert result.status == 1, result.err
        _assert_undone(root, before, result.err, nothing=free == 0)
    else:
        pytest.fail(f"install never fitted in {MAX_STEPS} free {resource}")
    # It failed at several different steps before it fitted, and then it works completely.
    assert failures >= 3
    disk.release()
    assert (
        root / "etc/systemd/system/multi-user.target.wants/ostree-autocleanup.service"
    ).is_symlink()
    assert run_cli(capsys, "uninstall", "--root", str(root)).status == 0
    assert tree_state(root) == before


def test_enospc_while_systemctl_makes_its_directories_removes_them(
    small_disk: tuple[SmallDisk, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The image has no etc/systemd/system yet: systemctl preset creates it and the .wants
    directory, then runs out of inodes for the link. Every directory it made goes again."""
    disk, root = small_disk
    before = tree_state(root)
    assert not (root / "etc/systemd").exists()
    seen_preset_failure = False
    for free in range(MAX_STEPS):
        disk.leave_inodes(free)
        result = run_cli(capsys, "install", "--root", str(root))
        if result.status == 0:
            break
        if "systemctl preset" in result.err:
            seen_preset_failure = True
        _assert_undone(root, before, result.err, nothing=free == 0)
        assert not (root / "etc/systemd").exists()
    assert seen_preset_failure


@pytest.mark.parametrize("resource", ["inodes", "pages"])
def test_an_upgrade_on_a_full_disk_keeps_the_old_install(
    small_disk: tuple[SmallDisk, Path],
    other_config: Path,
    resource: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    disk, root = small_disk
    assert run_cli(capsys, "install", "--root", str(root)).status == 0
    # A bigger config: every file grows, and the pending manifest lists two hashes for each.
    bigger = other_config.parent / "bigger.yaml"
    bigger.write_text(
        "version: 1\nname: a-much-longer-name-for-the-cleanup-unit\ncleanup:\n  timeout: 10min\n"
    )
    installed = tree_state(root)
    for free in range(MAX_STEPS):
        getattr(disk, f"leave_{resource}")(free)
        result = run_cli(capsys, "install", "--root", str(root), "-c", str(bigger))
        if result.status == 0:
            break
        assert result.status == 1, result.err
        _assert_undone(root, installed, result.err, nothing=free == 0)
    else:
        pytest.fail(f"the upgrade never fitted in {MAX_STEPS} free {resource}")
    disk.release()
    assert run_cli(capsys, "uninstall", "--root", str(root)).status == 0
