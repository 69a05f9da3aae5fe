"""Fixtures for the installer tests: image roots with the real systemd and ostree units in them."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HOST_UNITS = "/usr/lib/systemd/system"
HOST_PRESETS = "/usr/lib/systemd/system-preset"


def _ostree_boot_deb(cache: Path) -> Path | None:
    found = sorted(glob.glob("/var/cache/apt/archives/ostree-boot_*.deb"))
    if found:
        return Path(found[-1])
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("ostree-boot_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        return None
    subprocess.run(
        ["apt-get", "download", "ostree-boot"],
        cwd=cache,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    found = sorted(cache.glob("ostree-boot_*.deb"))
    return found[-1] if found else None


@pytest.fixture(scope="session")
def ostree_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream ostree units from Debian's ostree-boot package, extracted once."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed: cannot unpack Debian's ostree-boot package")
    base = tmp_path_factory.mktemp("ostree-boot")
    deb = _ostree_boot_deb(base / "cache")
    if deb is None:
        pytest.skip("ostree-boot .deb not available (apt-get download ostree-boot failed)")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(base / "x")], check=True)
    units = base / "x" / "lib" / "systemd" / "system"
    if not (units / "ostree-finalize-staged.service").is_file():
        units = base / "x" / "usr" / "lib" / "systemd" / "system"
    return units


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
