"""Fixtures of the end-to-end suite: one cached rootfs per platform and one wheel per session.

Every test that boots a system runs once per platform (support.platforms), its id naming it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.container import OstreeImage, cached_rootfs, unavailable_reason
from support.platforms import PLATFORMS, Platform

from .project import build_wheel
from .system import System


@pytest.fixture(scope="session", params=PLATFORMS, ids=[p.id for p in PLATFORMS])
def platform(request: pytest.FixtureRequest) -> Platform:
    value: Platform = request.param
    return value


@pytest.fixture(scope="session")
def rootfs(platform: Platform) -> Path:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"end-to-end boots skipped: {reason}")
    _interrupt_on_sigterm()
    return cached_rootfs(platform)


def _interrupt_on_sigterm() -> None:
    """A CI timeout's SIGTERM unwinds like ^C, so fixtures stop containers and unmount images.

    SIGKILL cannot be handled: containers still die with the test process through their
    parent-death signal, but a sysroot image may stay mounted under the pytest temp dir.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the working tree, or the one OSTREE_AUTOCLEANUP_E2E_WHEEL names (a release)."""
    prebuilt = os.environ.get("OSTREE_AUTOCLEANUP_E2E_WHEEL")
    if prebuilt:
        return Path(prebuilt)
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def base_image(
    platform: Platform, rootfs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OstreeImage]:
    """The platform's rootfs committed into a fresh sysroot image once; every system copies it."""
    image = OstreeImage.create(tmp_path_factory.mktemp(f"base-{platform.id}"), rootfs)
    image.unmount()
    try:
        yield image
    finally:
        image.close()


MakeSystem = Callable[..., System]


@pytest.fixture
def make_system(
    platform: Platform, rootfs: Path, base_image: OstreeImage, wheel: Path, tmp_path: Path
) -> Iterator[MakeSystem]:
    """Build test machines; every one is unmounted and deleted after the test, pass or fail."""
    systems: list[System] = []

    def make(config: str | None = None, generator: bool = False) -> System:
        system = System.create(
            tmp_path / f"system-{len(systems)}",
            rootfs,
            wheel,
            config,
            generator,
            platform,
            base_image,
        )
        systems.append(system)
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.close()
