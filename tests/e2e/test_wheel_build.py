"""The wheel the end-to-end tests and the demo install: built offline only by a setuptools that
can (no container needed)."""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import zipfile
from pathlib import Path

import pytest

from . import project


@pytest.mark.parametrize(
    ("setuptools", "offline"),
    [
        ("66.1.1", False),  # what Debian 12's python3-venv seeds into a new venv
        ("76.1.0", False),
        ("77.0.0", True),  # the first that reads an SPDX license expression
        ("80.9.0", True),
    ],
)
def test_builds_offline_only_with_a_setuptools_new_enough(
    monkeypatch: pytest.MonkeyPatch, setuptools: str, offline: bool
) -> None:
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        return setuptools if name == "setuptools" else real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert project._can_build_offline() is offline


def _modules_of_checkout() -> set[str]:
    """The installed name of every module the wheel must carry."""
    names = set()
    for package, directory in (("generator", "generator"), ("helper", "helper")):
        for path in (project.REPO_ROOT / directory).rglob("*.py"):
            relative = path.relative_to(project.REPO_ROOT / directory).as_posix()
            names.add(f"ostree_autocleanup/{package}/{relative}")
    return names


def test_builds_side_by_side_give_whole_wheels(tmp_path: Path) -> None:
    # The end-to-end groups of both platforms build their wheels at the same moment; a build
    # that stages in the shared checkout loses files to the other (a wheel without
    # generator/install/install.py failed every boot test that ran the CLI).
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(project.build_wheel, tmp_path / f"wheel-{n}") for n in range(3)]
        wheels = [future.result() for future in futures]
    wanted = _modules_of_checkout()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            missing = wanted - set(archive.namelist())
        assert not missing, f"{wheel} lacks {sorted(missing)}"
