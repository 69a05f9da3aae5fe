"""A fresh, minimal Debian 12 (debootstrap's minbase, nothing added) to run commands in as root.

The root is built once per recipe into the same cache as the end-to-end rootfs, keyed the same
way, and never changed afterwards: every run gets a copy-on-write overlay of it, in a mount
namespace of its own, so the mounts vanish with the run, whatever happens to it. The command
runs under systemd-nspawn as root with the host's network, as on a machine just installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path

from support import cgroups
from support.container import (
    SUITE,
    cached_tree,
    debootstrap,
)

VARIANT = "minbase"
# Bump when the way the root is made changes: the cache key includes it.
RECIPE_VERSION = 1
# Where the host's CA bundle appears inside, for pip (see run_as_root).
HOST_CA = "/run/host-ca-certificates.crt"


def root_key() -> str:
    recipe = {"suite": SUITE, "variant": VARIANT, "packages": [], "recipe": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_root() -> Path:
    """The pristine minbase root, debootstrapped on first use (about a minute) and then reused."""
    return cached_tree(f"fresh-{SUITE}-{root_key()}", lambda target: debootstrap(target, SUITE))


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts.

    A network that intercepts TLS (a proxy with a CA of its own, added to this host's trust
    store) would make pip in a freshly installed root fail on certificates that have nothing to
    do with the project; pip inside is pointed at the host's bundle instead.
    """
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().openssl_cafile,
    ):
        if candidate and os.path.isfile(candidate):
            return Path(candidate).resolve()
    return None


def run_as_root(
    root: Path,
    scratch: Path,
    command: Sequence[str],
    chdir: str = "/root",
    timeout: float = 1200.0,
) -> subprocess.CompletedProcess[str]:
    """Run command as root in a copy-on-write view of root, with the host's network.

    What the command changes lands in scratch/upper and stays there for the next call with the
    same scratch, so a test can run one command and then inspect what it left.
    """
    upper, work, merged = scratch / "upper", scratch / "work", scratch / "merged"
    for path in (upper, work, merged):
        path.mkdir(parents=True, exist_ok=True)
    nspawn = [
        "systemd-nspawn",
        "--register=no",
        "--keep-unit",
        "--quiet",
        "--as-pid2",
        "--console=pipe",
        f"--machine=fresh-{os.getpid()}",
        f"--directory={merged}",
        f"--chdir={chdir}",
    ]
    ca_bundle = host_ca_bundle()
    if ca_bundle is not None:
        nspawn += [f"--bind-ro={ca_bundle}:{HOST_CA}", f"--setenv=PIP_CERT={HOST_CA}"]
    # nspawn wants a /run/systemd of its own when the host's PID 1 is not systemd.
    script = (
        "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && "
        f"mount -t overlay overlay -o lowerdir={root},upperdir={upper},workdir={work} "
        f'{merged} && exec "$@"'
    )
    # A cgroup of its own, away from the containers other tests boot meanwhile.
    own = cgroups.create(f"oa-fresh-{os.getpid()}-{scratch.name}")
    process = subprocess.Popen(
        [
            "setpriv",
            "--pdeathsig",
            "KILL",
            "--",
            *cgroups.enter(own),
            "unshare",
            "-m",
            "-p",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            *nspawn,
            *command,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        # The whole namespace dies with its first process: nothing of the run survives.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    finally:
        for cgroup in own:
            cgroups.remove(cgroup)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
