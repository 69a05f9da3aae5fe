"""install as typed: a config on standard input, and a dry run that needs no systemctl."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from installer_support import UNIT, run_cli, run_process, tree_state

SHIPPED = "usr/lib/ostree-autocleanup/config.yaml"
CONFIG = "# piped in\nversion: 1\nname: piped\ncleanup:\n  timeout: 7min\n"


@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
def test_install_generator_ships_the_bytes_it_read_from_standard_input(
    bare_root: Path, source: str
) -> None:
    result = run_process(
        "install",
        "--generator",
        "--no-enable",
        "--root",
        str(bare_root),
        "-c",
        source,
        stdin=CONFIG,
    )
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    assert (bare_root / SHIPPED).read_text() == CONFIG
    archive = (bare_root / "usr/lib/ostree-autocleanup/generator/units.tar").read_bytes()
    assert b"piped-autocleanup.service" in archive and b"TimeoutStartSec=7min" in archive


def test_install_reads_standard_input_for_static_units(bare_root: Path) -> None:
    result = run_process(
        "install", "--no-enable", "--root", str(bare_root), "-c", "-", stdin=CONFIG
    )
    assert result.returncode == 0, result.stderr
    unit = bare_root / "usr/lib/systemd/system/piped-autocleanup.service"
    assert "TimeoutStartSec=7min" in unit.read_text()
    assert "#   <stdin>" in unit.read_text()


def test_dry_run_without_systemctl_says_what_enabling_would_do(
    image_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_state(image_root)
    monkeypatch.setenv("PATH", str(image_root / "nothing-here"))
    result = run_cli(capsys, "install", "--root", str(image_root), "--dry-run")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert f"would create {image_root / UNIT} (mode 0644)" in lines
    assert any("systemctl is not installed here" in line for line in lines)
    wants = image_root / "etc/systemd/system/multi-user.target.wants"
    # What preset would link, from the [Install] sections: ours as rendered, ostree's path
    # unit from the root.
    assert f"  which links {wants}/ostree-autocleanup.service -> ostree-autocleanup.service" in (
        lines
    )
    path_unit = "ostree-finalize-staged.path"
    assert f"  which links {wants}/{path_unit} -> {path_unit}" in lines
    assert tree_state(image_root) == before
    # The install itself still needs systemctl, and says so before writing anything.
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 1 and "systemctl not found" in result.err
    assert tree_state(image_root) == before


def test_dry_run_with_systemctl_names_the_command(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "install", "--root", str(image_root), "--dry-run")
    assert result.status == 0, result.err
    run_line = [line for line in result.out.splitlines() if line.startswith("would run ")]
    assert len(run_line) == 1
    assert run_line[0].endswith(
        f"systemctl --root={image_root} preset ostree-autocleanup.service "
        "ostree-finalize-staged.path"
    )
    assert os.path.isfile(run_line[0].split()[2])
