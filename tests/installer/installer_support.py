"""Helpers shared by the installer tests: run the CLI, fingerprint a tree, ask systemctl."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ostree_autocleanup.generator.cli import main

MANIFEST = "usr/lib/ostree-autocleanup/install-manifest.json"
UNIT = "usr/lib/systemd/system/ostree-autocleanup.service"
DROPIN = "usr/lib/systemd/system/ostree-finalize-staged.service.d/50-ostree-autocleanup.conf"
PRESET = "usr/lib/systemd/system-preset/50-ostree-autocleanup.preset"
OUR_FILES = (UNIT, DROPIN, PRESET, MANIFEST)
TEMP_PREFIX = ".ostree-autocleanup-tmp."


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """Run ``ostree-autocleanup ARGV`` in this process."""
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    return Result(status, captured.out, captured.err)


# Fault injection from the test side: the product has no crash hook. Every durable step of an
# install or uninstall (a rename, a mkdir, an unlink, a written temporary file) ends with an
# fsync of the file or its directory, so killing the process right after its Nth fsync returns
# puts a power cut after each of those steps in turn.
_CRASH_AFTER_FSYNC = """\
import os, signal, sys
limit = int(sys.argv.pop(1))
calls = 0
real_fsync = os.fsync
def fsync(fd):
    global calls
    real_fsync(fd)
    calls += 1
    if calls == limit:
        os.kill(os.getpid(), signal.SIGKILL)
os.fsync = fsync
from ostree_autocleanup.generator.cli import main
sys.exit(main())
"""


def run_process(
    *argv: str,
    env: dict[str, str] | None = None,
    crash_after: int | None = None,
    cwd: str | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ostree-autocleanup ARGV`` as its own process (for the tests that kill it, read
    standard input or depend on the current directory).

    With ``crash_after=N`` the process SIGKILLs itself right after its Nth durable step.
    """
    if crash_after is None:
        command = [sys.executable, "-c", _RUN, *argv]
    else:
        command = [sys.executable, "-c", _CRASH_AFTER_FSYNC, str(crash_after), *argv]
    return subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        input=stdin if stdin is not None else "",
    )


_RUN = "import sys; from ostree_autocleanup.generator.cli import main; sys.exit(main())"


def tree_state(root: Path) -> dict[str, str]:
    """Every entry under ``root`` with its type, mode and content hash or symlink target."""
    state: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            mode = f"{stat.S_IMODE(info.st_mode):04o}"
            if stat.S_ISLNK(info.st_mode):
                state[rel] = f"link {os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = f"dir {mode}"
            else:
                with open(path, "rb") as stream:
                    digest = hashlib.sha256(stream.read()).hexdigest()
                state[rel] = f"file {mode} {digest}"
    return state


def inodes(root: Path) -> dict[str, int]:
    return {p: os.lstat(root / p).st_ino for p in OUR_FILES if os.path.lexists(root / p)}


def systemctl(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemctl", f"--root={root}", *argv], capture_output=True, text=True, check=False
    )


def is_enabled(root: Path, unit: str) -> str:
    return systemctl(root, "is-enabled", unit).stdout.strip()


GENERATOR = "usr/lib/systemd/system-generators/ostree-autocleanup-generator"


def run_installed_generator(root: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the generator `install --generator` put into ROOT as systemd runs it, into fresh
    output directories under OUT; the result and the normal directory."""
    dirs = [out / name for name in ("normal", "early", "late")]
    for directory in dirs:
        directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    env["OSTREE_AUTOCLEANUP_ROOT"] = str(root)
    generated = subprocess.run(
        [str(root / GENERATOR), *map(str, dirs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return generated, dirs[0]


def temporaries(root: Path) -> list[str]:
    return [
        os.path.join(d, n)
        for d, dirs, files in os.walk(root)
        for n in dirs + files
        if n.startswith(TEMP_PREFIX)
    ]
