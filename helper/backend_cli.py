"""Cleanup through the `ostree` command, for systems without PyGObject or the OSTree typelib."""

from __future__ import annotations

import os
import subprocess

from .deployments import check_before_prune, is_booted_sysroot
from .errors import HelperError
from .lock import SysrootLock
from .result import Freed
from .usage import freed_since, object_sizes

NAME = "ostree-cli"

# What `ostree admin` says when it refuses a booted sysroot. Since ostree 2025.1 (upstream
# commit f9bf9ac5) it says so to root too, when CAP_SYS_ADMIN is not in the capability bounding
# set, although the cleanup never uses that capability; before, root was enough.
_NOT_ROOT = "You must be root to perform this command"
CAP_SYS_ADMIN = 21


def bounding_set_has(capability: int) -> bool | None:
    """Whether `capability` is in this process's capability bounding set; None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return bool(int(line.split()[1], 16) >> capability & 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _refusal(argv: list[str], detail: str) -> HelperError | None:
    """A clear error for ostree's "must be root" given to root, or None for any other."""
    if _NOT_ROOT not in detail or os.geteuid() != 0:
        return None
    if bounding_set_has(CAP_SYS_ADMIN) is True:
        return None
    return HelperError(
        f"`{' '.join(argv)}` refused to run as root: ostree 2025.1 and later also need "
        "CAP_SYS_ADMIN in the capability bounding set for `ostree admin` on a booted system",
        "keep CAP_SYS_ADMIN in the unit's CapabilityBoundingSet=, or use cleanup.backend: helper",
    )


def _run(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    except OSError as e:
        raise HelperError(f"cannot run {argv[0]}: {e.strerror}", "is ostree installed?") from e
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise _refusal(argv, detail) or HelperError(f"`{' '.join(argv)}` failed: {detail}")


def clean(mode: str, sysroot: str, repo: str, lock_timeout: float, ostree: str) -> Freed:
    before = object_sizes(repo)
    lock = SysrootLock(sysroot)
    if mode == "full":
        # `ostree admin cleanup` takes the sysroot lock itself and would wait forever for ours:
        # wait here with a bound, drop the commits of removed deployments (see
        # backend_libostree._prune_commits), then let it take the lock.
        lock.acquire(lock_timeout)
        try:
            if check_before_prune(sysroot, repo, refs_only=False):
                _run(
                    [ostree, "prune", "--repo=" + repo, "--refs-only", "--depth=0", "--commit-only"]
                )
        finally:
            lock.release()
        # Naming the booted sysroot would make ostree delete a deployment staged during this
        # boot (see deployments.is_booted_sysroot); without --sysroot it looks for the booted
        # system.
        if is_booted_sysroot(sysroot):
            _run([ostree, "admin", "cleanup"])
        else:
            _run([ostree, "admin", "cleanup", "--sysroot=" + sysroot])
    else:
        lock.acquire(lock_timeout)
        try:
            check_before_prune(sysroot, repo, refs_only=True)
            # Commits first: see backend_libostree._prune_commits.
            _run([ostree, "prune", "--repo=" + repo, "--refs-only", "--depth=0", "--commit-only"])
            _run([ostree, "prune", "--repo=" + repo, "--refs-only", "--depth=0"])
        finally:
            lock.release()
    objects, nbytes = freed_since(repo, before)
    return Freed(objects, nbytes, NAME)
