"""`--version` of all three installed commands reports the version in pyproject.toml.

The generator and the helper parse their argv by hand; this test runs their real console
scripts, so it holds them to the same output as the argparse-based main command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ostree_autocleanup.generator.docs import clidoc
from ostree_autocleanup.helper.version import VERSION

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def project_version() -> str:
    match = re.search(
        r'^\[project\]$.*?^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.M | re.S
    )
    assert match, "no [project] version in pyproject.toml"
    return match.group(1)


def test_package_version_is_the_project_version() -> None:
    assert project_version() == VERSION


@pytest.mark.parametrize("prog", [p.prog for p in clidoc.PROGRAMS])
def test_version_flag(prog: str) -> None:
    script = Path(sys.executable).parent / prog
    # The project's install makes every console script; a missing one is the bug under test.
    assert script.exists(), f"{prog} is not installed next to {sys.executable} (pip install -e .)"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{prog} {project_version()}\n"
    assert result.stderr == ""


def test_changelog_describes_this_version() -> None:
    text = (PYPROJECT.parent / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert releases, "CHANGELOG.md has no release headings (## [X.Y.Z] - YYYY-MM-DD)"
    newest = next(version for version, _ in releases if version != "Unreleased")
    assert newest == project_version(), "CHANGELOG.md's newest release is not pyproject's version"
    for version, date in releases:
        if version != "Unreleased":
            assert date, f"release {version} has no date"
            assert re.search(rf"^\[{re.escape(version)}\]: \S+$", text, re.M), (
                f"no link for {version}"
            )
    section = text.split(f"## [{newest}]", 1)[1].split("\n## ", 1)[0]
    assert "### Added" in section
