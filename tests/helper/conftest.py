"""Fixtures of the helper tests: scratch directories that hold real, immutable sysroots."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import sysroot as sr


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
