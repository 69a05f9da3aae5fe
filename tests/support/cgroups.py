"""A cgroup of its own for each systemd a test starts (a container's PID 1, a user manager).

PID 1 of this machine is not systemd, and every process starts in the root cgroup. A systemd
that runs there takes the whole hierarchy as its own: two containers booting side by side (the
end-to-end groups of CI run in parallel) then create, populate and remove the same
`system.slice/...` cgroups, and a unit of one fails with "Failed to attach to cgroup ...: No such
file or directory" (status 219/CGROUP) because the other just removed it. systemd-nspawn
--keep-unit and a user manager both stay in the cgroup they are started in, so the launcher moves
itself into a fresh one first (`enter`), and teardown kills what is left there.

Only the hierarchies systemd itself uses are touched: the named systemd one and the unified one
on a hybrid host, or the single v2 root; controllers are left where the machine put them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time

HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
V2_ROOT = "/sys/fs/cgroup"

# "$@" is the cgroup directories, "--", then the command: the shell moves itself into each
# cgroup and becomes the command (same PID, so the caller's Popen still names the process).
_ENTER_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done; shift; exec "$@"'
)


class CgroupError(Exception):
    """What a test needs cannot be given: processes survive, or no hierarchy is writable."""


def roots() -> list[str]:
    """The hierarchies systemd uses and this process may write: named systemd + unified, or v2."""
    if os.path.exists(os.path.join(V2_ROOT, "cgroup.controllers")):
        return [V2_ROOT] if os.access(V2_ROOT, os.W_OK) else []
    found = [r for r in HIERARCHIES if os.path.isdir(r) and os.access(r, os.W_OK)]
    return found if HIERARCHIES[0] in found else []


def create(name: str) -> list[str]:
    """A new empty cgroup called name in each hierarchy; raises if one exists already."""
    made: list[str] = []
    available = roots()
    if not available:
        raise CgroupError("no writable cgroup hierarchy to give a systemd a cgroup of its own")
    try:
        for root in available:
            path = os.path.join(root, name)
            os.mkdir(path)
            made.append(path)
    except BaseException:
        for path in made:
            remove(path)
        raise
    return made


def enter(cgroups: list[str]) -> list[str]:
    """The start of an argv whose rest runs inside cgroups."""
    return ["sh", "-c", _ENTER_SCRIPT, "enter-cgroup", *cgroups, "--"]


def hierarchy_of(cgroup: str) -> str:
    """The hierarchy field that names cgroup's hierarchy in /proc/PID/cgroup."""
    return "name=systemd" if cgroup.startswith(HIERARCHIES[0] + "/") else ""


def pids(cgroup: str) -> list[int]:
    found: list[int] = []
    for dirpath, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            procs = os.path.join(dirpath, "cgroup.procs")
            with contextlib.suppress(OSError), open(procs, encoding="ascii") as f:
                found += [int(x) for x in f.read().split()]
    return found


def remove(cgroup: str, timeout: float = 20.0) -> None:
    """Kill what is left in the cgroup tree, then remove it bottom-up."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids(cgroup)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise CgroupError(f"processes {left} survive in {cgroup}")
        time.sleep(0.05)
    for dirpath, _dirs, _files in sorted(
        os.walk(cgroup), key=lambda entry: entry[0].count("/"), reverse=True
    ):
        # A task that has left cgroup.procs may hold the cgroup a moment longer (EBUSY).
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as error:
                if error.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
