"""Faults: a killed prune, a broken or read-only repo, exhausted attempts, concurrent runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helper_support import (
    built,
    gi_unavailable,
    helper,
    helper_argv,
    need_unshare,
    read_stamp,
)

from support import sysroot as sr

KNOBS = {"n_files": 300, "file_size": 100}
BIG = {"n_files": 8000, "file_size": 64}

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _need_gi() -> None:
    reason = gi_unavailable()
    if reason:
        pytest.skip(reason)


def _write_stamp(sysroot: sr.Sysroot, attempts: int) -> Path:
    path = sysroot.path / ".cleanup"
    path.write_text(f"marked=2026-01-01T00:00:00Z\nattempts={attempts}\n")
    return path


def _cleanup(sysroot: sr.Sysroot, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return helper("cleanup", "--sysroot", str(sysroot.path), "--state-dir", str(state), *extra)


def _object_names(repo: Path) -> int:
    # Names only, no stat: cheap enough to poll while a prune runs.
    objects = repo / "objects"
    return sum(len(os.listdir(objects / d)) for d in os.listdir(objects))


def _baseline(source: sr.Sysroot, scratch: Path) -> sr.RepoUsage:
    theirs = sr.copy_sysroot(source, scratch / "theirs")
    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    usage = sr.repo_usage(theirs.repo)
    sr.remove_tree(theirs.path)
    return usage


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["prune", "full"])
def test_sigkill_mid_prune_leaves_a_consistent_repo_and_a_rerun_finishes(
    fixtures_dir: Path, scratch: Path, mode: str
) -> None:
    source = built(fixtures_dir, "cheap", **BIG)
    expected = _baseline(source, scratch)
    ours = sr.copy_sysroot(source, scratch / "ours")
    before = sr.repo_usage(ours.repo)
    stamp = _write_stamp(ours, 0)
    state = scratch / "state"

    proc = subprocess.Popen(
        helper_argv(
            "cleanup", "--sysroot", str(ours.path), "--mode", mode, "--state-dir", str(state)
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Kill as soon as the prune has deleted something but is far from done.
        while _object_names(ours.repo) > before.objects - 200:
            assert proc.poll() is None, "the cleanup finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    middle = sr.repo_usage(ours.repo)
    assert expected.objects < middle.objects < before.objects, "not killed mid-prune"

    check = sr.fsck(ours.repo)
    assert check.returncode == 0, check.stdout + check.stderr
    for checksum in sr.deployment_commits(ours):
        assert sr.commit_exists(ours.repo, checksum)
    assert read_stamp(stamp)["attempts"] == "1"

    rerun = _cleanup(ours, state, "--mode", mode)
    assert rerun.returncode == 0, rerun.stderr
    assert not stamp.exists()
    assert sr.repo_usage(ours.repo) == expected
    assert sr.fsck(ours.repo).returncode == 0
    assert json.loads((state / "last-cleanup.json").read_text())["attempt"] == 2


def _corrupt_config(sysroot: sr.Sysroot) -> None:
    (sysroot.repo / "config").write_text("[core\nthis is not a key file\n")


def _corrupt_commit(sysroot: sr.Sysroot) -> None:
    # The commit object of the newest deployment: every traversal needs it.
    head = sr.refs(sysroot.repo)[sr.BRANCH]
    (sysroot.repo / "objects" / head[:2] / (head[2:] + ".commit")).unlink()


@pytest.mark.parametrize("mode", ["full", "prune"])
@pytest.mark.parametrize(
    "corrupt", [_corrupt_config, _corrupt_commit], ids=["bad-config", "missing-commit"]
)
def test_corrupt_repo_keeps_the_stamp_with_attempts_raised(
    fixtures_dir: Path, scratch: Path, mode: str, corrupt: object
) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 0)
    assert callable(corrupt)
    corrupt(ours)
    before = sr.repo_usage(ours.repo)
    state = scratch / "state"

    result = _cleanup(ours, state, "--mode", mode, "--max-attempts", "3")
    assert result.returncode == 1
    assert "cleanup failed (attempt 1 of 3)" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert read_stamp(stamp)["attempts"] == "1"
    assert read_stamp(stamp)["marked"] == "2026-01-01T00:00:00Z"
    # A failed cleanup deletes nothing.
    assert sr.repo_usage(ours.repo) == before
    record = json.loads((state / "last-cleanup.json").read_text())
    assert record["result"] == "failed"
    assert record["attempt"] == 1

    again = _cleanup(ours, state, "--mode", mode, "--max-attempts", "3")
    assert again.returncode == 1
    assert read_stamp(stamp)["attempts"] == "2"


@pytest.mark.parametrize("mode", ["full", "prune"])
def test_read_only_repo_keeps_the_stamp_with_attempts_raised(
    fixtures_dir: Path, scratch: Path, mode: str
) -> None:
    need_unshare()
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 1)
    before = sr.repo_usage(ours.repo)
    state = scratch / "state"
    # Only the repo is read-only (a private bind mount that dies with the namespace); the
    # stamp's directory stays writable, as the unit's sandbox must keep it.
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(ours.repo),
            *helper_argv(
                "cleanup",
                "--sysroot",
                str(ours.path),
                "--mode",
                mode,
                "--state-dir",
                str(state),
                "--max-attempts",
                "5",
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "cleanup failed (attempt 2 of 5)" in result.stderr
    assert read_stamp(stamp)["attempts"] == "2"
    assert sr.repo_usage(ours.repo) == before
    assert sr.fsck(ours.repo).returncode == 0


def test_max_attempts_reached_gives_up_and_removes_the_stamp(
    fixtures_dir: Path, scratch: Path
) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 2)
    _corrupt_config(ours)
    state = scratch / "state"
    result = _cleanup(ours, state, "--max-attempts", "3")
    assert result.returncode == 1
    assert "giving up on cleanup after 3 failed attempts" in result.stderr
    assert not stamp.exists()
    record = json.loads((state / "last-cleanup.json").read_text())
    assert record["result"] == "gave-up"
    assert record["attempt"] == 3


def test_an_attempt_that_never_came_back_counts(fixtures_dir: Path, scratch: Path) -> None:
    # attempts=3 of 3 means the third run was killed before it could record anything: the
    # helper gives up without touching the repo again.
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 3)
    before = sr.repo_usage(ours.repo)
    result = _cleanup(ours, scratch / "state", "--max-attempts", "3")
    assert result.returncode == 1
    assert "the last attempt did not finish" in result.stderr
    assert not stamp.exists()
    assert sr.repo_usage(ours.repo) == before


_HOLD_LOCK = """
import sys, time, gi
gi.require_version("OSTree", "1.0")
from gi.repository import Gio, OSTree
s = OSTree.Sysroot.new(Gio.File.new_for_path(sys.argv[1]))
s.lock()
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_sysroot_lock(sysroot: sr.Sysroot, seconds: float) -> subprocess.Popen[str]:
    """A process that holds the sysroot lock the way an updater does (libostree)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(sysroot.path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize(
    "backend,mode",
    [
        ("libostree", "full"),
        ("libostree", "prune"),
        ("ostree-cli", "full"),
        ("ostree-cli", "prune"),
    ],
)
def test_cleanup_waits_for_an_update_holding_the_sysroot_lock(
    fixtures_dir: Path, scratch: Path, backend: str, mode: str
) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    expected = _baseline(source, scratch)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 0)
    holder = _hold_sysroot_lock(ours, 1.5)
    try:
        started = time.monotonic()
        result = _cleanup(ours, scratch / "state", "--backend", backend, "--mode", mode)
        elapsed = time.monotonic() - started
    finally:
        holder.wait()
    assert result.returncode == 0, result.stderr
    assert "waiting for the sysroot lock" in result.stderr
    assert elapsed >= 1.0
    assert not stamp.exists()
    assert sr.repo_usage(ours.repo) == expected


def test_lock_wait_is_bounded(fixtures_dir: Path, scratch: Path) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    stamp = _write_stamp(ours, 0)
    before = sr.repo_usage(ours.repo)
    holder = _hold_sysroot_lock(ours, 4)
    try:
        result = _cleanup(ours, scratch / "state", "--lock-timeout", "0.5")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "is still held after 0.5s" in result.stderr
    assert read_stamp(stamp)["attempts"] == "1"
    assert sr.repo_usage(ours.repo) == before


@pytest.mark.parametrize("backend", ["libostree", "ostree-cli"])
def test_two_cleanups_at_once_take_turns(fixtures_dir: Path, scratch: Path, backend: str) -> None:
    source = built(fixtures_dir, "cheap", **BIG)
    expected = _baseline(source, scratch)
    ours = sr.copy_sysroot(source, scratch / "ours")
    before = sr.repo_usage(ours.repo)
    stamp = _write_stamp(ours, 0)
    argv = helper_argv(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--backend",
        backend,
        "--state-dir",
        str(scratch / "state"),
    )
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("error" in out for out in outputs), outputs
    freed = [out for out in outputs if "freed " in out]
    assert len(freed) == 1, outputs
    assert f"freed {before.objects - expected.objects} objects" in freed[0]
    assert not stamp.exists()
    assert sr.repo_usage(ours.repo) == expected
    assert sr.fsck(ours.repo).returncode == 0
