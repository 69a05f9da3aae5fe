"""Fixtures of the end-to-end suite: one cached rootfs and one wheel per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.container import cached_rootfs, unavailable_reason

from .project import build_wheel
from .system import System


@pytest.fixture(scope="session")
def rootfs() -> Path:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"end-to-end boots skipped: {reason}")
    return cached_rootfs()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


MakeSystem = Callable[..., System]


@pytest.fixture
def make_system(rootfs: Path, wheel: Path, tmp_path: Path) -> Iterator[MakeSystem]:
    """Build test machines; every one is unmounted and deleted after the test, pass or fail."""
    systems: list[System] = []

    def make(config: str | None = None, generator: bool = False) -> System:
        system = System.create(
            tmp_path / f"system-{len(systems)}", rootfs, wheel, config, generator
        )
        systems.append(system)
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.close()
