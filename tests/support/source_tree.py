"""A private copy of the checkout to build from.

setuptools stages a wheel under the source's build/ and removes that directory when it is done,
and the build backend replaces build/share each time; two builds in one checkout at once (CI
runs its test groups side by side, and several of them build) take files out of each other's
wheels. Every test that builds copies the tree first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]

# What a build never reads: version control, environments, caches, earlier builds' output and
# the tests (pyproject's package list and MANIFEST.in name everything the wheel and sdist hold).
_NOT_BUILT_FROM = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    ".hypothesis",
    ".mutation",
    "tests",
)


def copy_for_build(target: Path) -> Path:
    """The checkout's sources copied to ``target`` (which must not exist yet); ``target``."""
    shutil.copytree(CHECKOUT, target, ignore=_NOT_BUILT_FROM, symlinks=True)
    return target
