"""``verify`` refuses a program the unit's own sandbox hides, and systemd agrees.

The prediction (checks/visibility.py, fed with the rendered directives, overrides included) is
compared with what a real systemd manager does with the rendered service: for each place a
program can be and each override, the service either runs it or fails with 203/EXEC, and
``hidden_by`` must have said which.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ostree_autocleanup.generator.checks.visibility import hidden_by
from ostree_autocleanup.generator.cli import main
from ostree_autocleanup.generator.config.load import load_config
from ostree_autocleanup.generator.units.hardening import directives
from ostree_autocleanup.generator.units.render import render_units
from support.manager import UserManager
from support.service_case import EXPOSED

PROGRAM = "#!/bin/sh\nexit 0\n"


@pytest.fixture
def in_root_home() -> Iterator[Path]:
    """A directory under /root, where a developer's checkout or venv typically is."""
    if os.geteuid() != 0:
        pytest.skip("needs root to write under /root")
    path = Path(tempfile.mkdtemp(prefix="oa-visibility-", dir="/root"))
    yield path
    shutil.rmtree(path)


def _program(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ostree-autocleanup-helper"
    path.write_text(PROGRAM)
    path.chmod(0o755)
    return path


# (where the program is, the sandbox.directives override). The directory names stand for:
# TMP a directory under /tmp, HOME one under /root, SRV one that the manager exposes.
CASES = [
    ("TMP", ""),
    ("TMP", "PrivateTmp: 'no'"),
    ("HOME", ""),
    ("HOME", "ProtectHome: read-only"),
    ("HOME", "ProtectHome: tmpfs"),
    ("HOME", "BindReadOnlyPaths: HOME"),
    ("HOME", "[ProtectHome: tmpfs, BindReadOnlyPaths: HOME]"),
    ("SRV", "[TemporaryFileSystem: SRVPARENT, BindReadOnlyPaths: SRV]"),
    ("SRV", "[InaccessiblePaths: SRVPARENT, BindReadOnlyPaths: SRV]"),
    ("SRV", ""),
    ("SRV", "InaccessiblePaths: SRV"),
    ("SRV", "InaccessiblePaths: '-SRV'"),
    ("SRV", "TemporaryFileSystem: 'SRV:ro'"),
    ("SRV", "NoExecPaths: SRV"),
    ("SRV", "[NoExecPaths: SRVPARENT, ExecPaths: SRV]"),
]


@pytest.mark.root
@pytest.mark.manager
@pytest.mark.parametrize(("where", "override"), CASES)
def test_the_prediction_matches_what_systemd_does(
    manager: UserManager,
    exposed_dir: Path,
    tmp_path: Path,
    in_root_home: Path,
    where: str,
    override: str,
) -> None:
    case = f"vis{abs(hash((where, override))) % 10**8}"
    host = exposed_dir / case
    (host / "sysroot").mkdir(parents=True)
    (host / "sysroot/.cleanup").write_text("")
    places = {
        "TMP": (tmp_path / "bin", str(tmp_path / "bin")),
        "HOME": (in_root_home / "bin", str(in_root_home / "bin")),
        "SRV": (host / "progs/bin", f"{EXPOSED}/{case}/progs/bin"),
    }
    host_dir, seen_dir = places[where]
    _program(host_dir)
    helper = f"{seen_dir}/ostree-autocleanup-helper"
    text = override.replace("SRVPARENT", f"{EXPOSED}/{case}/progs").replace("SRV", seen_dir)
    text = text.replace("HOME", seen_dir)
    if text.startswith("["):
        text = "\n".join(f"    {item.strip()}" for item in text.strip("[]").split(","))
    elif text:
        text = f"    {text}"
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        f"version: 1\nsysroot: {EXPOSED}/{case}/sysroot\n"
        f"cleanup:\n  helper-path: {helper}\n"
        + (f"sandbox:\n  directives:\n{text}\n" if text else "")
    )
    config = load_config([str(config_path)])
    predicted = hidden_by(helper, directives(config))

    units = render_units(config)
    manager.install_unit(config.unit_name, units[config.unit_name])
    outcome = manager.start(config.unit_name)
    ran = outcome.succeeded
    assert ran == (predicted is None), (
        f"predicted {predicted!r}, systemd: {outcome.result} {outcome.exec_main_status}\n"
        f"{outcome.log}"
    )
    if not ran:
        assert outcome.exec_main_status == 203, outcome  # EXEC: the program was not there


# -- the command ---------------------------------------------------------------------------


def _verify(tmp_path: Path, helper: str, extra: str = "", *args: str) -> tuple[int, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"version: 1\ncleanup:\n  helper-path: {helper}\n{extra}")
    return main(["verify", "-c", str(config), *args]), str(config)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_verify_refuses_a_helper_that_protect_home_hides(
    tmp_path: Path, in_root_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helper = str(_program(in_root_home / "venv/bin"))
    status, _ = _verify(tmp_path, helper)
    out = capsys.readouterr().out
    assert status == 1
    # Both units run it, and both hide /root: the cleanup's rendered sandbox, and the finalize
    # unit's own ProtectHome=yes (ostree's unit has it; so does the stand-in).
    assert (
        f"problem: ostree-autocleanup.service: {helper} cannot run there: ProtectHome=yes "
        "makes /root inaccessible to the service"
    ) in out
    assert f"problem: 50-ostree-autocleanup.conf: {helper} cannot run there" in out
    assert "hint: install the program where the unit's sandbox lets it run" in out

    # An override that keeps /root visible clears the service; ostree's unit still hides it.
    status, _ = _verify(tmp_path, helper, "sandbox:\n  directives:\n    ProtectHome: read-only\n")
    out = capsys.readouterr().out
    assert status == 1
    assert "problem: ostree-autocleanup.service:" not in out
    assert "problem: 50-ostree-autocleanup.conf:" in out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_verify_refuses_a_helper_under_tmp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helper = str(_program(tmp_path / "bin"))
    status, _ = _verify(tmp_path, helper)
    out = capsys.readouterr().out
    assert status == 1
    assert "PrivateTmp=yes hides what is under /tmp from the service" in out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_a_missing_helper_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = _verify(tmp_path, "/usr/bin/ostree-autocleanup-helper")
    out = capsys.readouterr().out
    if status == 0:
        pytest.skip("this machine has /usr/bin/ostree-autocleanup-helper")
    assert "is not an executable file on this machine" in out
    hints = [line for line in out.splitlines() if line.startswith("  hint: ")]
    assert len(hints) == 1  # once, not once per unit
    assert "cleanup.helper-path" in hints[0]
    assert "`ostree-autocleanup install` installs only the units" in hints[0]
    assert "install ostree-autocleanup where the units will run" in hints[0]
