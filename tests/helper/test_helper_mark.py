"""`mark`: a durable stamp with useful content, refused after a failed finalization."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helper_support import built, helper, helper_argv, need_unshare, read_stamp

from support import sysroot as sr

pytestmark = pytest.mark.root
KNOBS = {"n_files": 20}


def _no_temp_files(directory: Path) -> bool:
    return not [n for n in os.listdir(directory) if ".tmp." in n]


def test_mark_writes_a_complete_stamp(fixtures_dir: Path, scratch: Path) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "staged", **KNOBS), scratch / "ours")
    result = helper("mark", "--sysroot", str(ours.path))
    assert result.returncode == 0, result.stderr
    stamp = ours.path / ".cleanup"
    fields = read_stamp(stamp)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fields["marked"])
    # The finalized deployment is the newest one: the head of the branch it was staged from.
    head = sr.refs(ours.repo)[sr.BRANCH]
    assert fields["deployment"] == f"testos/{sr.deployment_dir(ours, head).name}"
    assert fields["attempts"] == "0"
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o644
    assert _no_temp_files(ours.path)
    assert "cleanup runs at the next boot" in result.stderr


def test_mark_of_a_new_deployment_restarts_the_attempts(fixtures_dir: Path, scratch: Path) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    stamp.write_text("marked=2020-01-01T00:00:00Z\ndeployment=older.0\nattempts=3\nnote=kept\n")
    result = helper("mark", "--sysroot", str(ours.path))
    assert result.returncode == 0, result.stderr
    fields = read_stamp(stamp)
    # Earlier cleanups that were cut short must not use up the new deployment's retries.
    assert fields["attempts"] == "0"
    assert fields["deployment"] != "older.0"
    assert fields["marked"] != "2020-01-01T00:00:00Z"
    assert fields["note"] == "kept"
    assert "already pending" in result.stderr


def test_mark_of_the_same_deployment_keeps_the_attempts(fixtures_dir: Path, scratch: Path) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    assert helper("mark", "--sysroot", str(ours.path)).returncode == 0
    deployment = read_stamp(stamp)["deployment"]
    stamp.write_text(f"marked=2020-01-01T00:00:00Z\ndeployment={deployment}\nattempts=2\n")
    assert helper("mark", "--sysroot", str(ours.path)).returncode == 0
    assert read_stamp(stamp)["attempts"] == "2"


def test_mark_accepts_a_stamp_made_by_touch(fixtures_dir: Path, scratch: Path) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    stamp.touch()
    assert helper("mark", "--sysroot", str(ours.path)).returncode == 0
    assert read_stamp(stamp)["attempts"] == "0"


@pytest.mark.parametrize("custom_boot", [False, True])
def test_mark_refuses_after_a_failed_finalization(
    fixtures_dir: Path, scratch: Path, custom_boot: bool
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    boot = scratch / "otherboot" if custom_boot else ours.boot
    (boot / "ostree").mkdir(parents=True, exist_ok=True)
    failure = boot / "ostree" / "finalize-failure.stamp"
    failure.write_text("error: finalizing failed\n")
    args = ["mark", "--sysroot", str(ours.path)]
    if custom_boot:
        args += ["--boot", str(boot)]
    result = helper(*args)
    assert result.returncode == 1
    assert str(failure) in result.stderr
    assert "finalizing the staged deployment failed" in result.stderr
    assert not (ours.path / ".cleanup").exists()
    assert _no_temp_files(ours.path)


def test_mark_refusal_leaves_a_pending_stamp_alone(fixtures_dir: Path, scratch: Path) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    stamp = ours.path / ".cleanup"
    stamp.write_text("marked=2020-01-01T00:00:00Z\nattempts=1\n")
    (ours.boot / "ostree" / "finalize-failure.stamp").write_text("failed\n")
    assert helper("mark", "--sysroot", str(ours.path)).returncode == 1
    assert stamp.read_text() == "marked=2020-01-01T00:00:00Z\nattempts=1\n"


# Runs in a private mount namespace: $1 is the mount point, the rest the helper's argv.
_FS_SCRIPT = r"""
D=$1; KIND=$2; OLD=$3; shift 3
mount -t tmpfs -o size=64k tmpfs "$D" || exit 99
if [ "$OLD" = yes ]; then printf 'marked=2020-01-01T00:00:00Z\nattempts=1\n' > "$D/.cleanup"; fi
if [ "$KIND" = full ]; then
    dd if=/dev/zero of="$D/fill" bs=4096 2>/dev/null
    # Make sure not even one more byte fits.
    while printf x >> "$D/fill" 2>/dev/null; do :; done
else
    mount -o remount,ro "$D" || exit 99
fi
"$@"
echo "rc=$?"
ls -A "$D"
echo "---"
if [ -e "$D/.cleanup" ]; then cat "$D/.cleanup"; fi
"""


@pytest.mark.parametrize("kind", ["full", "read-only"])
@pytest.mark.parametrize("old", [False, True], ids=["fresh", "pending"])
def test_mark_on_a_full_or_read_only_filesystem(
    fixtures_dir: Path, scratch: Path, kind: str, old: bool
) -> None:
    need_unshare()
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    # Inside the sysroot: the helper refuses a stamp anywhere else.
    mnt = ours.path / "mnt"
    mnt.mkdir()
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            _FS_SCRIPT,
            "sh",
            str(mnt),
            kind,
            "yes" if old else "no",
            *helper_argv("mark", "--sysroot", str(ours.path), "--stamp", str(mnt / ".cleanup")),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    out = result.stdout
    assert "rc=1\n" in out, (out, result.stderr)
    listing, _, content = out.partition("rc=1\n")[2].partition("---\n")
    expected_files = {".cleanup"} if old else set()
    if kind == "full":
        expected_files.add("fill")
    assert set(listing.split()) == expected_files
    if old:
        assert content == "marked=2020-01-01T00:00:00Z\nattempts=1\n"
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    reason = "No space left on device" if kind == "full" else "Read-only file system"
    assert f"error: cannot write the stamp {mnt}/.cleanup: {reason}" in errors[0]
    if kind == "read-only":
        # The tmpfs itself is read-only, not only its mount: mark leaves a filesystem alone.
        assert "the filesystem itself is read-only" in errors[0]
    assert "Traceback" not in result.stderr


_HOLD_DIR_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.parametrize("hold,expect_wait", [(1.0, True), (30.0, False)])
def test_mark_waits_briefly_for_a_running_cleanup(
    fixtures_dir: Path, scratch: Path, hold: float, expect_wait: bool
) -> None:
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", **KNOBS), scratch / "ours")
    # A cleanup holds the stamp directory's lock while it works (see test_two_cleanups...).
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_DIR_LOCK, str(ours.path), str(hold)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = helper("mark", "--sysroot", str(ours.path), "--lock-timeout", "2")
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 0, result.stderr
    assert read_stamp(ours.path / ".cleanup")["attempts"] == "0"
    assert "waiting for another cleanup" in result.stderr
    if expect_wait:
        assert 0.5 <= elapsed < 2.0
        assert "without waiting any longer" not in result.stderr
    else:
        assert elapsed >= 2.0
        assert "marking without waiting any longer" in result.stderr
