"""The cgroups each test systemd gets: a process started through them is inside them in every
hierarchy systemd uses, and removing them kills what is left and deletes them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from support import cgroups

pytestmark = [pytest.mark.root]


def test_started_inside_and_removed_with_what_is_left() -> None:
    if os.geteuid() != 0 or not cgroups.roots():
        pytest.skip("needs root and a writable cgroup hierarchy")
    made = cgroups.create(f"oa-test-cgroups-{os.getpid()}")
    try:
        process = subprocess.Popen(
            [*cgroups.enter(made), "sh", "-c", "cat /proc/self/cgroup; exec sleep 600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        with open("/proc/self/cgroup", encoding="ascii") as own:
            hierarchies = len(own.readlines())
        seen = [process.stdout.readline() for _ in range(hierarchies)]
        for cgroup in made:
            key = cgroups.hierarchy_of(cgroup)
            line = next(x for x in seen if x.split(":", 2)[1] == key)
            assert line.rstrip("\n").split(":", 2)[2] == "/" + os.path.basename(cgroup)
            assert process.pid in cgroups.pids(cgroup)
    finally:
        for cgroup in made:
            cgroups.remove(cgroup)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == -9
    assert not any(os.path.exists(c) for c in made)
