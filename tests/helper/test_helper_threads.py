"""The cleanup must not start GLib worker threads: under the unit's seccomp filter the
sched_setattr that every GLib worker thread makes is fatal (REFERENCE.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helper_support import built, gi_unavailable

from support import sysroot as sr

# Runs the helper's main() in this process, then reports how many threads the process has:
# GLib keeps its worker threads alive once started, so any async call would show here.
_IN_PROCESS = """
import os, sys
from ostree_autocleanup.helper.cli import main
rc = main(sys.argv[1:])
print(rc, len(os.listdir("/proc/self/task")))
"""


@pytest.mark.root
@pytest.mark.parametrize("mode", ["full", "prune"])
def test_cleanup_runs_on_one_thread(fixtures_dir: Path, scratch: Path, mode: str) -> None:
    if gi_unavailable():
        pytest.skip(str(gi_unavailable()))
    ours = sr.copy_sysroot(built(fixtures_dir, "cheap", n_files=300), scratch / "ours")
    (ours.path / ".cleanup").write_text("attempts=0\n")
    before = sr.repo_usage(ours.repo)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _IN_PROCESS,
            "cleanup",
            "--sysroot",
            str(ours.path),
            "--mode",
            mode,
            "--state-dir",
            str(scratch / "state"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout.split() == ["0", "1"], result.stdout + result.stderr
    # It really cleaned up, through libostree.
    assert sr.repo_usage(ours.repo).objects < before.objects
    assert "falling back" not in result.stderr
