"""install --generator: the generator and the config instead of static units."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from installer_support import (
    MANIFEST,
    UNIT,
    is_enabled,
    run_cli,
    run_installed_generator,
    tree_state,
)

GENERATOR = "usr/lib/systemd/system-generators/ostree-autocleanup-generator"
SHIPPED_CONFIG = "usr/lib/ostree-autocleanup/config.yaml"
PYTHON_GENERATOR = "ostree_autocleanup.generator.boot.main"


def test_generator_mode_installs_generator_and_config_and_uninstalls_cleanly(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    listed = run_cli(
        capsys,
        "install",
        "--generator",
        "--root",
        str(image_root),
        "-c",
        str(other_config),
        "--list-files",
    )
    assert listed.status == 0, listed.err
    assert "/" + GENERATOR in listed.out.splitlines()
    assert "/" + SHIPPED_CONFIG in listed.out.splitlines()
    assert "/" + UNIT not in listed.out.splitlines()

    result = run_cli(
        capsys, "install", "--generator", "--root", str(image_root), "-c", str(other_config)
    )
    assert result.status == 0, result.err
    generator = image_root / GENERATOR
    assert stat.S_IMODE(os.lstat(generator).st_mode) == 0o755
    assert (image_root / SHIPPED_CONFIG).read_bytes() == other_config.read_bytes()
    assert not (image_root / UNIT).exists()
    # What is really on disk now, against what --list-files promised (a package's file list):
    # every new file is listed, every listed file is new, nothing that was there changed.
    after = tree_state(image_root)
    new_files = sorted("/" + p for p, what in after.items() if p not in before and "file" in what)
    assert new_files == sorted(listed.out.splitlines())
    assert [p for p in before if after.get(p) != before[p]] == []
    # Generated units cannot be enabled; the path unit of this ostree still must be.
    assert is_enabled(image_root, "ostree-finalize-staged.path") == "enabled"
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert manifest["kind"] == "generator"
    assert manifest["units"] == ["ostree-finalize-staged.path"]

    again = run_cli(
        capsys, "install", "--generator", "--root", str(image_root), "-c", str(other_config)
    )
    assert "nothing to do" in again.out

    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_switching_from_static_units_to_the_generator_removes_the_units(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"
    result = run_cli(capsys, "install", "--generator", "--root", str(image_root))
    assert result.status == 0, result.err
    assert f"removed {image_root / UNIT}" in result.out
    assert not (image_root / UNIT).exists()
    assert not (
        image_root / "etc/systemd/system/multi-user.target.wants/ostree-autocleanup.service"
    ).is_symlink()
    assert (image_root / GENERATOR).is_file()
    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_the_installed_generator_runs_and_makes_the_configured_unit(
    image_root: Path, other_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "install", "--generator", "--root", str(image_root), "-c", str(other_config)
    )
    assert result.status == 0, result.err
    generated, normal = run_installed_generator(image_root, tmp_path / "out")
    assert generated.returncode == 0, generated.stderr
    unit = normal / "ostree-autocleanup.service"
    assert "TimeoutStartSec=10min" in unit.read_text()
    assert (normal / "multi-user.target.wants/ostree-autocleanup.service").is_symlink()
    assert (normal / "ostree-finalize-staged.service.d/50-ostree-autocleanup.conf").is_file()


def test_a_hundred_and_twenty_config_files_enable_the_unit_the_generator_writes(
    image_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Drop-ins ship with numbered names; at 100 and more the numbers must still sort in the
    order the files were given, or the generator applies them in another order at boot and
    makes a unit the preset does not enable."""
    args = []
    for index in range(120):
        path = tmp_path / f"part-{index}.yaml"
        path.write_text(f"version: 1\nname: n{index}\n")
        args += ["-c", str(path)]
    result = run_cli(capsys, "install", "--generator", "--root", str(image_root), *args)
    assert result.status == 0, result.err
    preset = (image_root / "usr/lib/systemd/system-preset/50-n119-autocleanup.preset").read_text()
    assert "enable n119-autocleanup.service" in preset

    dirs = [tmp_path / "out" / name for name in ("normal", "early", "late")]
    for directory in dirs:
        directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    env["OSTREE_AUTOCLEANUP_ROOT"] = str(image_root)
    for command in ([str(image_root / GENERATOR)], [sys.executable, "-m", PYTHON_GENERATOR]):
        for directory in dirs:
            for entry in directory.iterdir():
                subprocess.run(["rm", "-rf", str(entry)], check=True)
        generated = subprocess.run(
            [*command, *map(str, dirs)], capture_output=True, text=True, env=env, check=False
        )
        assert generated.returncode == 0, generated.stderr
        assert sorted(os.listdir(dirs[0])) == [
            "multi-user.target.wants",
            "n119-autocleanup.service",
            "ostree-finalize-staged.service.d",
        ]


def test_generator_mode_in_a_root_whose_ostree_has_no_path_unit(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ostree 2025.2's units: the finalize service without the path unit. path-unit: auto
    # leaves the path unit out of the preset, while the config shipped for the generator stays
    # the one validated (auto), so the boot renders what was checked.
    (image_root / "usr/lib/systemd/system/ostree-finalize-staged.path").unlink()
    result = run_cli(capsys, "install", "--generator", "--root", str(image_root))
    assert result.status == 0, result.err
    preset = image_root / "usr/lib/systemd/system-preset/50-ostree-autocleanup.preset"
    assert "ostree-finalize-staged.path" not in preset.read_text()
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert manifest["units"] == []
