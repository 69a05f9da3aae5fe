"""scheduling.delay: the installer ships the timer, the preset enables it instead of the service,
and uninstall (or a config without a delay) takes all of it back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from installer_support import (
    MANIFEST,
    UNIT,
    is_enabled,
    run_cli,
    run_installed_generator,
    systemctl,
    tree_state,
)

TIMER = "usr/lib/systemd/system/ostree-autocleanup.timer"
WANTS = "etc/systemd/system/multi-user.target.wants"


@pytest.fixture
def delay_config(tmp_path: Path) -> Path:
    path = tmp_path / "delay.yaml"
    path.write_text("version: 1\nscheduling:\n  delay: 5min\n")
    return path


def test_the_timer_is_installed_enabled_and_uninstalled(
    image_root: Path, delay_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    args = ("install", "--root", str(image_root), "-c", str(delay_config))
    listed = run_cli(capsys, *args, "--list-files")
    assert listed.status == 0, listed.err
    assert {"/" + TIMER, "/" + UNIT} <= set(listed.out.splitlines())

    result = run_cli(capsys, *args)
    assert result.status == 0, result.err
    assert "OnBootSec=5min\n" in (image_root / TIMER).read_text()
    assert is_enabled(image_root, "ostree-autocleanup.timer") == "enabled"
    # The target pulls in the timer only: the service waits for it.
    assert is_enabled(image_root, "ostree-autocleanup.service") == "static"
    assert os.readlink(image_root / WANTS / "ostree-autocleanup.timer").endswith(
        "/ostree-autocleanup.timer"
    )
    assert not os.path.lexists(image_root / WANTS / "ostree-autocleanup.service")
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert manifest["units"] == ["ostree-autocleanup.timer", "ostree-finalize-staged.path"]
    assert "/" + TIMER in {"/" + f["path"] for f in manifest["files"]}
    # What systemctl would pull in at boot, from the image's own unit files.
    wants = systemctl(image_root, "show", "-p", "Wants", "multi-user.target")
    assert "ostree-autocleanup.service" not in wants.stdout

    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_dropping_the_delay_removes_the_timer_and_enables_the_service(
    image_root: Path, delay_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    assert (
        run_cli(capsys, "install", "--root", str(image_root), "-c", str(delay_config)).status == 0
    )
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 0, result.err
    assert not (image_root / TIMER).exists()
    assert not os.path.lexists(image_root / WANTS / "ostree-autocleanup.timer")
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"
    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_the_generator_writes_the_timer_and_links_it_instead_of_the_service(
    image_root: Path, delay_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("install", "--generator", "--root", str(image_root), "-c", str(delay_config))
    result = run_cli(capsys, *args)
    assert result.status == 0, result.err
    assert not (image_root / TIMER).exists()  # generated at boot, not shipped
    generated, normal = run_installed_generator(image_root, tmp_path / "out")
    assert (generated.returncode, generated.stderr) == (0, "")
    assert "OnBootSec=5min\n" in (normal / "ostree-autocleanup.timer").read_text()
    assert "\nWantedBy=" not in (normal / "ostree-autocleanup.service").read_text()
    wants = sorted(os.listdir(normal / "multi-user.target.wants"))
    assert wants == ["ostree-autocleanup.timer"]
    assert os.readlink(normal / "multi-user.target.wants/ostree-autocleanup.timer") == (
        "../ostree-autocleanup.timer"
    )
