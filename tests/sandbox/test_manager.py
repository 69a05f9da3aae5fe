"""The private manager the sandbox tests rely on: the sandbox really applies, and it leaves
nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.manager import unavailable_reason, user_manager

pytestmark = [pytest.mark.root, pytest.mark.manager]


def test_sandbox_applies_and_teardown_leaves_nothing(tmp_path: Path) -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    (tmp_path / "file").write_text("seen\n")
    with user_manager({"/srv/probe": str(tmp_path)}) as m:
        confined = m.run(
            ["/bin/sh", "-c", "cat /srv/probe/file; touch /srv/probe/new"],
            ["ProtectSystem=strict"],
        )
        free = m.run(["/bin/sh", "-c", "touch /srv/probe/new && cat /proc/1/comm"])
        services_pid1 = free.stdout.strip()
        state = (m.workdir, list(m.cgroups), m.process)

    assert confined.returncode == 1
    assert confined.stdout == "seen\n"
    assert "Read-only file system" in confined.stderr
    assert free.returncode == 0
    assert (tmp_path / "new").exists()
    # Services see the namespace's own init, not this machine's PID 1.
    assert services_pid1 == "sh"
    workdir, cgroups, process = state
    assert process.poll() is not None
    assert not os.path.exists(workdir)
    assert cgroups and not any(os.path.exists(c) for c in cgroups)
