"""Run tests of this checkout with another platform's Python, libostree and ostree CLI.

The helper's real-sysroot tests build sysroots with the `ostree` CLI and run the helper with
`sys.executable`; run inside a root of another Debian release they exercise that release's
ostree, libostree and Python instead of the host's. ``runner_root(platform)`` is such a root:
a plain debootstrap (``/etc`` and dpkg's database where Debian keeps them, unlike the
OSTree-shaped roots of ``support.container``) with just what the helper and its tests need,
cached between runs beside the other test roots and built once under a lock.

``run_in_root`` chroots into it inside a private mount and PID namespace that dies with the
command: the root itself is mounted read-only (the cache is shared and never changes after it is
built), the checkout read-only at ``CHECKOUT``, and a host scratch directory, on a disk
filesystem so that ostree can ``chattr +i`` deployments, at ``/tmp``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from support.container import cached_tree, debootstrap
from support.platforms import Platform

VARIANT = "minbase"
# The helper (python3, libostree through gi), what its tests run (the ostree CLI, chattr; unshare,
# mount, findmnt and setpriv come with util-linux and mount in minbase) and the test runner.
PACKAGES = (
    "python3",
    "python3-gi",
    "gir1.2-ostree-1.0",
    "ostree",
    "e2fsprogs",
    "python3-pytest",
    "python3-hypothesis",
)
# Bump when the way the root is built changes: the cache key includes it.
RECIPE_VERSION = 1
# Where the checkout appears inside the root (a directory every Debian root has).
CHECKOUT = "/mnt"
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    # The checkout is read-only in there.
    "PYTHONDONTWRITEBYTECODE": "1",
}
REQUIRED_TOOLS = ("debootstrap", "unshare", "chroot", "mount")
# The checkout's importable packages, as pyproject.toml maps them under ostree_autocleanup.
PACKAGES_OF_CHECKOUT = ("generator", "helper", "templates", "presets")


def running_platform_id(os_release: str = "/etc/os-release") -> str:
    """The id of the platform this process runs on, as support.platforms spells it (debian12),
    read from os-release (ID and the major VERSION_ID), so it holds inside a root as well."""
    fields: dict[str, str] = {}
    with open(os_release, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                fields[key] = value.strip("\"'")
    return fields.get("ID", "linux") + fields.get("VERSION_ID", "").split(".")[0]


def unavailable_reason() -> str | None:
    """Why another platform's root cannot be built and entered here, or None when it can."""
    if os.geteuid() != 0:
        return "building and entering another platform's root needs root (debootstrap, chroot)"
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install debootstrap util-linux)"
    return None


def root_key(platform: Platform, packages: Sequence[str] = PACKAGES) -> str:
    recipe = {
        "suite": platform.suite,
        "variant": VARIANT,
        "packages": sorted(packages),
        "recipe": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def runner_root(platform: Platform, packages: Sequence[str] = PACKAGES) -> Path:
    """The platform's root for running tests in, built once per recipe and reused afterwards."""
    return cached_tree(
        f"tests-{platform.id}-{root_key(platform, packages)}",
        lambda target: debootstrap(target, platform.suite, packages),
    )


def checkout_env(scratch: Path) -> dict[str, str]:
    """The environment that makes `ostree_autocleanup.*` the checkout's packages in the root.

    The wheel maps generator/ to ostree_autocleanup.generator and so on; a directory of
    symlinks in `scratch` (the root's /tmp) does the same without installing anything.
    """
    package = scratch / "pythonpath" / "ostree_autocleanup"
    package.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES_OF_CHECKOUT:
        link = package / name
        if not link.is_symlink():
            link.symlink_to(f"{CHECKOUT}/{name}")
    return {"PYTHONPATH": "/tmp/pythonpath"}


# $0 the root, $1 the checkout, $2 the scratch directory, then the command. The root is bound
# onto itself and made read-only before anything is mounted in it; /proc is the new PID
# namespace's own.
_ENTER = r"""
R=$0; SRC=$1; SCRATCH=$2; shift 2
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --rbind /sys "$R/sys"
mount -t tmpfs tmpfs "$R/run"
mount --bind "$SRC" "$R/mnt"
mount -o remount,bind,ro "$R/mnt"
mount --bind "$SCRATCH" "$R/tmp"
exec chroot "$R" "$@"
"""


def run_in_root(
    root: Path,
    checkout: Path,
    scratch: Path,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdout: int | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` chrooted into `root`, `checkout` at CHECKOUT and `scratch` at /tmp.

    The environment is ENV plus `env`, nothing of the caller's. Output is captured unless
    `stdout` is given (a file descriptor; stderr then goes there too). Does not raise on a
    non-zero exit: check `.returncode`.
    """
    full_env = {**ENV, **(env or {})}
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-ec",
            _ENTER,
            str(root),
            str(checkout),
            str(scratch),
            "env",
            "-i",
            *(f"{key}={value}" for key, value in full_env.items()),
            *argv,
        ],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT if stdout is not None else subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
