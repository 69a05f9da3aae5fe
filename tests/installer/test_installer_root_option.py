"""--root: required where a command writes, never empty, and a root that is not there is bad usage.

An image build whose script lost its ``--root "$BUILDROOT"`` must fail before it changes the
build host; an empty ``--root ''`` (an unset variable) must not mean the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from installer_support import run_process, tree_state

# Commands and whether --root is required for them (the ones that write into a root).
REQUIRED = ("install", "uninstall")
OPTIONAL = ("render", "verify", "status")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty current directory: what a command given no or an empty root would write to."""
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def _run(workdir: Path, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = run_process(*argv, cwd=str(workdir), stdin=stdin)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("command", REQUIRED)
def test_install_and_uninstall_without_root_are_refused(workdir: Path, command: str) -> None:
    manifest = "/usr/lib/ostree-autocleanup/install-manifest.json"
    had_manifest = os.path.lexists(manifest)
    status, out, err = _run(workdir, command, "--no-enable" if command == "install" else "-h")
    if command == "uninstall":  # -h only proves the option is documented as required
        assert status == 0
        assert "--root DIR" in out and "required" in out
        status, out, err = _run(workdir, command)
    assert status == 2, out + err
    assert "the following arguments are required: --root" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
    assert os.listdir(workdir) == []
    # The build host was not touched either.
    assert os.path.lexists(manifest) == had_manifest


@pytest.mark.parametrize("command", REQUIRED + OPTIONAL)
def test_an_empty_root_is_refused_everywhere(workdir: Path, command: str) -> None:
    status, out, err = _run(workdir, command, "--root", "")
    assert status == 2, out + err
    assert "argument --root: an empty root is refused" in err
    assert "/ for the running system" in err
    assert os.listdir(workdir) == []


@pytest.mark.parametrize("command", ("render", "verify", "status", "install", "uninstall"))
@pytest.mark.parametrize("with_config", [False, True])
def test_a_root_that_does_not_exist_is_bad_usage(
    workdir: Path, tmp_path: Path, command: str, with_config: bool
) -> None:
    # Also when -c means the root's own config is not read: the root is still the target.
    missing = tmp_path / "no-such-root"
    config = tmp_path / "config.yaml"
    config.write_text("version: 1\n")
    extra = ["-c", str(config)] if with_config and command != "uninstall" else []
    status, out, err = _run(workdir, command, "--root", str(missing), *extra)
    assert status == 2, out + err
    assert err.strip() == f"ostree-autocleanup: error: {missing}: root directory does not exist"
    assert out == ""
    assert not missing.exists()


def test_root_slash_is_the_running_system_for_a_dry_run(workdir: Path) -> None:
    # --root / is accepted: it is how the running system is named. A dry run shows it.
    status, out, err = _run(workdir, "install", "--root", "/", "--dry-run", "--no-enable")
    assert status == 0, err
    assert "would create /usr/lib/systemd/system/ostree-autocleanup.service" in out or (
        "would replace /usr/lib/systemd/system/ostree-autocleanup.service" in out
    )
    assert os.listdir(workdir) == []


def test_uninstall_of_a_root_needs_the_root_not_the_cwd(
    bare_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Running from inside the root without --root is refused, not taken as "here".
    assert _run(bare_root, "install", "--root", ".", "--no-enable")[0] == 0
    state = tree_state(bare_root)
    status, _, err = _run(bare_root, "uninstall")
    assert status == 2, err
    assert tree_state(bare_root) == state
