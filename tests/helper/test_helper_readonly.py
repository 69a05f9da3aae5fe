"""A sysroot whose mount is read-only (ostree's sysroot.readonly), as the helper meets it.

Each case runs in a private mount namespace that stands for the host: the sysroot directory is
bind-mounted on itself and that mount made read-only, as ostree-prepare-root does, while the
filesystem beneath stays writable. The helper must write through a mount namespace of its own
and leave the "host" mount read-only; the test process, outside, then sees what reached the
disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helper_support import built, gi_unavailable, helper, helper_argv, need_unshare, read_stamp

from support import sysroot as sr

pytestmark = pytest.mark.root
KNOBS = {"n_files": 20}

# $1: the sysroot; $2: "drop" to run the helper without CAP_SYS_ADMIN; the rest: its argv.
_READ_ONLY_SCRIPT = r"""
D=$1; PRIV=$2; shift 2
mount --bind "$D" "$D" || exit 99
mount -o remount,bind,ro "$D" || exit 99
if touch "$D/.probe" 2>/dev/null; then echo "mount is not read-only"; exit 99; fi
if [ "$PRIV" = drop ]; then
    setpriv --bounding-set -sys_admin --inh-caps -all -- "$@"
else
    "$@"
fi
echo "rc=$?"
findmnt -n -o OPTIONS --target "$D"
"""


def _run_on_read_only_mount(
    sysroot: Path, *args: str, privileged: bool = True
) -> tuple[int, str, str]:
    """(helper exit status, the host mount's options afterwards, helper stderr)."""
    need_unshare()
    for tool in ("findmnt", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (util-linux) to set up and inspect the mount")
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            _READ_ONLY_SCRIPT,
            "sh",
            str(sysroot),
            "keep" if privileged else "drop",
            *helper_argv(*args),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = result.stdout
    assert "rc=" in out, (out, result.stderr)
    rc_line, _, options = out.rpartition("rc=")[2].partition("\n")
    return int(rc_line), options.strip(), result.stderr


def _no_temp_files(directory: Path) -> bool:
    return not [n for n in os.listdir(directory) if ".tmp." in n]


@pytest.mark.parametrize("dirname", ["sysroot", "sys root"], ids=["plain", "space"])
def test_mark_remounts_a_read_only_sysroot_privately(
    fixtures_dir: Path, scratch: Path, dirname: str
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / dirname)
    rc, host_options, stderr = _run_on_read_only_mount(
        ours.path, "mark", "--sysroot", str(ours.path)
    )

    assert rc == 0, stderr
    # The "host" mount is still read-only: the writable one lived in the helper's namespace.
    assert host_options.split(",")[0] == "ro", host_options
    assert f"{ours.path} is mounted read-only: remounted it read-write" in stderr
    # What it wrote is on the filesystem, whole, seen from outside both namespaces.
    fields = read_stamp(ours.path / ".cleanup")
    assert fields["attempts"] == "0"
    assert "marked" in fields
    assert _no_temp_files(ours.path)


def test_mark_keeps_a_pending_stamps_attempts_through_the_remount(
    fixtures_dir: Path, scratch: Path
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    assert helper("mark", "--sysroot", str(ours.path)).returncode == 0
    deployment = read_stamp(ours.path / ".cleanup")["deployment"]
    # The same deployment marked again keeps its count: read back through the remount.
    (ours.path / ".cleanup").write_text(
        f"marked=2020-01-01T00:00:00Z\ndeployment={deployment}\nattempts=2\n"
    )
    rc, _options, stderr = _run_on_read_only_mount(ours.path, "mark", "--sysroot", str(ours.path))
    assert rc == 0, stderr
    fields = read_stamp(ours.path / ".cleanup")
    assert fields["attempts"] == "2"
    assert fields["marked"] != "2020-01-01T00:00:00Z"


@pytest.mark.parametrize("pending", [False, True], ids=["fresh", "pending"])
def test_mark_without_cap_sys_admin_fails_clearly_and_writes_nothing(
    fixtures_dir: Path, scratch: Path, pending: bool
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    if pending:
        stamp.write_text("marked=2020-01-01T00:00:00Z\nattempts=1\n")
    rc, host_options, stderr = _run_on_read_only_mount(
        ours.path, "mark", "--sysroot", str(ours.path), privileged=False
    )

    assert rc == 1
    assert host_options.split(",")[0] == "ro"
    errors = [line for line in stderr.splitlines() if line.strip()]
    assert len(errors) == 1, stderr
    assert f"error: cannot write the stamp {stamp}: Read-only file system" in errors[0]
    assert "Operation not permitted" in errors[0]
    assert "CAP_SYS_ADMIN" in errors[0]
    assert "Traceback" not in stderr
    if pending:
        assert stamp.read_text() == "marked=2020-01-01T00:00:00Z\nattempts=1\n"
    else:
        assert not stamp.exists()
    assert _no_temp_files(ours.path)


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_cleanup_with_sysroot_readonly_cleans_and_clears_the_stamp(
    fixtures_dir: Path, scratch: Path, mode: str
) -> None:
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    (ours.path / ".cleanup").write_text("attempts=0\n")
    before = sr.repo_usage(ours.repo).objects
    rc, host_options, stderr = _run_on_read_only_mount(
        ours.path,
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--mode",
        mode,
        "--state-dir",
        str(scratch / "state"),
        "--sysroot-readonly",
    )

    assert rc == 0, stderr
    assert host_options.split(",")[0] == "ro"
    assert f"remounted {ours.path} read-write in a private mount namespace" in stderr
    assert not (ours.path / ".cleanup").exists()
    assert sr.repo_usage(ours.repo).objects < before


def test_cleanup_without_the_setting_keeps_the_stamp_and_says_what_to_set(
    fixtures_dir: Path, scratch: Path
) -> None:
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    stamp.write_text("attempts=0\n")
    before = sr.repo_usage(ours.repo).objects
    rc, _options, stderr = _run_on_read_only_mount(
        ours.path, "cleanup", "--sysroot", str(ours.path), "--state-dir", str(scratch / "state")
    )

    assert rc == 1
    assert f"cannot update the stamp {stamp}: Read-only file system" in stderr
    assert "set sysroot-readonly: yes" in stderr
    assert stamp.read_text() == "attempts=0\n"
    assert sr.repo_usage(ours.repo).objects == before


def test_cleanup_with_the_setting_but_no_privilege_fails_before_touching_anything(
    fixtures_dir: Path, scratch: Path
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    stamp.write_text("attempts=0\n")
    rc, _options, stderr = _run_on_read_only_mount(
        ours.path,
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--state-dir",
        str(scratch / "state"),
        "--sysroot-readonly",
        privileged=False,
    )
    assert rc == 1
    assert "cannot make the read-only sysroot writable: " in stderr
    assert "Operation not permitted" in stderr
    assert "CAP_SYS_ADMIN" in stderr
    assert stamp.read_text() == "attempts=0\n"
