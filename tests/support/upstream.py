"""The real upstream ostree units, from Debian's ostree-boot package, in the test cache.

The set-up fetches them once (``.ci/run`` runs this file); the tests only read the cache, so a
network hiccup during a test run cannot switch tests off. A test that finds them missing skips
with ``MISSING`` as its reason, which under CI=true is a failure (tests/conftest.py).

    .venv/bin/python tests/support/upstream.py    # fetch into the cache; exit 1 saying why not
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("OSTREE_AUTOCLEANUP_TEST_CACHE", "/var/cache/ostree-autocleanup-tests"))
TREE = CACHE / "ostree-boot"
FINALIZE = "lib/systemd/system/ostree-finalize-staged.service"
MISSING = (
    f"Debian's ostree-boot units are not in {TREE}: the set-up fetches them "
    "(.ci/run, or .venv/bin/python tests/support/upstream.py)"
)


def ostree_boot_tree() -> Path | None:
    """The unpacked ostree-boot package in the cache, or None when the set-up did not fetch it."""
    return TREE if (TREE / FINALIZE).is_file() else None


def finalize_unit() -> Path | None:
    tree = ostree_boot_tree()
    return None if tree is None else tree / FINALIZE


def require_tree() -> Path:
    """The unpacked package; a test without it skips (fails under CI) naming the fix."""
    tree = ostree_boot_tree()
    if tree is None:
        pytest.skip(MISSING)
    return tree


def require_finalize_unit() -> Path:
    return require_tree() / FINALIZE


def fetch() -> Path:
    """Download and unpack ostree-boot into the cache unless it is there; RuntimeError says why
    it could not be had."""
    tree = ostree_boot_tree()
    if tree is not None:
        return tree
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed")
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
            raise RuntimeError(f"apt-get download ostree-boot failed: {download.stderr.strip()}")
        unpacked = os.path.join(scratch, "tree")
        subprocess.run(["dpkg-deb", "-x", debs[0], unpacked], check=True)
        # Rename into place so a concurrent or interrupted run never sees half a tree.
        try:
            os.rename(unpacked, TREE)
        except OSError:
            if not TREE.is_dir():
                raise
    return TREE


def main() -> int:
    try:
        print(f"ostree-boot units: {fetch()}")
    except RuntimeError as error:
        print(f"cannot fetch Debian's ostree-boot units into {TREE}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
