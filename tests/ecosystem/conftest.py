"""Fixtures of the ecosystem tests."""

from __future__ import annotations

import pytest

from ostree_autocleanup.generator.docs import clidoc


@pytest.fixture(params=clidoc.PROGRAMS, ids=[p.prog for p in clidoc.PROGRAMS])
def program(request: pytest.FixtureRequest) -> clidoc.Program:
    result: clidoc.Program = request.param
    return result
