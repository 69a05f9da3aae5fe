"""The cleanup service under test: its config, its install into a private manager, a case.

Shared by the sandbox tests; the fixtures that build these live in tests/sandbox/conftest.py.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.config.model import Config
from ostree_autocleanup.generator.units.render import render_units
from support import sysroot as sr
from support.manager import UnitOutcome, UserManager

EXPOSED = "/srv/oa"
# The venv's console script: what `pip install` puts on a device's PATH, run by the venv's
# interpreter, which is Debian's python3 with PyGObject.
HELPER = Path(sys.executable).parent / "ostree-autocleanup-helper"

counter = itertools.count()


@dataclass
class Case:
    """One test's sysroot, as the host and as the service see it."""

    host: Path  # the directory holding sysroot/
    seen: str  # the same directory inside the manager's namespace
    sysroot: sr.Sysroot

    @property
    def sysroot_seen(self) -> str:
        return f"{self.seen}/sysroot"

    @property
    def stamp(self) -> Path:
        return self.sysroot.path / ".cleanup"

    def objects(self) -> int:
        return sr.repo_usage(self.sysroot.repo).objects


@dataclass(frozen=True)
class Reference:
    """What an unconfined `ostree admin cleanup` leaves of the base sysroot."""

    before: int
    after: int


def helper_unavailable() -> str | None:
    if not HELPER.exists():
        return f"{HELPER} is not installed (pip install -e .)"
    if importlib.util.find_spec("ostree_autocleanup.helper.cli") is None:
        return "the helper (ostree_autocleanup.helper.cli) is not part of this tree"
    return None


def make_config(tmp_path: Path, case: Case, mode: str, backend: str, extra: str = "") -> Config:
    """The config a device would have, pointed at the case's sysroot."""
    text = (
        f"version: 1\nsysroot: {case.sysroot_seen}\n"
        f"cleanup:\n  mode: {mode}\n  backend: {backend}\n  helper-path: {HELPER}\n"
    ) + extra
    path = tmp_path / f"config-{mode}-{backend}.yaml"
    path.write_text(text)
    return load_config([str(path)])


# Directories the rendered sandbox hides (PrivateTmp=, ProtectHome=). A checkout or venv there
# (CI may clone into /tmp) would make the helper's interpreter vanish: 203/EXEC.
_HIDDEN = ("/tmp", "/var/tmp", "/home", "/root", "/run/user")


def helper_binds() -> str:
    """Test plumbing only: a read-only view of the checkout and venv when the sandbox hides them."""
    checkout = Path(importlib.util.find_spec("ostree_autocleanup.generator").origin or "").resolve()
    places = dict.fromkeys([str(checkout.parents[1]), str(HELPER.parent.parent.resolve())])
    hidden = [p for p in places if any(p == h or p.startswith(h + "/") for h in _HIDDEN)]
    return "".join(f"BindReadOnlyPaths={p}\n" for p in hidden)


def install(manager: UserManager, config: Config, dropins: Sequence[str] = ()) -> str:
    """Install the rendered service (and test drop-ins, in order) and return its name."""
    units = render_units(config)
    for stale in Path(manager.unit_dir).glob(f"{config.unit_name}.d/[0-9]*.conf"):
        stale.unlink()
    manager.install_unit(config.unit_name, units[config.unit_name])
    binds = helper_binds()
    if binds:
        manager.install_unit(f"{config.unit_name}.d/00-test-visible.conf", "[Service]\n" + binds)
    for index, text in enumerate(dropins):
        manager.install_unit(f"{config.unit_name}.d/{index:02d}-test.conf", text)
    return config.unit_name


def run_service(manager: UserManager, config: Config, dropins: Sequence[str] = ()) -> UnitOutcome:
    return manager.start(install(manager, config, dropins))


def replace_command(*argv: str) -> str:
    """A drop-in that swaps the service's commands for argv, keeping its whole sandbox."""
    for arg in argv:
        # Kept to words systemd passes on as they are: no quoting, no $ or % expansion.
        if not arg or any(c.isspace() or c in "'\"\\$%;" for c in arg):
            raise ValueError(f"not a plain word: {arg!r}")
    return f"[Service]\nExecStart=\nExecStart={' '.join(argv)}\n"


def skip_unless_helper() -> None:
    reason = helper_unavailable()
    if reason is not None:
        pytest.skip(reason)


def which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return os.path.realpath(path)
