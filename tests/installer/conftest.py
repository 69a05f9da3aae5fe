"""Fixtures for the installer tests: image roots with the real systemd and ostree units in them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.upstream import require_tree

HOST_UNITS = "/usr/lib/systemd/system"
HOST_PRESETS = "/usr/lib/systemd/system-preset"


@pytest.fixture(scope="session")
def ostree_units() -> Path:
    """The upstream ostree units from Debian's ostree-boot package."""
    return require_tree() / "lib/systemd/system"


@pytest.fixture
def image_root(tmp_path: Path, ostree_units: Path) -> Path:
    """A merged-/usr Debian-like root: the host's systemd units plus ostree-boot's units."""
    if shutil.which("systemctl") is None or not os.path.isdir(HOST_UNITS):
        pytest.skip("systemd is not installed on this host: no units to build an image root from")
    root = tmp_path / "root"
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    (root / "etc").mkdir()
    os.symlink("usr/lib", root / "lib")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    if os.path.isdir(HOST_PRESETS):
        shutil.copytree(HOST_PRESETS, root / "usr/lib/systemd/system-preset", symlinks=True)
    for unit in ostree_units.iterdir():
        shutil.copy2(unit, root / "usr/lib/systemd/system" / unit.name, follow_symlinks=False)
    return root


@pytest.fixture
def bare_root(tmp_path: Path) -> Path:
    """An empty DESTDIR, as a package build has it."""
    root = tmp_path / "destdir"
    root.mkdir()
    return root


@pytest.fixture
def other_config(tmp_path: Path) -> Path:
    """A config that differs from the embedded default in one line of the unit."""
    path = tmp_path / "other.yaml"
    path.write_text("version: 1\ncleanup:\n  timeout: 10min\n")
    return path
