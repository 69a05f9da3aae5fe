"""``finalize.path-unit: auto`` on Debian 13: the install enables our unit with systemd 257's own
``systemctl --root preset``, in a root holding Debian 13's units, where ostree 2025.2 ships no
``ostree-finalize-staged.path``.

systemctl 257 runs inside the cached Debian 13 root (support.systemd_eras) through ``chroot``; a
``systemctl`` first on PATH takes the installer's call there and records it, so the test sees
exactly what the installer asked for. Debian 12's 252 and its path unit: test_installer_roundtrip.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from installer_support import MANIFEST, run_cli

from support.systemd_eras import Era, eras

pytestmark = pytest.mark.root

SERVICE = "ostree-autocleanup.service"
PATH_UNIT = "ostree-finalize-staged.path"
PRESET_DIR = "usr/lib/systemd/system-preset"
LINKS = "etc/systemd/system"


@pytest.fixture
def debian_13() -> Era:
    _id, era, why = eras()[1]
    if era is None:
        pytest.skip(why)
    return era


@pytest.fixture
def root_and_calls(
    debian_13: Era, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Path]]:
    """An image root of Debian 13's units and presets, and the log of systemctl calls."""
    with debian_13.root() as root:
        shutil.copytree(debian_13.base / PRESET_DIR, root / PRESET_DIR)
        # As image builds that enable only what a preset names do (Fedora's policy): our unit is
        # then enabled because our preset says so, not by systemctl's default.
        (root / PRESET_DIR / "99-default-disable.preset").write_text("disable *\n")
        (root / "etc").mkdir()
        for name in ("bin", "sbin", "lib"):
            os.symlink(f"usr/{name}", root / name)
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        calls = tmp_path / "systemctl-calls"
        debian_13.put_on_path(bin_dir, "systemctl", calls)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        yield root, calls


def systemctl(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["systemctl", f"--root={root}", *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def enabled_links(root: Path) -> set[str]:
    found = set()
    for path in (root / LINKS).rglob("*"):
        if path.is_symlink():
            found.add(str(path.relative_to(root / LINKS)))
    return found


def test_systemctl_257_enables_what_the_preset_says_and_no_path_unit(
    root_and_calls: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, calls = root_and_calls
    assert systemctl(root, "--version").startswith("systemd 257")
    assert not (root / "usr/lib/systemd/system" / PATH_UNIT).exists()
    calls.unlink()

    result = run_cli(capsys, "install", "--root", str(root))
    assert result.status == 0, result.err
    # The installer asked 257's systemctl for our unit only: nothing names the path unit.
    assert calls.read_text().splitlines() == [f"--root={root} preset {SERVICE}"]
    assert json.loads((root / MANIFEST).read_text())["units"] == [SERVICE]
    assert enabled_links(root) == {f"multi-user.target.wants/{SERVICE}"}
    assert systemctl(root, "is-enabled", SERVICE) == "enabled"
    # auto, read off a root whose ostree ships the finalize unit alone: the installed preset
    # does not name the path unit either.
    preset = (root / "usr/lib/systemd/system-preset/50-ostree-autocleanup.preset").read_text()
    assert f"enable {SERVICE}" in preset
    assert PATH_UNIT not in preset

    # preset-all by 257 agrees with our preset and, with Debian 13's own, enables no .path.
    calls.unlink()
    preset_all = subprocess.run(
        ["systemctl", f"--root={root}", "preset-all"], capture_output=True, text=True, check=False
    )
    assert preset_all.returncode == 0, preset_all.stderr
    # (It does complain about Debian's own masked units, and enables ostree-remount.service.)
    assert not [line for line in preset_all.stderr.splitlines() if "ostree-finalize" in line]
    assert systemctl(root, "is-enabled", SERVICE) == "enabled"
    assert not {link for link in enabled_links(root) if link.endswith(".path")}
    assert systemctl(root, "is-enabled", PATH_UNIT) == "not-found"
