"""``ostree-autocleanup verify --root`` of a Debian 13 root: the drop-in is checked against that
root's real ``ostree-finalize-staged.service`` (ostree 2025.2's, which starts finalization
itself and wants ``ostree-finalize-staged-hold.service``), by this machine's systemd-analyze
(252) and by Debian 13's own (257, run inside that root through ``chroot``), for every mode
and backend. The root is the cached Debian 13 root of support.systemd_eras.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest

from ostree_autocleanup.generator.cli import main
from support.systemd_eras import Era, eras

pytestmark = pytest.mark.root

FINALIZE = "usr/lib/systemd/system/ostree-finalize-staged.service"
SCORES = {("full", "helper"): 1.0, ("full", "ostree-cli"): 1.4}


@pytest.fixture
def debian_13() -> Era:
    _id, era, why = eras()[1]
    if era is None:
        pytest.skip(why)
    return era


@pytest.mark.parametrize("analyze", ["systemd-252", "systemd-257"])
@pytest.mark.parametrize(
    ("mode", "backend"), list(itertools.product(("full", "prune"), ("helper", "ostree-cli")))
)
def test_verify_checks_the_drop_in_against_debian_13s_finalize_unit(
    debian_13: Era,
    analyze: str,
    mode: str,
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = debian_13.base
    assert "ExecStop=/usr/bin/ostree admin finalize-staged" in (base / FINALIZE).read_text()
    calls = tmp_path / "systemd-analyze-calls"
    if analyze == "systemd-257":
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        debian_13.put_on_path(bin_dir, "systemd-analyze", calls)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        # verify's scratch root must lie where the chroot'ed systemd-analyze sees it.
        monkeypatch.setattr(tempfile, "tempdir", str(base / "tmp"))
    config = tmp_path / "config.yaml"
    # A helper path that exists in that root: verify looks for every program the units run.
    config.write_text(
        f"version: 1\ncleanup:\n  mode: {mode}\n  backend: {backend}\n"
        "  helper-path: /usr/bin/true\n"
    )
    capsys.readouterr()
    status = main(["verify", "-c", str(config), "--root", str(base)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert f"note: drop-in checked against {base / FINALIZE}\n" in out
    score = SCORES.get((mode, backend), 0.5)
    assert f"  exposure: {score} " in out, out
    if analyze == "systemd-257":  # it was 257 that verified and scored the units
        assert [line.split()[0] for line in calls.read_text().splitlines()] == [
            "verify",
            "security",
        ]
