"""Fixtures of the helper tests: scratch directories that hold real, immutable sysroots."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import sysroot as sr
from support.platform_root import running_platform_id


@pytest.fixture(autouse=True, scope="session", params=[running_platform_id()])
def platform_id(request: pytest.FixtureRequest) -> str:
    """Every helper test's id names the platform it ran on: `[debian12]` on a Debian 12 host,
    `[debian13]` when tests/platforms runs these files again inside a Debian 13 root."""
    result: str = request.param
    return result


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch directory removed at the end even when it holds immutable deployment roots."""
    path = Path(tempfile.mkdtemp(prefix="oac-helper-", dir=os.environ.get("OAC_TEST_TMP")))
    try:
        yield path
    finally:
        sr.remove_tree(path)


@pytest.fixture(scope="session")
def fixtures_dir() -> Iterator[Path]:
    """Sysroots built once per session; tests copy them (`cp -a`) and never change them."""
    path = Path(tempfile.mkdtemp(prefix="oac-helper-fixtures-"))
    try:
        yield path
    finally:
        sr.remove_tree(path)


@pytest.fixture
def fds() -> Iterator[None]:
    """The test leaves no descriptor open."""
    before = set(os.listdir("/proc/self/fd"))
    yield
    assert set(os.listdir("/proc/self/fd")) <= before
