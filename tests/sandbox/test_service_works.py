"""The rendered, hardened service really cleans a staged-and-finalized sysroot.

Each case starts the unit exactly as rendered (plus only an output drop-in) under a private
systemd manager running as root, so every sandbox directive applies, and checks what ostree
itself would have freed and that the stamp is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.manager import UserManager
from support.service_case import Case, Reference, make_config, run_service, skip_unless_helper

pytestmark = [pytest.mark.root, pytest.mark.manager]

MODES_AND_BACKENDS = [
    ("full", "ostree-cli"),
    ("prune", "ostree-cli"),
    ("full", "helper"),
    ("prune", "helper"),
]


@pytest.mark.parametrize(("mode", "backend"), MODES_AND_BACKENDS)
def test_hardened_service_frees_what_ostree_frees_and_clears_the_stamp(
    manager: UserManager,
    case: Case,
    reference: Reference,
    tmp_path: Path,
    mode: str,
    backend: str,
) -> None:
    if backend == "helper":
        skip_unless_helper()
    config = make_config(tmp_path, case, mode, backend)
    assert case.objects() == reference.before

    outcome = run_service(manager, config)

    assert outcome.succeeded, outcome
    assert case.objects() == reference.after, outcome.log
    assert not case.stamp.exists()
    if backend == "helper":
        # The helper ran its libostree path, under MemoryDenyWriteExecute=yes, not the CLI.
        assert "falling back" not in outcome.log
        assert "freed" in outcome.log
        # Paced by default: the fork, the stops and syncfs() pass the sandbox.
        assert "pacing:" in outcome.log, outcome.log


def test_without_the_stamp_the_service_does_nothing(
    manager: UserManager, case: Case, reference: Reference, tmp_path: Path
) -> None:
    config = make_config(tmp_path, case, "full", "ostree-cli")
    case.stamp.unlink()

    outcome = run_service(manager, config)

    assert outcome.result == "success"
    assert outcome.log == ""
    assert case.objects() == reference.before
