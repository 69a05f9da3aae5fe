"""The helper frees exactly what `ostree admin cleanup` frees, and never a live deployment."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helper_support import built, gi_unavailable, helper, read_stamp

from support import sysroot as sr

KNOBS = {"n_files": 300, "shared_files": 40, "file_size": 200}
LINE = re.compile(r"freed (\d+) objects \(([^)]*)\) from (\S+) in \d+\.\ds")


def _mark(sysroot: sr.Sysroot) -> Path:
    result = helper("mark", "--sysroot", str(sysroot.path))
    assert result.returncode == 0, result.stderr
    return sysroot.path / ".cleanup"


@pytest.mark.root
@pytest.mark.parametrize("kind", ["staged", "cheap"])
@pytest.mark.parametrize("mode", ["full", "prune"])
@pytest.mark.parametrize("backend", ["libostree", "ostree-cli"])
def test_frees_what_ostree_admin_cleanup_frees(
    fixtures_dir: Path, scratch: Path, kind: str, mode: str, backend: str
) -> None:
    if backend == "libostree" and gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, kind, **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    theirs = sr.copy_sysroot(source, scratch / "theirs")
    before = sr.repo_usage(ours.repo)
    deployments = sr.deployment_commits(ours)

    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    expected = sr.repo_usage(theirs.repo)
    # The fixture is worth testing only if ostree itself frees something from it.
    assert expected.objects < before.objects - KNOBS["n_files"]

    stamp_path = _mark(ours)
    state_dir = scratch / "state"
    result = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--mode",
        mode,
        "--backend",
        backend,
        "--state-dir",
        str(state_dir),
    )
    assert result.returncode == 0, result.stderr
    after = sr.repo_usage(ours.repo)
    assert after == expected
    assert not stamp_path.exists()

    match = LINE.search(result.stderr)
    assert match, result.stderr
    assert int(match.group(1)) == before.objects - after.objects
    assert match.group(3) == str(ours.repo)

    record = json.loads((state_dir / "last-cleanup.json").read_text())
    assert record["result"] == "success"
    assert record["backend"] == backend
    assert record["mode"] == mode
    assert record["objects_freed"] == before.objects - after.objects
    assert record["bytes_freed"] == before.bytes - after.bytes

    assert sr.fsck(ours.repo).returncode == 0, sr.fsck(ours.repo).stderr
    assert sr.deployment_commits(ours) == deployments
    for checksum in deployments:
        assert sr.commit_exists(ours.repo, checksum)
    status = sr.ostree("admin", "status", "--sysroot=" + str(ours.path)).stdout
    assert all(c in status for c in deployments)


@pytest.mark.root
def test_nothing_to_free_on_a_clean_sysroot(fixtures_dir: Path, scratch: Path) -> None:
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, "deployed", versions=2, n_files=50)
    ours = sr.copy_sysroot(source, scratch / "ours")
    before = sr.repo_usage(ours.repo)
    _mark(ours)
    result = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--mode",
        "prune",
        "--state-dir",
        str(scratch / "state"),
    )
    assert result.returncode == 0, result.stderr
    assert "freed 0 objects (0 bytes)" in result.stderr
    assert sr.repo_usage(ours.repo) == before


@pytest.mark.root
def test_no_stamp_means_no_work(fixtures_dir: Path, scratch: Path) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    before = sr.repo_usage(ours.repo)
    result = helper("cleanup", "--sysroot", str(ours.path), "--state-dir", str(scratch / "st"))
    assert result.returncode == 0
    assert result.stderr.strip().splitlines() == [
        f"ostree-autocleanup-helper: no stamp at {ours.path}/.cleanup: nothing to clean up"
    ]
    assert sr.repo_usage(ours.repo) == before
    assert not (scratch / "st").exists()


@pytest.mark.root
def test_falls_back_to_the_ostree_cli_without_pygobject(fixtures_dir: Path, scratch: Path) -> None:
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    theirs = sr.copy_sysroot(source, scratch / "theirs")
    sr.ostree("admin", "cleanup", "--sysroot=" + str(theirs.path))
    # A `gi` package that fails to import, first on the path: what a system without
    # PyGObject looks like to the helper.
    fake = scratch / "nogi" / "gi"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named gi (test)')\n")
    # Put in front of any path that already finds the helper (in a platform's root the
    # checkout is found through PYTHONPATH, not installed).
    nogi = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")])
        )
    }
    _mark(ours)
    result = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--state-dir",
        str(scratch / "state"),
        env=nogi,
    )
    assert result.returncode == 0, result.stderr
    assert "falling back to the ostree command" in result.stderr
    record = json.loads((scratch / "state" / "last-cleanup.json").read_text())
    assert record["backend"] == "ostree-cli"
    assert sr.repo_usage(ours.repo) == sr.repo_usage(theirs.repo)

    forced = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--backend",
        "libostree",
        "--state-dir",
        str(scratch / "state"),
        env=nogi,
    )
    # No stamp any more: nothing to do, whatever the backend.
    assert forced.returncode == 0
    _mark(ours)
    forced = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--backend",
        "libostree",
        "--state-dir",
        str(scratch / "state"),
        env=nogi,
    )
    assert forced.returncode == 1
    assert "libostree is not usable from Python" in forced.stderr
    assert read_stamp(ours.path / ".cleanup")["attempts"] == "1"


@pytest.mark.root
@pytest.mark.parametrize("backend", ["libostree", "ostree-cli"])
def test_prune_refuses_when_a_deployment_has_no_ref(
    fixtures_dir: Path, scratch: Path, backend: str
) -> None:
    if backend == "libostree" and gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    source = built(fixtures_dir, "cheap", **KNOBS)
    ours = sr.copy_sysroot(source, scratch / "ours")
    # Without its deployment ref and its branch, the newest deployment's commit is held by
    # nothing but the deployment directory: a refs-only prune would delete its objects.
    head = sr.refs(ours.repo)[sr.BRANCH]
    held_by = [name for name, commit in sr.refs(ours.repo).items() if commit == head]
    sr.ostree("refs", "--repo=" + str(ours.repo), "--delete", *held_by)
    before = sr.repo_usage(ours.repo)
    stamp_path = _mark(ours)

    result = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--mode",
        "prune",
        "--backend",
        backend,
        "--state-dir",
        str(scratch / "state"),
    )
    assert result.returncode == 1
    assert "refusing to prune: no ref holds the commit of deployment testos/" + head in (
        result.stderr
    )
    assert sr.repo_usage(ours.repo) == before
    assert read_stamp(stamp_path)["attempts"] == "1"

    # Full mode rewrites the deployment refs first, so it may clean up.
    result = helper(
        "cleanup",
        "--sysroot",
        str(ours.path),
        "--mode",
        "full",
        "--backend",
        backend,
        "--state-dir",
        str(scratch / "state"),
    )
    assert result.returncode == 0, result.stderr
    assert sr.commit_exists(ours.repo, head)
    assert sr.fsck(ours.repo).returncode == 0
    assert not stamp_path.exists()
