"""The wheel the end-to-end tests and the demo install: built offline only by a setuptools that
can (no container needed)."""

from __future__ import annotations

import importlib.metadata

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
