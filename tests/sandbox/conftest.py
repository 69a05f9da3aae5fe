"""Fixtures for running the rendered cleanup service under a real, private systemd manager.

One manager serves the whole session. Each test gets its own copy of one staged-and-finalized
sysroot under /srv/oa/CASE, the only host directory the manager's services can see besides the
system itself (the hardened service hides /tmp and /root).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import sysroot as sr
from support.manager import UserManager, unavailable_reason, user_manager
from support.service_case import EXPOSED, Case, Reference, counter


@pytest.fixture(scope="session")
def exposed_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("sandbox-exposed")
    yield path
    sr.remove_tree(path)


@pytest.fixture(scope="session")
def manager(exposed_dir: Path) -> Iterator[UserManager]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with user_manager({EXPOSED: str(exposed_dir)}) as m:
        yield m


@pytest.fixture(scope="session")
def base_sysroot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sr.Sysroot]:
    reason = sr.staging_unavailable()
    if reason is not None:
        pytest.skip(reason)
    parent = tmp_path_factory.mktemp("sandbox-base")
    base = sr.staged_sysroot(parent / "sysroot", n_files=64)
    yield base
    sr.remove_tree(parent)


@pytest.fixture(scope="session")
def reference(base_sysroot: sr.Sysroot, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    copy = sr.copy_sysroot(base_sysroot, tmp_path_factory.mktemp("sandbox-ref") / "sysroot")
    try:
        before = sr.repo_usage(copy.repo).objects
        sr.ostree("admin", "cleanup", f"--sysroot={copy.path}")
        after = sr.repo_usage(copy.repo).objects
    finally:
        sr.remove_tree(copy.path)
    assert after < before, "the staged fixture must leave objects to clean"
    return Reference(before, after)


@pytest.fixture
def case(base_sysroot: sr.Sysroot, exposed_dir: Path, manager: UserManager) -> Iterator[Case]:
    name = f"case{next(counter)}"
    host = exposed_dir / name
    host.mkdir()
    copy = sr.copy_sysroot(base_sysroot, host / "sysroot")
    (copy.path / ".cleanup").write_text("")
    yield Case(host, f"{EXPOSED}/{name}", copy)
    sr.remove_tree(host)
