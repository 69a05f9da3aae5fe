"""The README's "see it work" command: the whole cycle told step by step, and nothing left over.

The command is read from README.md and run as documented, with this test environment's Python
in place of .venv/bin/python; its narration is checked against what each step must show. The
whole cycle runs on every platform (the README's `--platform` for all but the default), the
^C test once, on the default.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import readme
from support.container import cached_rootfs, unavailable_reason
from support.platforms import DEBIAN_12, Platform

from .project import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

TIMEOUT = 900.0
# The steps a person must see, in this order.
STEPS = (
    r"Booted release 2\. ostree-autocleanup\.service was skipped",
    r"Staged release 3 ",
    r"Shutting down: ",
    r"Stamp written: /sysroot/\.cleanup ",
    r"Booted release 3: ",
    r"Cleanup freed (?P<objects>\d+) objects \((?P<mib>\d+\.\d) MiB\)",
    r"Stamp removed: /sysroot/\.cleanup is gone",
    r"Seen from outside: the repository holds exactly (?P<gone>\d+) objects fewer",
    r"Next boot skipped: ostree-autocleanup\.service did not start",
    r"Cleaned up: no container left running",
    r"Done\.",
)


def demo_command(tmp_path: Path, platform: Platform = DEBIAN_12) -> list[str]:
    """The README's command, minus its apt-get part (the suite's set-up installs those)."""
    *_, demo = readme.command_running("see_it_work.py").split(" && ")
    python, *args = shlex.split(demo)
    assert python == ".venv/bin/python"
    if platform != DEBIAN_12:
        args += ["--platform", platform.id]
    return [sys.executable, *args, "--tmpdir", str(tmp_path)]


@pytest.fixture
def default_rootfs() -> Path:
    """The default platform's root, without running the test once per platform."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"end-to-end boots skipped: {reason}")
    return cached_rootfs(DEBIAN_12)


def leftovers(tmp_path: Path) -> list[str]:
    """Anything of the demo's still on this machine: files, mounts, loop devices, processes."""
    found = [f"file {p}" for p in tmp_path.iterdir()]
    with open("/proc/self/mountinfo") as mountinfo:
        found += [f"mount {line.split()[4]}" for line in mountinfo if str(tmp_path) in line]
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if backing.read_text().startswith(str(tmp_path)):
                found.append(f"loop device {backing.parts[3]}")
        except OSError:
            continue
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes():
                found.append(f"process {cmdline.parent.name}")
        except OSError:
            continue
    return found


def test_see_it_work_tells_the_whole_cycle_and_cleans_up(
    platform: Platform, rootfs: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        demo_command(tmp_path, platform),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    narration = result.stdout
    assert result.returncode == 0, narration + result.stderr
    assert f"OSTree system ready: {platform.name} (ostree {platform.ostree})" in narration
    position = 0
    found: dict[str, str] = {}
    for step in STEPS:
        match = re.compile(step).search(narration, position)
        assert match is not None, f"no {step!r} after offset {position} in:\n{narration}"
        position = match.end()
        found.update(match.groupdict())
    assert int(found["objects"]) > 0 and float(found["mib"]) > 0, narration
    # The helper's own report agrees with the repository seen from the host.
    assert found["gone"] == found["objects"], narration
    assert leftovers(tmp_path) == []


def test_see_it_work_cleans_up_after_ctrl_c(default_rootfs: Path, tmp_path: Path) -> None:
    """^C while the container runs and the image is mounted: exit 130 and nothing left."""
    process = subprocess.Popen(
        demo_command(tmp_path),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    narration = ""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + TIMEOUT
            while "Booted release 2" not in narration:
                assert time.monotonic() < deadline, narration
                assert process.poll() is None, narration
                if selector.select(timeout=1.0):
                    narration += process.stdout.readline()
        assert leftovers(tmp_path) != [], "nothing to clean up: the check below proves nothing"
        # What a terminal's ^C does: SIGINT to the foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    narration += rest
    assert process.returncode == 130, narration
    assert "Interrupted: " in narration and "Cleaned up: " in narration, narration
    assert "Done." not in narration
    assert leftovers(tmp_path) == []
