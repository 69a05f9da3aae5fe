"""SIGKILL at every durable step, and at random times: files are old or new, a rerun completes.

The step-by-step tests run the command under a launcher that kills the process right after its
Nth durable step (each rename, mkdir, unlink or written temporary file ends in an fsync); N
counts up until a run gets through without being killed, so every step of the real run is a kill
point. The random test kills the whole process group (systemctl included) at random times.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from installer_support import (
    DROPIN,
    MANIFEST,
    PRESET,
    UNIT,
    run_process,
    temporaries,
    tree_state,
)

CONTENT_FILES = (UNIT, DROPIN, PRESET)
MAX_STEPS = 200  # far above any real run: a loop that reaches it means the hook is broken


def _contents(root: Path) -> dict[str, bytes | None]:
    return {
        path: (root / path).read_bytes() if (root / path).exists() else None
        for path in CONTENT_FILES
    }


def _assert_whole(root: Path, allowed: Mapping[str, Sequence[bytes | None]]) -> None:
    """Each of our files is absent, or exactly one of the versions a complete run writes."""
    for path, data in _contents(root).items():
        assert data in allowed[path], f"{path} is partial or unknown"
    if (root / MANIFEST).exists():
        json.loads((root / MANIFEST).read_text())  # never a half-written manifest


def _copy(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
    return target


def _crash_every_step(
    start: Path, work: Path, argv: Sequence[str], allowed: Mapping[str, Sequence[bytes | None]]
) -> tuple[int, dict[str, str]]:
    """Kill ``argv`` after step 1, 2, ... on fresh copies of ``start``; rerun each to the end.

    Returns the number of steps of a whole run and the tree every rerun must end with.
    """
    reference = _copy(start, work / "reference")
    done = run_process(*argv, "--root", str(reference))
    assert done.returncode == 0, done.stderr
    expected = tree_state(reference)
    for step in range(1, MAX_STEPS):
        root = _copy(start, work / "crash")
        killed = run_process(*argv, "--root", str(root), crash_after=step)
        if killed.returncode == 0:
            assert tree_state(root) == expected
            return step - 1, expected
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        _assert_whole(root, allowed)
        rerun = run_process(*argv, "--root", str(root))
        assert rerun.returncode == 0, f"rerun after a kill at step {step}: {rerun.stderr}"
        assert tree_state(root) == expected, f"after a kill at step {step} and a rerun"
        assert temporaries(root) == []
    raise AssertionError("the crash hook never let a run finish")


@pytest.fixture
def versions(image_root: Path, other_config: Path, tmp_path: Path) -> dict[str, dict[str, bytes]]:
    """The bytes of our files after a complete install with each config."""
    result = {}
    for label, extra in (("default", ()), ("other", ("-c", str(other_config)))):
        root = _copy(image_root, tmp_path / f"version-{label}")
        assert run_process("install", *extra, "--root", str(root)).returncode == 0
        result[label] = {p: (root / p).read_bytes() for p in CONTENT_FILES}
        shutil.rmtree(root)
    return result


@pytest.mark.slow
def test_kill_at_every_step_of_a_fresh_install(
    image_root: Path, tmp_path: Path, versions: dict[str, dict[str, bytes]]
) -> None:
    pristine = tree_state(image_root)
    allowed = {p: (None, versions["default"][p]) for p in CONTENT_FILES}
    steps, _ = _crash_every_step(image_root, tmp_path, ["install"], allowed)
    assert steps >= 8  # manifest twice, three files, directories: every one was a kill point
    # And a root that went through a kill and a rerun uninstalls to exactly what it was.
    root = _copy(image_root, tmp_path / "again")
    run_process("install", "--root", str(root), crash_after=steps // 2)
    assert run_process("uninstall", "--root", str(root)).returncode == 0
    assert tree_state(root) == pristine


@pytest.mark.slow
def test_kill_at_every_step_of_an_upgrade(
    image_root: Path,
    tmp_path: Path,
    other_config: Path,
    versions: dict[str, dict[str, bytes]],
) -> None:
    assert run_process("install", "--root", str(image_root)).returncode == 0
    allowed = {p: (versions["default"][p], versions["other"][p]) for p in CONTENT_FILES}
    steps, _ = _crash_every_step(
        image_root, tmp_path, ["install", "-c", str(other_config)], allowed
    )
    assert steps >= 6


@pytest.mark.slow
def test_kill_at_every_step_of_an_uninstall(
    image_root: Path, tmp_path: Path, versions: dict[str, dict[str, bytes]]
) -> None:
    pristine = tree_state(image_root)
    assert run_process("install", "--root", str(image_root)).returncode == 0
    allowed = {p: (None, versions["default"][p]) for p in CONTENT_FILES}
    steps, expected = _crash_every_step(image_root, tmp_path, ["uninstall"], allowed)
    assert expected == pristine
    assert steps >= 6


@pytest.mark.slow
def test_kill_a_crashed_install_then_uninstall(
    image_root: Path, tmp_path: Path, versions: dict[str, dict[str, bytes]]
) -> None:
    """A pending manifest left by a kill is enough for uninstall to restore the tree."""
    pristine = tree_state(image_root)
    step = 1
    while True:
        root = _copy(image_root, tmp_path / "crash")
        killed = run_process("install", "--root", str(root), crash_after=step)
        if killed.returncode == 0:
            break
        result = run_process("uninstall", "--root", str(root))
        assert result.returncode == 0, f"uninstall after a kill at step {step}: {result.stderr}"
        assert tree_state(root) == pristine, f"after a kill at install step {step}"
        step += 1
        assert step < MAX_STEPS


def _spawn(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    code = "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _median_seconds(runs: Sequence[Sequence[str]]) -> float:
    times = []
    for argv in runs:
        started = time.monotonic()
        assert run_process(*argv).returncode == 0
        times.append(time.monotonic() - started)
    return sorted(times)[1]


@pytest.mark.slow
def test_random_kills_in_a_loop_of_200_runs(
    image_root: Path,
    tmp_path: Path,
    other_config: Path,
    versions: dict[str, dict[str, bytes]],
) -> None:
    pristine = tree_state(image_root)
    commands = (
        ["install", "--root", str(image_root)],
        ["install", "-c", str(other_config), "--root", str(image_root)],
        ["uninstall", "--root", str(image_root)],
    )
    # Aim the kills at the window where the tree changes: after the work a dry run also does
    # (start-up, config, plan), before a whole run is over.
    # Medians of three, since other work on the machine makes single timings noisy.
    planning = _median_seconds([[*commands[0], "--dry-run"]] * 3)
    duration = _median_seconds([commands[1], commands[0], commands[1]])  # each one writes
    low, high = min(planning, duration) * 0.6, max(planning, duration) * 1.1
    allowed = {p: (None, versions["default"][p], versions["other"][p]) for p in CONTENT_FILES}
    rng = random.Random(int(os.environ.get("OSTREE_AUTOCLEANUP_TEST_SEED", "4")))
    outcomes = {"killed": 0, "finished": 0, "mid-install": 0}
    for run in range(200):
        argv = rng.choice(commands)
        process = _spawn(argv)
        time.sleep(rng.uniform(low, high))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _, err = process.communicate()
        if process.returncode == -signal.SIGKILL:
            outcomes["killed"] += 1
            manifest = image_root / MANIFEST
            if manifest.exists() and not json.loads(manifest.read_text())["complete"]:
                outcomes["mid-install"] += 1
        else:
            assert process.returncode == 0, f"run {run} {argv}: {err.decode()}"
            outcomes["finished"] += 1
        _assert_whole(image_root, allowed)
    print(f"random kills: {outcomes}, planning {planning:.3f}s, whole run {duration:.3f}s")
    # Both kinds happened, or the loop tested nothing.
    assert outcomes["killed"] >= 40, outcomes
    assert outcomes["finished"] >= 5, outcomes
    assert outcomes["mid-install"] >= 2, outcomes
    assert run_process(*commands[0]).returncode == 0
    assert {p: (image_root / p).read_bytes() for p in CONTENT_FILES} == versions["default"]
    assert temporaries(image_root) == []
    assert run_process(*commands[2]).returncode == 0
    assert tree_state(image_root) == pristine
