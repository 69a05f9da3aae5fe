"""The real upstream ostree units, from Debian's ostree-boot package, cached between runs."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("OSTREE_AUTOCLEANUP_TEST_CACHE", "/var/cache/ostree-autocleanup-tests"))


def ostree_boot_tree() -> Path | None:
    """A directory holding the unpacked ostree-boot package, or None when it cannot be had."""
    target = CACHE / "ostree-boot"
    if (target / "lib/systemd/system/ostree-finalize-staged.service").is_file():
        return target
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        download = subprocess.run(
            ["apt-get", "download", "-q", "ostree-boot"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
        debs = glob.glob(os.path.join(scratch, "ostree-boot_*.deb"))
        if download.returncode != 0 or not debs:
            return None
        unpacked = os.path.join(scratch, "tree")
        subprocess.run(["dpkg-deb", "-x", debs[0], unpacked], check=True)
        # Rename into place so a concurrent or interrupted run never sees half a tree.
        try:
            os.rename(unpacked, target)
        except OSError:
            if not target.is_dir():
                raise
    return target


def finalize_unit() -> Path | None:
    tree = ostree_boot_tree()
    return None if tree is None else tree / "lib/systemd/system/ostree-finalize-staged.service"
