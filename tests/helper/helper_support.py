"""Shared pieces of the helper tests: skips, cached real sysroots, the helper as a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import sysroot as sr

HELPER_MODULE = "ostree_autocleanup.helper"


def gi_unavailable() -> str | None:
    try:
        import gi

        gi.require_version("OSTree", "1.0")
        from gi.repository import OSTree  # noqa: F401
    except (ImportError, ValueError) as e:
        return f"libostree is not usable from Python here ({e})"
    return None


def need_ostree() -> None:
    reason = sr.tools_unavailable(("ostree", "cp", "chattr"))
    if reason:
        pytest.skip(f"needs the ostree CLI to build real sysroots: {reason}")


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: ostree deployments are chattr +i and the test mounts filesystems")


def need_unshare() -> None:
    need_root()
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here (unshare -m failed)")


_BUILT: dict[str, sr.Sysroot] = {}


def built(fixtures_dir: Path, kind: str, **knobs: int) -> sr.Sysroot:
    """A session-cached sysroot of `kind` ("cheap", "staged", "deployed") with `knobs`."""
    need_root()
    need_ostree()
    key = kind + "-" + "-".join(f"{k}{v}" for k, v in sorted(knobs.items()))
    if key not in _BUILT:
        dest = fixtures_dir / key
        if kind == "staged":
            reason = sr.staging_unavailable()
            if reason:
                pytest.skip(reason)
            _BUILT[key] = sr.staged_sysroot(dest, **knobs)
        elif kind == "cheap":
            _BUILT[key] = sr.needs_cleanup_sysroot(dest, **knobs)
        else:
            _BUILT[key] = sr.deployed_sysroot(dest, **knobs)
    return _BUILT[key]


def helper(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    python_flags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the helper as the units do (a separate process) and capture its output."""
    full_env = dict(os.environ)
    full_env.pop("JOURNAL_STREAM", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, *python_flags, "-m", HELPER_MODULE, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def helper_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", HELPER_MODULE, *args]


def read_stamp(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            fields[key] = value
    return fields
