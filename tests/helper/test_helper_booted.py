"""On a booted system the helper keeps a deployment staged during this boot.

Opened by its path, libostree does not look for the booted system and takes the staged
deployment for an orphan (so does `ostree admin cleanup --sysroot=/sysroot`). The helper is run
here inside a faked booted system (see support.sysroot.run_booted) with the units' arguments.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helper_support import built, gi_unavailable, need_ostree, need_root

from support import sysroot as sr

pytestmark = pytest.mark.root

HELPER_SOURCE = Path(__file__).resolve().parents[2] / "helper"

# Runs inside the faked booted deployment $D. The helper's source is mounted where an
# installed ostree_autocleanup package would be found; Python and gi come from the host /usr.
_SCRIPT = r"""
mount -t tmpfs tmpfs "$D/tmp"
mkdir -p "$D/tmp/py/ostree_autocleanup/helper"
mount --bind "$1" "$D/tmp/py/ostree_autocleanup/helper"
chroot "$D" ostree admin deploy --stage --os="$OS" testos/stable
rc=0
chroot "$D" env PYTHONPATH=/tmp/py PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 \
    -m ostree_autocleanup.helper cleanup --sysroot /sysroot --mode "$2" --backend "$3" \
    --state-dir /tmp/state || rc=$?
echo "helper-rc=$rc"
chroot "$D" ostree admin status
"""


@pytest.mark.parametrize("mode", ["full", "prune"])
@pytest.mark.parametrize("backend", ["libostree", "ostree-cli"])
def test_cleanup_on_the_booted_system_keeps_the_staged_deployment(
    fixtures_dir: Path, scratch: Path, mode: str, backend: str
) -> None:
    need_root()
    need_ostree()
    reason = sr.staging_unavailable()
    if reason:
        pytest.skip(reason)
    if backend == "libostree" and gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, "cheap", n_files=300, file_size=100)
    theirs = sr.copy_sysroot(source, scratch / "theirs")
    before = sr.repo_usage(theirs.repo).objects
    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    expected_freed = before - sr.repo_usage(theirs.repo).objects

    ours = sr.copy_sysroot(source, scratch / "ours")
    booted = sr.refs(ours.repo)[sr.BRANCH]
    tree = sr.write_tree(scratch / "tree4", "4", n_files=50)
    update = sr.commit_tree(ours.repo, sr.BRANCH, tree)
    (ours.path / ".cleanup").write_text("attempts=0\n")

    result = sr.run_booted(ours, booted, _SCRIPT, str(HELPER_SOURCE), mode, backend)
    assert result.returncode == 0, result.stderr
    assert "helper-rc=0" in result.stdout, result.stdout + result.stderr
    # The staged deployment survived, on disk and for ostree.
    assert update in sr.deployment_commits(ours)
    assert re.search(rf"testos {update}\.\d+ \(staged\)", result.stdout), result.stdout
    match = re.search(r"freed (\d+) objects", result.stderr)
    assert match, result.stderr
    assert int(match.group(1)) == expected_freed
    assert not (ours.path / ".cleanup").exists()
    assert sr.fsck(ours.repo).returncode == 0


# As _SCRIPT, with the booted system's /sysroot mounted read-only after staging, as
# ostree-prepare-root mounts it with sysroot.readonly; the script's namespace is the host.
_READ_ONLY_SCRIPT = r"""
mount -t tmpfs tmpfs "$D/tmp"
mkdir -p "$D/tmp/py/ostree_autocleanup/helper"
mount --bind "$1" "$D/tmp/py/ostree_autocleanup/helper"
chroot "$D" ostree admin deploy --stage --os="$OS" testos/stable
mount -o remount,bind,ro "$D/sysroot"
if touch "$D/sysroot/.probe" 2>/dev/null; then echo "sysroot-writable-before"; fi
rc=0
chroot "$D" env PYTHONPATH=/tmp/py PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 \
    -m ostree_autocleanup.helper cleanup --sysroot /sysroot --mode full --backend libostree \
    --state-dir /tmp/state --sysroot-readonly || rc=$?
echo "helper-rc=$rc"
if touch "$D/sysroot/.probe" 2>/dev/null; then echo "sysroot-writable-after"; fi
chroot "$D" ostree admin status
"""


def test_cleanup_on_a_booted_read_only_sysroot(fixtures_dir: Path, scratch: Path) -> None:
    need_root()
    need_ostree()
    reason = sr.staging_unavailable()
    if reason:
        pytest.skip(reason)
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, "cheap", n_files=300, file_size=100)
    theirs = sr.copy_sysroot(source, scratch / "theirs")
    before = sr.repo_usage(theirs.repo).objects
    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    expected_freed = before - sr.repo_usage(theirs.repo).objects

    ours = sr.copy_sysroot(source, scratch / "ours")
    booted = sr.refs(ours.repo)[sr.BRANCH]
    update = sr.commit_tree(ours.repo, sr.BRANCH, sr.write_tree(scratch / "tree4", "4", n_files=50))
    (ours.path / ".cleanup").write_text("attempts=0\n")

    result = sr.run_booted(ours, booted, _READ_ONLY_SCRIPT, str(HELPER_SOURCE))
    assert result.returncode == 0, result.stderr
    assert "helper-rc=0" in result.stdout, result.stdout + result.stderr
    assert "sysroot-writable" not in result.stdout
    assert "remounted /sysroot read-write in a private mount namespace" in result.stderr
    # libostree, told of the namespace, still found the booted and the staged deployment.
    assert re.search(rf"testos {update}\.\d+ \(staged\)", result.stdout), result.stdout
    match = re.search(r"freed (\d+) objects", result.stderr)
    assert match, result.stderr
    assert int(match.group(1)) == expected_freed
    assert not (ours.path / ".cleanup").exists()
    assert sr.fsck(ours.repo).returncode == 0


# As _SCRIPT in full mode with CAP_SYS_ADMIN dropped from the
# capability bounding set the way a unit's CapabilityBoundingSet= drops it (the process stays
# root), in a mount namespace of its own as a sandboxed unit's process is (else ostree 2022.7
# would try to unshare one, which takes CAP_SYS_ADMIN).
_NO_SYS_ADMIN_SCRIPT = r"""
mount -t tmpfs tmpfs "$D/tmp"
mkdir -p "$D/tmp/py/ostree_autocleanup/helper"
mount --bind "$1" "$D/tmp/py/ostree_autocleanup/helper"
chroot "$D" ostree admin deploy --stage --os="$OS" testos/stable
rc=0
unshare --mount setpriv --bounding-set -sys_admin chroot "$D" \
    env PYTHONPATH=/tmp/py PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 \
    -m ostree_autocleanup.helper cleanup --sysroot /sysroot --mode full --backend "$2" \
    --state-dir /tmp/state || rc=$?
echo "helper-rc=$rc"
chroot "$D" ostree admin status
"""


def _ostree_release() -> tuple[int, int]:
    out = sr.ostree("--version").stdout
    match = re.search(r"Version: '(\d+)\.(\d+)'", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize("backend", ["libostree", "ostree-cli"])
def test_cleanup_without_cap_sys_admin_in_the_bounding_set(
    fixtures_dir: Path, scratch: Path, backend: str
) -> None:
    """ostree 2025.1 made `ostree admin` on a booted system check for CAP_SYS_ADMIN in the
    bounding set as well as for root, and still says only "You must be root"; before, root
    was enough. With the ostree-cli backend the helper says which privilege is missing and what
    to do; through libostree it needs no such capability on either release."""
    need_root()
    need_ostree()
    reason = sr.staging_unavailable()
    if reason:
        pytest.skip(reason)
    if backend == "libostree" and gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, "cheap", n_files=300, file_size=100)
    ours = sr.copy_sysroot(source, scratch / "ours")
    booted = sr.refs(ours.repo)[sr.BRANCH]
    update = sr.commit_tree(ours.repo, sr.BRANCH, sr.write_tree(scratch / "tree4", "4", n_files=50))
    stamp = ours.path / ".cleanup"
    stamp.write_text("attempts=0\n")

    result = sr.run_booted(ours, booted, _NO_SYS_ADMIN_SCRIPT, str(HELPER_SOURCE), backend)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"testos {update}\.\d+ \(staged\)", result.stdout), result.stdout
    if backend == "ostree-cli" and _ostree_release() >= (2025, 1):
        assert "helper-rc=1" in result.stdout, result.stdout + result.stderr
        assert "You must be root" not in result.stderr
        assert "CAP_SYS_ADMIN in the capability bounding set" in result.stderr, result.stderr
        assert "CapabilityBoundingSet=" in result.stderr, result.stderr
        assert "attempts=1" in stamp.read_text()
    else:
        assert "helper-rc=0" in result.stdout, result.stdout + result.stderr
        assert not stamp.exists()
    assert sr.fsck(ours.repo).returncode == 0
