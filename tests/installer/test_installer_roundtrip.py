"""install / uninstall against a root with the real systemd and ostree units and real systemctl."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from installer_support import (
    DROPIN,
    MANIFEST,
    PRESET,
    UNIT,
    inodes,
    is_enabled,
    run_cli,
    systemctl,
    tree_state,
)

WANTS = "etc/systemd/system/multi-user.target.wants"


def test_install_enables_our_units_and_preset_all_keeps_them(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 0, result.err
    for path in (UNIT, DROPIN, PRESET, MANIFEST):
        assert (image_root / path).is_file(), path
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"
    # Debian 12's ostree still ships the path unit: it must be enabled along.
    assert is_enabled(image_root, "ostree-finalize-staged.path") == "enabled"
    assert systemctl(image_root, "preset-all").returncode == 0
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"
    assert is_enabled(image_root, "ostree-finalize-staged.path") == "enabled"
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert manifest["complete"] is True
    assert {f["path"] for f in manifest["files"]} == {UNIT, DROPIN, PRESET}
    assert {link["path"] for link in manifest["links"]} == {
        f"{WANTS}/ostree-autocleanup.service",
        f"{WANTS}/ostree-finalize-staged.path",
    }


def test_uninstall_leaves_the_tree_byte_identical(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    assert tree_state(image_root) != before
    result = run_cli(capsys, "uninstall", "--root", str(image_root))
    assert result.status == 0, result.err
    assert tree_state(image_root) == before
    assert is_enabled(image_root, "ostree-autocleanup.service") != "enabled"


def test_uninstall_keeps_what_was_there_before(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The path unit enabled by ostree-boot's postinst, and /usr/lib/ostree-autocleanup made by
    # someone else, must both survive an install/uninstall cycle.
    assert systemctl(image_root, "enable", "ostree-finalize-staged.path").returncode == 0
    (image_root / "usr/lib/ostree-autocleanup/config.d").mkdir(parents=True)
    before = tree_state(image_root)
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert f"{WANTS}/ostree-finalize-staged.path" not in {x["path"] for x in manifest["links"]}
    assert "usr/lib/ostree-autocleanup" not in manifest["directories"]
    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before
    assert is_enabled(image_root, "ostree-finalize-staged.path") == "enabled"


def test_rerun_writes_nothing_and_says_so(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    state, numbers = tree_state(image_root), inodes(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 0
    assert "nothing to do" in result.out
    # Every write is a rename of a new inode: unchanged inodes prove nothing was rewritten.
    assert inodes(image_root) == numbers
    assert tree_state(image_root) == state


def test_changed_config_replaces_only_what_differs(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same config file, new content: the generated headers (which name the file) stay the same.
    assert (
        run_cli(capsys, "install", "--root", str(image_root), "-c", str(other_config)).status == 0
    )
    numbers = inodes(image_root)
    other_config.write_text("version: 1\ncleanup:\n  timeout: 20min\n")
    result = run_cli(capsys, "install", "--root", str(image_root), "-c", str(other_config))
    assert result.status == 0, result.err
    assert f"replaced {image_root / UNIT}" in result.out
    assert f"replaced {image_root / PRESET}" not in result.out
    assert "TimeoutStartSec=20min" in (image_root / UNIT).read_text()
    after = inodes(image_root)
    assert after[UNIT] != numbers[UNIT]
    assert after[PRESET] == numbers[PRESET]


def test_dry_run_prints_a_diff_and_changes_nothing(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = run_cli(capsys, "install", "--root", str(image_root), "--dry-run")
    assert fresh.status == 0
    assert f"would create {image_root / UNIT} (mode 0644)" in fresh.out
    assert "preset ostree-autocleanup.service ostree-finalize-staged.path" in fresh.out
    assert not (image_root / UNIT).exists()
    assert not (image_root / "etc/systemd").exists()

    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    state = tree_state(image_root)
    result = run_cli(
        capsys, "install", "--root", str(image_root), "-c", str(other_config), "--dry-run"
    )
    assert result.status == 0
    assert f"would replace {image_root / UNIT}" in result.out
    assert f"--- {image_root / UNIT}" in result.out
    assert "-TimeoutStartSec=30min" in result.out
    assert "+TimeoutStartSec=10min" in result.out
    assert "would run" not in result.out  # already enabled
    assert tree_state(image_root) == state

    gone = run_cli(capsys, "uninstall", "--root", str(image_root), "--dry-run")
    assert gone.status == 0
    assert f"would remove {image_root / UNIT}" in gone.out
    assert f"would remove {image_root / MANIFEST}" in gone.out
    assert tree_state(image_root) == state


def test_list_files_names_image_paths_and_writes_nothing(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "install", "--root", str(bare_root), "--list-files")
    assert result.status == 0
    assert result.out.splitlines() == sorted("/" + p for p in (UNIT, DROPIN, PRESET, MANIFEST))
    assert os.listdir(bare_root) == []
    result = run_cli(capsys, "install", "--root", str(bare_root), "--list-files", "--no-enable")
    assert "/" + PRESET not in result.out.splitlines()
    assert "/" + UNIT in result.out.splitlines()


def test_list_files_matches_what_a_destdir_install_writes(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = run_cli(capsys, "install", "--root", str(bare_root), "--list-files", "--no-enable")
    assert run_cli(capsys, "install", "--root", str(bare_root), "--no-enable").status == 0
    written = sorted(
        "/" + os.path.relpath(os.path.join(d, f), bare_root)
        for d, _, files in os.walk(bare_root)
        for f in files
    )
    assert listed.out.splitlines() == written


def test_no_enable_leaves_out_preset_and_links(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "install", "--root", str(image_root), "--no-enable")
    assert result.status == 0, result.err
    assert not (image_root / PRESET).exists()
    assert not (image_root / "etc/systemd").exists()
    assert is_enabled(image_root, "ostree-autocleanup.service") == "disabled"


def test_missing_systemctl_is_a_clear_error_before_any_write(
    image_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_state(image_root)
    monkeypatch.setenv("PATH", str(image_root / "nothing-here"))
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 1
    assert "systemctl not found" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert tree_state(image_root) == before
    # --no-enable needs no systemctl.
    assert run_cli(capsys, "install", "--root", str(image_root), "--no-enable").status == 0


def test_path_unit_is_skipped_where_ostree_no_longer_ships_it(
    image_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (image_root / "usr/lib/systemd/system/ostree-finalize-staged.path").unlink()
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 0, result.err
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"
    manifest = json.loads((image_root / MANIFEST).read_text())
    assert manifest["units"] == ["ostree-autocleanup.service"]

    insist = tmp_path / "yes.yaml"
    insist.write_text("version: 1\nfinalize:\n  path-unit: 'yes'\n")
    state = tree_state(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root), "-c", str(insist))
    assert result.status == 1
    assert "ostree-finalize-staged.path" in result.err
    assert tree_state(image_root) == state


def test_renamed_units_replace_the_old_ones(
    image_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_state(image_root)
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text("version: 1\nname: myos\n")
    result = run_cli(capsys, "install", "--root", str(image_root), "-c", str(renamed))
    assert result.status == 0, result.err
    assert not (image_root / UNIT).exists()
    assert not (image_root / WANTS / "ostree-autocleanup.service").is_symlink()
    assert is_enabled(image_root, "myos-autocleanup.service") == "enabled"
    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_foreign_file_needs_force(image_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image_root / UNIT).write_text("[Unit]\nDescription=someone else's\n")
    before = tree_state(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 1
    assert f"{image_root / UNIT} exists and was not installed by us" in result.err
    assert "--force" in result.err
    assert tree_state(image_root) == before
    result = run_cli(capsys, "install", "--root", str(image_root), "--force")
    assert result.status == 0, result.err
    assert "someone else's" not in (image_root / UNIT).read_text()


def test_identical_foreign_file_is_kept_and_not_claimed(
    bare_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = tmp_path / "rendered"
    assert run_cli(capsys, "render", "--output", str(rendered)).status == 0
    (bare_root / UNIT).parent.mkdir(parents=True)
    (bare_root / UNIT).write_bytes((rendered / UNIT).read_bytes())
    assert run_cli(capsys, "install", "--root", str(bare_root), "--no-enable").status == 0
    assert run_cli(capsys, "uninstall", "--root", str(bare_root)).status == 0
    assert (bare_root / UNIT).read_bytes() == (rendered / UNIT).read_bytes()


def test_locally_changed_file_is_not_replaced_or_removed_without_force(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "install", "--root", str(image_root)).status == 0
    with open(image_root / UNIT, "a") as stream:
        stream.write("# local change\n")
    state = tree_state(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root), "-c", str(other_config))
    assert result.status == 1
    assert "was changed after it was installed" in result.err
    result = run_cli(capsys, "uninstall", "--root", str(image_root))
    assert result.status == 1
    assert "was changed after it was installed" in result.err
    assert tree_state(image_root) == state
    assert run_cli(capsys, "uninstall", "--root", str(image_root), "--force").status == 0
    assert not (image_root / UNIT).exists()
    assert not (image_root / MANIFEST).exists()


def test_bad_config_is_exit_2_and_writes_nothing(
    bare_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncleanup:\n  mode: everything\n")
    result = run_cli(capsys, "install", "--root", str(bare_root), "-c", str(bad))
    assert result.status == 2
    assert result.err.startswith(f"{bad}:3:")
    assert os.listdir(bare_root) == []


def test_uninstall_without_manifest_says_so(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "uninstall", "--root", str(bare_root))
    assert result.status == 0
    assert "nothing to uninstall" in result.out


def test_damaged_manifest_is_a_one_line_error(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "install", "--root", str(bare_root), "--no-enable").status == 0
    (bare_root / MANIFEST).write_text("{not json")
    result = run_cli(capsys, "uninstall", "--root", str(bare_root))
    assert result.status == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "manifest" in result.err
    assert (bare_root / UNIT).exists()


def test_failing_preset_rolls_everything_back(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An image that masks our unit: systemctl refuses to preset it after the files are written.
    masked = image_root / "etc/systemd/system/ostree-autocleanup.service"
    masked.parent.mkdir(parents=True)
    os.symlink("/dev/null", masked)
    before = tree_state(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root))
    assert result.status == 1
    assert "is masked" in result.err
    assert result.err.rstrip().endswith("; rolled back")
    assert len(result.err.strip().splitlines()) == 1
    assert tree_state(image_root) == before


def test_failing_preset_on_upgrade_restores_the_old_files(
    image_root: Path, other_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "install", "--root", str(image_root), "--no-enable").status == 0
    (image_root / "etc/systemd/system").mkdir(parents=True)
    os.symlink("/dev/null", image_root / "etc/systemd/system/ostree-autocleanup.service")
    before = tree_state(image_root)
    result = run_cli(capsys, "install", "--root", str(image_root), "-c", str(other_config))
    assert result.status == 1
    assert "rolled back" in result.err
    assert tree_state(image_root) == before


def test_modes_do_not_depend_on_the_umask(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = os.umask(0o077)
    try:
        assert run_cli(capsys, "install", "--root", str(bare_root), "--no-enable").status == 0
    finally:
        os.umask(previous)
    state = tree_state(bare_root)
    assert state[UNIT].startswith("file 0644 ")
    assert state[MANIFEST].startswith("file 0644 ")
    assert state["usr/lib/systemd/system"] == "dir 0755"
    assert state["usr/lib/ostree-autocleanup"] == "dir 0755"


def test_a_concurrent_run_in_the_same_root_is_refused(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = os.open(bare_root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        for command in ("install", "uninstall"):
            result = run_cli(capsys, command, "--root", str(bare_root))
            assert result.status == 1
            assert "another install or uninstall is running" in result.err
    finally:
        os.close(holder)
    assert os.listdir(bare_root) == []
    assert run_cli(capsys, "install", "--root", str(bare_root), "--no-enable").status == 0


def test_no_apply_preset_ships_the_preset_for_a_package_and_runs_no_systemctl(
    image_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(image_root / "nothing-here"))  # no systemctl needed
    result = run_cli(capsys, "install", "--root", str(image_root), "--no-apply-preset")
    assert result.status == 0, result.err
    assert (image_root / PRESET).is_file()
    assert not (image_root / "etc/systemd").exists()
    listed = run_cli(
        capsys, "install", "--root", str(image_root), "--no-apply-preset", "--list-files"
    )
    assert "/" + PRESET in listed.out.splitlines()
    monkeypatch.undo()
    # What the package's %post does on the target: the shipped preset enables the unit.
    assert is_enabled(image_root, "ostree-autocleanup.service") == "disabled"
    assert systemctl(image_root, "preset", "ostree-autocleanup.service").returncode == 0
    assert is_enabled(image_root, "ostree-autocleanup.service") == "enabled"


def test_no_enable_and_no_apply_preset_exclude_each_other(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "install", "--root", str(bare_root), "--no-enable", "--no-apply-preset")
    assert exit_info.value.code == 2
    assert os.listdir(bare_root) == []


def test_uninstall_removes_links_to_our_unit_that_someone_else_made(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (image_root / WANTS).mkdir(parents=True)
    before = tree_state(image_root)
    assert run_cli(capsys, "install", "--root", str(image_root), "--no-enable").status == 0
    assert systemctl(image_root, "enable", "ostree-autocleanup.service").returncode == 0
    assert (image_root / WANTS / "ostree-autocleanup.service").is_symlink()
    assert run_cli(capsys, "uninstall", "--root", str(image_root)).status == 0
    assert tree_state(image_root) == before


def test_a_packages_destdir_keeps_the_path_units_preset_line(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without ostree's units in the root, auto cannot tell the ostree the package will land on:
    # the preset keeps the line, which matches nothing where the path unit does not exist.
    result = run_cli(capsys, "install", "--root", str(bare_root), "--no-apply-preset")
    assert result.status == 0, result.err
    assert "enable ostree-finalize-staged.path" in (bare_root / PRESET).read_text()
