"""The README's first command, verbatim, as root in a freshly installed minimal Debian 12.

The root is debootstrap's minbase and nothing more (no sudo, no Python), the checkout is the
project's sdist unpacked in /root, and the command is read from README.md, so a README that
stops working on a new machine fails here. It reaches Debian's and PyPI's registries.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import fresh_debian, readme
from support.container import debian_mirror, unavailable_reason
from support.source_tree import copy_for_build

from .project import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

CHECKOUT = "/root/ostree-autocleanup"
# What the README's venv must reach besides the project: libostree for the helper, pystemd for
# `status` (both Debian packages, seen through --system-site-packages).
RUNTIME_CHECK = (
    "import gi, pystemd.systemd1; gi.require_version('OSTree', '1.0'); "
    "from gi.repository import OSTree; OSTree.Sysroot.new_default(); print('runtime ok')"
)


def unreachable_registry() -> str | None:
    """Which registry the machine cannot reach, or None."""
    mirror = urlsplit(debian_mirror())
    for host, port in (
        (mirror.hostname or "deb.debian.org", mirror.port or 80),
        ("pypi.org", 443),
    ):
        try:
            socket.create_connection((host, port), timeout=10).close()
        except OSError as e:
            return f"{host}:{port} ({e})"
    return None


def build_sdist(outdir: Path) -> Path:
    """The project's sdist, built by the test environment's setuptools, without isolation."""
    source = copy_for_build(outdir.parent / "source")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(outdir)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sdist,) = outdir.glob("ostree_autocleanup-*.tar.gz")
    return sdist


def unpack_as_checkout(sdist: Path, upper: Path) -> None:
    """The sdist's tree as /root/ostree-autocleanup, written into the overlay's upper layer."""
    home = upper / CHECKOUT.lstrip("/")
    home.parent.mkdir(parents=True)
    os.chmod(home.parent, 0o700)  # /root as Debian makes it
    with tarfile.open(sdist) as archive:
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(home.parent, **extra)  # type: ignore[arg-type]
    (top,) = [p for p in home.parent.iterdir() if p.name.startswith("ostree_autocleanup-")]
    top.rename(home)


@pytest.fixture(scope="module")
def minimal_root() -> Path:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"a fresh Debian root needs what the end-to-end boots need: {reason}")
    unreachable = unreachable_registry()
    if unreachable is not None:
        pytest.skip(f"the README's command downloads packages; cannot reach {unreachable}")
    return fresh_debian.cached_root()


def test_readme_first_command_runs_verbatim_in_a_fresh_minimal_debian(
    minimal_root: Path, tmp_path: Path
) -> None:
    command = readme.first_command()
    scratch = tmp_path / "root"
    unpack_as_checkout(build_sdist(tmp_path / "sdist"), scratch / "upper")
    assert not (minimal_root / "usr" / "bin" / "sudo").exists()
    assert not (minimal_root / "usr" / "bin" / "python3").exists()

    started = time.monotonic()
    result = fresh_debian.run_as_root(
        minimal_root, scratch, ["bash", "-c", command], chdir=CHECKOUT
    )
    seconds = time.monotonic() - started
    output = f"after {seconds:.0f}s:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, output
    # The rendered units of the embedded default, exactly what this checkout renders here.
    expected = run_cli(["render"])
    assert expected.returncode == 0, expected.stderr
    assert "[Service]\n" in expected.stdout
    assert result.stdout.endswith(expected.stdout), output

    check = fresh_debian.run_as_root(
        minimal_root, scratch, [".venv/bin/python", "-c", RUNTIME_CHECK], chdir=CHECKOUT
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("runtime ok"), check.stdout

    # No system bus in here (no systemd running): `status` says so in one line, with pystemd
    # found, not "internal error: ModuleNotFoundError".
    status = fresh_debian.run_as_root(
        minimal_root, scratch, [".venv/bin/ostree-autocleanup", "status"], chdir=CHECKOUT
    )
    assert status.returncode == 1, status.stdout + status.stderr
    assert len(status.stderr.strip().splitlines()) == 1, status.stderr
    assert "bus" in status.stderr and "pystemd" not in status.stderr, status.stderr
